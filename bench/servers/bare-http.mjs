// The runtime's floor for row 1: a bare node:http server answering fixed bytes (status, headers
// and body given as a JSON file), with the same server timeouts as the sidecar's endpoint.
//   node bare-http.mjs <answer.json>   → prints {"event":"ready","port":N}
import http from 'node:http';
import { readFileSync } from 'node:fs';

const answer = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const body = Buffer.from(answer.body, 'utf8');
const headers = { ...answer.headers, 'content-length': body.length };

const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(answer.status ?? 200, headers);
  res.end(body);
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: server.address().port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
