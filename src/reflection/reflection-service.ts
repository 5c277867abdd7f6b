import { create, createFileRegistry, toBinary, type DescFile, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

// google.rpc.Code values sent in error_response; the stream stays open.
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/** A request of either protocol version: they differ only in their package name. */
type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;

/**
 * The message_response oneof as a plain init object. Having no $typeName, it
 * is a valid initializer for the v1 and the v1alpha response alike, so the
 * answering logic below is written once.
 */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Registers grpc.reflection.v1.ServerReflection and its v1alpha predecessor
 * (still the first or only one many clients try) for the given files; their
 * transitive dependencies are served too. Use it as, or inside, the `routes`
 * option of a Connect adapter.
 */
export function createReflectionServices(files: DescFile[]): (router: ConnectRouter) => void {
  const answer = createReflectionAnswerer(files);
  async function* serverReflectionInfo<R extends ReflectionRequest>(requests: AsyncIterable<R>) {
    for await (const request of requests) {
      // One response per request, in order; clients match them by position.
      yield { validHost: request.host, originalRequest: request, messageResponse: answer(request) };
    }
  }
  return (router) => {
    router.service(v1.ServerReflection, { serverReflectionInfo });
    router.service(v1alpha.ServerReflection, { serverReflectionInfo });
  };
}

/** The protocol logic: maps one request to its answer, independent of the version. */
export function createReflectionAnswerer(files: DescFile[]): (request: ReflectionRequest) => ReflectionAnswer {
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: withDependencies(files).map((f) => f.proto) }));
  const symbols = indexSymbols(registry);
  const services = [...new Set(files.flatMap((f) => f.services.map((s) => s.typeName)))].map((name) => ({ name }));
  const encoded = new Map<string, Uint8Array>();
  const encode = (file: DescFile) => {
    let bytes = encoded.get(file.proto.name);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      encoded.set(file.proto.name, bytes);
    }
    return bytes;
  };
  // The requested file first (some clients take the first file as the one they
  // asked for), then everything it imports, so that a client can build a
  // complete descriptor pool from a single answer; reversed, the list is in
  // import order, as a FileDescriptorSet wants it. Sent in full
  // every time rather than skipping files already sent on the stream: the
  // answer then stands on its own, at the cost of a few kilobytes.
  const fileAnswer = (file: DescFile): ReflectionAnswer => ({
    case: "fileDescriptorResponse",
    value: { fileDescriptorProto: withDependencies([file]).reverse().map(encode) },
  });
  const notFound = (errorMessage: string): ReflectionAnswer => ({
    case: "errorResponse",
    value: { errorCode: NOT_FOUND, errorMessage },
  });

  return (request) => {
    const { case: kind, value } = request.messageRequest;
    switch (kind) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: services } };
      case "fileByFilename": {
        const file = registry.getFile(value);
        return file ? fileAnswer(file) : notFound(`file not found: ${value}`);
      }
      case "fileContainingSymbol": {
        // Tolerate the leading dot of a fully qualified name in descriptor form.
        const file = symbols.get(value.replace(/^\./, ""));
        return file ? fileAnswer(file) : notFound(`symbol not found: ${value}`);
      }
      case "fileContainingExtension": {
        const extendee = registry.getMessage(value.containingType);
        const extension = extendee && registry.getExtensionFor(extendee, value.extensionNumber);
        return extension ? fileAnswer(extension.file) : notFound(`extension ${value.extensionNumber} of ${value.containingType} not found`);
      }
      case "allExtensionNumbersOfType": {
        if (!registry.getMessage(value)) return notFound(`message type not found: ${value}`);
        const numbers: number[] = [];
        for (const type of registry) {
          if (type.kind === "extension" && type.extendee.typeName === value) numbers.push(type.number);
        }
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: value, extensionNumber: numbers.sort((a, b) => a - b) },
        };
      }
      default:
        return {
          case: "errorResponse",
          value: { errorCode: INVALID_ARGUMENT, errorMessage: "empty or unsupported message_request" },
        };
    }
  };
}

/** The files and all their transitive imports, each once, every import before its importer. */
function withDependencies(files: DescFile[]): DescFile[] {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile) => {
    if (seen.has(file.proto.name)) return;
    seen.add(file.proto.name);
    file.dependencies.forEach(visit);
    ordered.push(file);
  };
  files.forEach(visit);
  return ordered;
}

/**
 * Fully qualified symbol name → defining file, for every name a client may
 * ask file_containing_symbol about: types (nested ones included), services,
 * methods, fields, oneofs and enum values. Enum values are scoped like
 * their enum's siblings (`pkg.VALUE`), as in protobuf itself.
 */
function indexSymbols(registry: FileRegistry): Map<string, DescFile> {
  const symbols = new Map<string, DescFile>();
  for (const type of registry) {
    symbols.set(type.typeName, type.file);
    switch (type.kind) {
      case "service":
        for (const method of type.methods) symbols.set(`${type.typeName}.${method.name}`, type.file);
        break;
      case "message":
        for (const member of [...type.fields, ...type.oneofs]) {
          symbols.set(`${type.typeName}.${member.name}`, type.file);
        }
        break;
      case "enum": {
        const scope = type.parent?.typeName ?? type.file.proto.package;
        for (const value of type.values) {
          symbols.set(scope ? `${scope}.${value.name}` : value.name, type.file);
        }
        break;
      }
    }
  }
  return symbols;
}
