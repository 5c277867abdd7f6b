// Floor for gRPC over h2c: a bare node:http2 server that reads each request
// body to its end and answers every stream with the same pre-encoded gRPC
// body (one length-prefixed message), then trailers grpc-status 0. No
// routing, no protobuf decoding, no auth: the cost of HTTP/2 + framing alone.
// Plain JavaScript run by plain `node`, like the grpc-js reference.
//
//   node bench/targets/h2-grpc-floor.mjs <reply-body-base64>
// Prints "LISTENING <port>" once bound to 127.0.0.1 on a free port.
import * as http2 from "node:http2";

const reply = Buffer.from(process.argv[2] ?? "", "base64");

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on("stream", (stream) => {
  stream.on("data", () => {});
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(reply);
  });
  stream.on("error", () => {});
});
server.on("sessionError", () => {});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") console.log(`LISTENING ${address.port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
