// Floor for HTTP/1.1: a bare node:http server that reads each request body to
// its end and answers with a fixed reply: the PredictResponse as Connect JSON,
// or, when the request is gRPC-Web, the same message as a gRPC-Web body (one
// message frame, then a trailer frame "grpc-status:0"). No routing, parsing,
// validation or auth: the cost of node:http alone. Plain JavaScript run by
// plain `node`, like the grpc-js reference.
//
//   node bench/targets/http-json-floor.mjs <grpc-web-body-base64> <reply-json-base64>
// Prints "LISTENING <port>" once bound to 127.0.0.1 on a free port.
import * as http from "node:http";

const grpcWeb = Buffer.from(process.argv[2] ?? "", "base64");
const json = Buffer.from(process.argv[3] ?? "e30=", "base64");

const server = http.createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    const web = (req.headers["content-type"] ?? "").startsWith("application/grpc-web");
    const body = web ? grpcWeb : json;
    res.writeHead(200, { "content-type": web ? "application/grpc-web+proto" : "application/json", "content-length": body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") console.log(`LISTENING ${address.port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
