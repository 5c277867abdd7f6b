// The OpenAPI 3.1 document: one POST operation per unary method (Connect's
// JSON endpoints; streaming methods have no plain-JSON form), the Connect
// error body with its details, and the API key as a security scheme.
import type { DescFile, DescMethod } from "@bufbuild/protobuf";
import { describe, fileHeader, summary } from "./comments.js";
import { findRulesExtension } from "./field-rules.js";
import { ref, SchemaSet, type JsonSchema } from "./schemas.js";

export interface DocumentOptions {
  out: string;
  /** Services whose calls need the API key. */
  secured: string[];
  title: string;
}

const RULES_EXTENSION = "prediction.v1.rules";
const ERROR = "connect.Error";
const BAD_REQUEST = "google.rpc.BadRequest";

// The Connect protocol's HTTP status for each code a client should expect.
const ERROR_STATUSES: Array<[string, string]> = [
  ["400", "`invalid_argument`: a field breaks a rule (see the `google.rpc.BadRequest` detail), or the body is malformed."],
  ["401", "`unauthenticated`: missing or wrong API key."],
  ["404", "`not_found`: unknown model or model version."],
  ["408", "`deadline_exceeded`: the deadline (`Connect-Timeout-Ms`) passed."],
  ["429", "`resource_exhausted`: the model's queue is full or the message is too large; retry with backoff."],
  ["500", "`internal`: inference failed."],
  ["503", "`unavailable`: the model is not loaded yet; retry later."],
];

export function openApiDocument(files: readonly DescFile[], allFiles: readonly DescFile[], options: DocumentOptions): JsonSchema {
  const schemas = new SchemaSet(findRulesExtension(allFiles, RULES_EXTENSION));
  const badRequest = allFiles.flatMap((f) => f.messages).find((m) => m.typeName === BAD_REQUEST);
  if (badRequest) schemas.add(badRequest);
  const secured = new Set(options.secured);
  const paths: Record<string, JsonSchema> = {};
  const tags: JsonSchema[] = [];
  // The file declaring a secured service is the API proper: it comes first and names the document.
  const withServices = files.filter((f) => f.services.length > 0);
  const main = withServices.find((f) => f.services.some((s) => secured.has(s.typeName))) ?? withServices[0];
  const ordered = main ? [main, ...withServices.filter((f) => f !== main)] : [];
  for (const file of ordered) {
    for (const service of file.services) {
      const unary = service.methods.filter((m) => m.methodKind === "unary");
      if (unary.length === 0) continue;
      tags.push({ name: service.typeName, description: describe(service) });
      for (const method of unary) paths[`/${service.typeName}/${method.name}`] = { post: operation(method, schemas, secured.has(service.typeName)) };
    }
  }
  return {
    openapi: "3.1.0",
    info: { title: options.title, version: main?.proto.package ?? "", description: main && fileHeader(main) },
    servers: [{ url: "/", description: "This server" }],
    tags,
    paths,
    components: {
      schemas: { ...schemas.schemas, [ERROR]: errorSchema(Boolean(badRequest)) },
      responses: Object.fromEntries(ERROR_STATUSES.map(([status, text]) => [status, errorResponse(text)])),
      securitySchemes: {
        apiKey: { type: "apiKey", in: "header", name: "x-api-key", description: "An API key from the server's API_KEYS." },
        bearer: { type: "http", scheme: "bearer", description: "The same key as `Authorization: Bearer <key>`." },
      },
    },
  };
}

function operation(method: DescMethod, schemas: SchemaSet, secured: boolean): JsonSchema {
  const text = describe(method);
  const statuses = ERROR_STATUSES.filter(([status]) => secured || status !== "401");
  return {
    operationId: `${method.parent.name}_${method.name}`,
    tags: [method.parent.typeName],
    summary: summary(text) ?? method.name,
    ...(text ? { description: text } : {}),
    // Either scheme; an empty list says the call needs none.
    security: secured ? [{ apiKey: [] }, { bearer: [] }] : [],
    parameters: [
      { name: "Connect-Protocol-Version", in: "header", required: false, schema: { type: "string", enum: ["1"] }, description: "Connect protocol version." },
      {
        name: "Connect-Timeout-Ms",
        in: "header",
        required: false,
        schema: { type: "integer", minimum: 1 },
        description: "Deadline for the call, in milliseconds.",
      },
    ],
    requestBody: { required: true, content: { "application/json": { schema: schemas.add(method.input) } } },
    responses: {
      "200": { description: "Success.", content: { "application/json": { schema: schemas.add(method.output) } } },
      ...Object.fromEntries(statuses.map(([status]) => [status, { $ref: `#/components/responses/${status}` }])),
    },
  };
}

function errorResponse(description: string): JsonSchema {
  return { description, content: { "application/json": { schema: ref(ERROR) } } };
}

/** The Connect protocol's error body. */
function errorSchema(withBadRequest: boolean): JsonSchema {
  const codes = [
    "canceled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
  ];
  return {
    type: "object",
    description: "The error body of every failed call (Connect protocol).",
    required: ["code"],
    properties: {
      code: { type: "string", enum: codes, description: "The error code, in snake_case." },
      message: { type: "string", description: "What went wrong, for a person. For `invalid_argument`, names every bad field." },
      details: {
        type: "array",
        description: "Machine-readable details. An `invalid_argument` for a rule carries one `google.rpc.BadRequest`.",
        items: {
          type: "object",
          required: ["type", "value"],
          properties: {
            type: { type: "string", description: "Full name of the detail's message type, e.g. `google.rpc.BadRequest`.", examples: ["google.rpc.BadRequest"] },
            value: { type: "string", contentEncoding: "base64", description: "The detail in the protobuf binary format, base64 without padding." },
            debug: withBadRequest
              ? { ...ref(BAD_REQUEST), description: "The same detail as JSON, for reading; decode `value` to rely on it." }
              : { type: "object" },
          },
        },
      },
    },
  };
}
