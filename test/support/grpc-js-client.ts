// A @grpc/grpc-js client for any unary method, built from the generated
// descriptors (no .proto loading), as an internal Node service would call us.
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary, type DescMessage, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { createRegistry } from "@bufbuild/protobuf";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { BadRequestSchema, RetryInfoSchema, type BadRequest, type RetryInfo } from "../../gen/google/rpc/error_details_pb.js";

export interface GrpcJsResult<O> {
  message?: O;
  error?: grpc.ServiceError;
  /** Response headers. */
  header?: grpc.Metadata;
  /** google.rpc.BadRequest from grpc-status-details-bin, if any. */
  badRequest?: BadRequest;
  /** google.rpc.RetryInfo from grpc-status-details-bin, if any. */
  retryInfo?: RetryInfo;
}

export function grpcJsClient(address: string, credentials = grpc.credentials.createInsecure()) {
  const client = new grpc.Client(address, credentials);
  return {
    client,
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethod & { input: I; output: O },
      request: MessageShape<I>,
      options: { metadata?: Record<string, string>; deadlineMs?: number } = {},
    ): Promise<GrpcJsResult<MessageShape<O>>> {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
      const path = `/${method.parent.typeName}/${method.name}`;
      return new Promise((resolve) => {
        const result: GrpcJsResult<MessageShape<O>> = {};
        const call = client.makeUnaryRequest(
          path,
          (m: MessageShape<I>) => Buffer.from(toBinary(method.input, m)),
          (b: Buffer) => fromBinary(method.output, b),
          request,
          md,
          options.deadlineMs !== undefined ? { deadline: Date.now() + options.deadlineMs } : {},
          (err, message) => {
            if (err) {
              result.error = err;
              result.badRequest = detailOf(err.metadata, BadRequestSchema);
              result.retryInfo = detailOf(err.metadata, RetryInfoSchema);
            } else result.message = message;
            resolve(result);
          },
        );
        call.on("metadata", (h) => (result.header = h));
      });
    },
    close: () => client.close(),
  };
}

const registry = createRegistry(BadRequestSchema, RetryInfoSchema);

function detailOf<T extends DescMessage>(md: grpc.Metadata | undefined, schema: T): MessageShape<T> | undefined {
  const bin = md?.get("grpc-status-details-bin")[0];
  if (!bin) return undefined;
  const status = fromBinary(StatusSchema, bin as Buffer);
  for (const any of status.details) {
    const msg = anyUnpack(any, registry);
    if (msg && msg.$typeName === schema.typeName) return msg as MessageShape<T>;
  }
  return undefined;
}
