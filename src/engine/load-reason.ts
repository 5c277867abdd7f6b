// What clients see of a failed load (ListModels, GetModelMetadata): the
// reason with every file path cut to its last part, since a path tells any
// key holder how the server is laid out. The log keeps the whole error.

// A path: absolute, ./ ../ ~/ or drive-relative, or relative with two or more separators.
const PATH = /(?<![\w.@+-])(?:(?:[A-Za-z]:[\\/]|\.{1,2}[\\/]|~[\\/]|[\\/])(?:[\w.@+-]+[\\/])*[\w.@+-]+|[\w.@+-]+(?:[\\/][\w.@+-]+){2,})/g;

/** `message` with each file path replaced by its file name, e.g. ".../loan/1/model.onnx: bad" -> "model.onnx: bad". */
export function withoutPaths(message: string): string {
  return message.replace(PATH, (path) => path.split(/[\\/]/).pop() ?? "");
}
