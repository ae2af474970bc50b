// Row 7's baseline: a bare node:https server answering a fixed AdmissionReview response (given as
// a JSON file: status, headers, body) with the webhook's certificate. With --parse it first reads
// and JSON.parses the request body: the least any webhook must do (reported beside the baseline).
//   node bare-https.mjs <answer.json> <cert.pem> <key.pem> [--parse]   → prints {"event":"ready","port":N}
import https from 'node:https';
import { readFileSync } from 'node:fs';

const [answerFile, certFile, keyFile, mode] = process.argv.slice(2);
const parse = mode === '--parse';
const answer = JSON.parse(readFileSync(answerFile, 'utf8'));
const body = Buffer.from(answer.body, 'utf8');
const headers = { ...answer.headers, 'content-length': body.length };

const server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => {
    if (parse) chunks.push(c);
  });
  req.on('end', () => {
    if (parse && typeof JSON.parse(Buffer.concat(chunks).toString('utf8')).request !== 'object') {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(answer.status ?? 200, headers);
    res.end(body);
  });
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: server.address().port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
