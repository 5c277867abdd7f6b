// Proto comments as OpenAPI text: the comment markers' leading space goes,
// the line breaks stay (OpenAPI descriptions are CommonMark).
import type { AnyDesc, DescFile } from "@bufbuild/protobuf";
import { getComments, getSyntaxComments } from "@bufbuild/protoplugin";

export function describe(desc: Exclude<AnyDesc, DescFile>): string | undefined {
  return clean(getComments(desc).leading);
}

/** A file's header: the comment blocks above `syntax`. */
export function fileHeader(file: DescFile): string | undefined {
  const c = getSyntaxComments(file);
  return clean([...c.leadingDetached, c.leading ?? ""].join("\n\n"));
}

/** The first sentence, for an operation's summary. */
export function summary(text: string | undefined): string | undefined {
  const line = text?.split(/\n\n/)[0].replace(/\s*\n\s*/g, " ");
  return line?.match(/^.*?\.(?=\s|$)/)?.[0] ?? line;
}

function clean(text: string | undefined): string | undefined {
  const out = text
    ?.split("\n")
    .map((l) => l.replace(/^ /, "").trimEnd())
    .join("\n")
    .trim();
  return out ? out : undefined;
}
