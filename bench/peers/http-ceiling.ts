/**
 * The HTTP ceiling: bare node:http that reads each POST body to its end (as any
 * server must) and answers with one fixed body, the `product(id)` response of
 * one real product, handed over by the bench in CEILING_BODY. No GraphQL, no
 * data: what this machine's Node HTTP stack and loopback allow, which no server
 * with real work to do can beat. GET /healthz answers for the bench.
 *
 * Environment: CEILING_BODY, PORT, HOST.
 */
import { createServer } from 'node:http';

const env = process.env;
const body = Buffer.from(env['CEILING_BODY'] ?? '', 'utf8');
if (body.length === 0) {
  console.error('The http-ceiling peer needs CEILING_BODY');
  process.exit(2);
}
// The head freshgraph sends for a complete response, in one write with the body.
const head = ['content-type', 'application/json; charset=utf-8', 'content-length', String(body.length)];

const server = createServer((req, res) => {
  if (req.method === 'POST') {
    req.resume();
    req.once('end', () => {
      res.writeHead(200, head);
      res.end(body);
    });
    return;
  }
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(req.url === '/healthz' ? '{"status":"ok"}' : '{}');
});
server.keepAliveTimeout = 65_000;
server.listen(Number(env['PORT'] ?? 4000), env['HOST'] ?? '127.0.0.1');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
