// The baseline of bench:startup: a bare connect-node server (gRPC health over
// Connect, plus GET /health) started the way Capstan is, by `npm run`, from
// compiled code. It opens no database and wires nothing else.
import http from "node:http";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../dist/gen/proto/health/v1/health_pb.js";

const adapter = connectNodeAdapter({
  routes: (router) => router.service(Health, { check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }) }),
});
http
  .createServer((req, res) => {
    if (req.url === "/health") return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"healthy"}');
    adapter(req, res);
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
