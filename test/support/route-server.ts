// A bare HTTP/2 server for a few Connect routes, and a grpc-js client for any
// protobuf-es service without .proto files: for testing one service on its own.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary, type DescMessage, type DescService, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";

/** Things to close after a test; the caller runs them (e.g. in afterEach). */
export type Cleanups = (() => unknown)[];

/** Serves the routes on 127.0.0.1 port 0; returns "host:port". */
export async function startRouteServer(routes: (router: ConnectRouter) => void, cleanups: Cleanups): Promise<string> {
  const server = http2.createServer(connectNodeAdapter({ routes }));
  // server.close() waits for open sessions; clients may keep theirs alive.
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  );
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A grpc-js client for a protobuf-es service, without .proto files or codegen. */
export function grpcJsServiceClient(service: DescService, address: string, cleanups: Cleanups): InstanceType<grpc.ServiceClientConstructor> {
  const codec = (schema: DescMessage) => ({
    // create() accepts a plain init object as well as a message.
    serialize: (value: MessageInitShape<DescMessage>) => Buffer.from(toBinary(schema, create(schema, value))),
    deserialize: (bytes: Buffer) => fromBinary(schema, bytes),
  });
  const definition: Record<string, grpc.MethodDefinition<MessageInitShape<DescMessage>, Message>> = {};
  for (const method of service.methods) {
    const input = codec(method.input);
    const output = codec(method.output);
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: input.serialize,
      requestDeserialize: input.deserialize,
      responseSerialize: output.serialize,
      responseDeserialize: output.deserialize,
    };
  }
  const Client = grpc.makeGenericClientConstructor(definition, service.name);
  const client = new Client(address, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  return client;
}
