// Server reflection over a real HTTP/2 socket, called by @grpc/grpc-js, by
// Connect's gRPC transport, and by `buf curl` as a real reflection client.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, createFileRegistry, fromBinary, getExtension, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type ConnectRouter } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { grpcJsServiceClient, startRouteServer } from "./support/route-server.js";
import type * as grpc from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { file_grpc_health_v1_health, Health } from "../gen/grpc/health/v1/health_pb.js";
import * as v1 from "../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_prediction_v1_prediction_service } from "../gen/prediction/v1/prediction_service_pb.js";
import { createHealthService } from "../src/health/health-service.js";
import { HealthStatus } from "../src/health/health-status.js";
import { createReflectionServices } from "../src/reflection/reflection-service.js";

const SERVICES = [
  "prediction.v1.PredictionService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
];

// Everything a test starts, closed after it whether it passed or not.
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const startServer = (routes: (router: ConnectRouter) => void) => startRouteServer(routes, cleanups);

const grpcJsClient = (service: DescService, address: string) => grpcJsServiceClient(service, address, cleanups);

// A v1 request init is a valid v1alpha one too: same fields, no $typeName.
type RequestInit = MessageInitShape<typeof v1.ServerReflectionRequestSchema>;
type Response = v1.ServerReflectionResponse | v1alpha.ServerReflectionResponse;

/** One grpc-js reflection stream, asked one request at a time. */
function openGrpcJsStream(service: DescService, address: string) {
  const call: grpc.ClientDuplexStream<RequestInit, Response> = grpcJsClient(service, address).serverReflectionInfo();
  cleanups.push(() => call.end());
  const responses = call[Symbol.asyncIterator]() as AsyncIterator<Response>;
  return async (request: RequestInit): Promise<Response> => {
    call.write(request);
    const result = await responses.next();
    if (result.done) throw new Error("reflection stream ended");
    return result.value;
  };
}

/** Rebuilds a registry from a file_descriptor_response, as a reflection client would. */
function registryFrom(response: Response) {
  expect(response.messageResponse.case).toBe("fileDescriptorResponse");
  const bytes = response.messageResponse.case === "fileDescriptorResponse" ? response.messageResponse.value.fileDescriptorProto : [];
  const files = bytes.map((b) => fromBinary(FileDescriptorProtoSchema, b));
  // The server sends the requested file first and its imports after it,
  // importers before imports; a FileDescriptorSet wants the reverse.
  return { names: files.map((f) => f.name), registry: createFileRegistry(create(FileDescriptorSetSchema, { file: files.reverse() })) };
}

function errorOf(response: Response) {
  expect(response.messageResponse.case).toBe("errorResponse");
  return response.messageResponse.case === "errorResponse" ? response.messageResponse.value : undefined;
}

let address: string;
beforeEach(async () => {
  const reflectionFiles = [
    file_prediction_v1_prediction_service,
    file_grpc_health_v1_health,
    v1.file_grpc_reflection_v1_reflection,
    v1alpha.file_grpc_reflection_v1alpha_reflection,
  ];
  address = await startServer((router) => {
    router.service(Health, createHealthService(new HealthStatus()));
    createReflectionServices(reflectionFiles)(router);
  });
});

describe.each([
  ["v1", v1.ServerReflection],
  ["v1alpha", v1alpha.ServerReflection],
])("reflection %s over grpc-js", (_, service) => {
  it("lists the services and echoes host and request", async () => {
    const ask = openGrpcJsStream(service, address);
    const response = await ask({ host: "example", messageRequest: { case: "listServices", value: "*" } });
    expect(response.validHost).toBe("example");
    expect(response.originalRequest?.messageRequest).toEqual({ case: "listServices", value: "*" });
    expect(response.messageResponse.case).toBe("listServicesResponse");
    const names = response.messageResponse.case === "listServicesResponse" ? response.messageResponse.value.service.map((s) => s.name) : [];
    expect(names.sort()).toEqual([...SERVICES].sort());
  });

  it("answers NOT_FOUND for an unknown symbol, then keeps serving the stream", async () => {
    const ask = openGrpcJsStream(service, address);
    const error = errorOf(await ask({ messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } }));
    expect(error?.errorCode).toBe(5);
    expect(error?.errorMessage).toContain("no.such.Thing");

    const { names } = registryFrom(await ask({ messageRequest: { case: "fileContainingSymbol", value: "prediction.v1.PredictionService" } }));
    expect(names[0]).toBe("prediction/v1/prediction_service.proto");
  });

  it("sends a file with all its imports, enough to rebuild the contract and its options", async () => {
    const ask = openGrpcJsStream(service, address);
    const { names, registry } = registryFrom(await ask({ messageRequest: { case: "fileContainingSymbol", value: "prediction.v1.PredictionService" } }));
    expect(names.sort()).toEqual([
      "google/protobuf/descriptor.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
      "prediction/v1/field_rules.proto",
      "prediction/v1/prediction_service.proto",
    ]);
    const predictionService = registry.getService("prediction.v1.PredictionService");
    expect(predictionService?.methods.map((m) => m.name)).toContain("Predict");

    const rules = registry.getExtension("prediction.v1.rules");
    expect(rules?.number).toBe(50701);
    const age = registry.getMessage("prediction.v1.PredictRequest")?.field.age;
    expect(age?.proto.options && rules && getExtension(age.proto.options, rules)).toMatchObject({ gte: 18, lte: 120 });
  });

  it("finds files by name, method, nested or enum symbol, and by extension", async () => {
    const ask = openGrpcJsStream(service, address);
    const first = async (request: RequestInit) => registryFrom(await ask(request)).names[0];
    expect(await first({ messageRequest: { case: "fileByFilename", value: "prediction/v1/field_rules.proto" } })).toBe("prediction/v1/field_rules.proto");
    expect(await first({ messageRequest: { case: "fileContainingSymbol", value: "prediction.v1.PredictionService.Predict" } })).toBe(
      "prediction/v1/prediction_service.proto",
    );
    expect(await first({ messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" } })).toBe(
      "grpc/health/v1/health.proto",
    );
    expect(await first({ messageRequest: { case: "fileContainingSymbol", value: "prediction.v1.LOAN_PURPOSE_HOME" } })).toBe(
      "prediction/v1/prediction_service.proto",
    );
    expect(await first({ messageRequest: { case: "fileContainingSymbol", value: "prediction.v1.rules" } })).toBe("prediction/v1/field_rules.proto");
    expect(
      await first({
        messageRequest: {
          case: "fileContainingExtension",
          value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 50701 },
        },
      }),
    ).toBe("prediction/v1/field_rules.proto");
    expect(errorOf(await ask({ messageRequest: { case: "fileByFilename", value: "nope.proto" } }))?.errorCode).toBe(5);
    expect(
      errorOf(
        await ask({
          messageRequest: {
            case: "fileContainingExtension",
            value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 1 },
          },
        }),
      )?.errorCode,
    ).toBe(5);
  });

  it("lists the extension numbers of a type", async () => {
    const ask = openGrpcJsStream(service, address);
    const response = await ask({
      messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" },
    });
    expect(response.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "google.protobuf.FieldOptions", extensionNumber: [50701, 50702] },
    });
    const unknown = await ask({ messageRequest: { case: "allExtensionNumbersOfType", value: "no.Such" } });
    expect(errorOf(unknown)?.errorCode).toBe(5);
  });
});

describe("reflection over connect's gRPC transport", () => {
  it.each([
    ["v1", v1.ServerReflection],
    ["v1alpha", v1alpha.ServerReflection],
  ])("answers %s requests in order on one stream, errors included", async (_, service) => {
    // connect-node's gRPC transport always speaks HTTP/2; it takes no httpVersion.
    const transport = createGrpcTransport({ baseUrl: `http://${address}` });
    const client = createClient(service as typeof v1.ServerReflection, transport);
    const responses: v1.ServerReflectionResponse[] = [];
    for await (const response of client.serverReflectionInfo(
      createAsyncIterable([
        { messageRequest: { case: "listServices", value: "" } },
        { messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } },
        { messageRequest: { case: "fileContainingSymbol", value: "prediction.v1.PredictRequest" } },
      ] as const),
    )) {
      responses.push(response);
    }
    expect(responses.map((r) => r.messageResponse.case)).toEqual(["listServicesResponse", "errorResponse", "fileDescriptorResponse"]);
    expect(errorOf(responses[1])?.errorCode).toBe(5);
    const { registry } = registryFrom(responses[2]);
    expect(registry.getService("prediction.v1.PredictionService")?.method.predict.name).toBe("Predict");
  });
});

describe("buf curl", () => {
  const bufCurl = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)("npx", ["buf", "curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 20_000 });
    return stdout;
  };

  it("lists the services through reflection", async () => {
    const stdout = await bufCurl("--list-services", `http://${address}`);
    expect(stdout.trim().split("\n").sort()).toEqual([...SERVICES].sort());
  });

  it("lists the methods, which needs every file and import linked", async () => {
    const stdout = await bufCurl("--list-methods", `http://${address}`);
    expect(stdout).toContain("prediction.v1.PredictionService/Predict\n");
    expect(stdout).toContain("grpc.health.v1.Health/Watch\n");
  });

  // Calling a method makes buf fetch and link the schema with Go's strict
  // descriptor validation, on each reflection version.
  it.each(["grpc-v1", "grpc-v1alpha"])("calls a method with the schema it got over %s", async (protocol) => {
    const stdout = await bufCurl("--reflect-protocol", protocol, "-d", "{}", `http://${address}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
  });
});
