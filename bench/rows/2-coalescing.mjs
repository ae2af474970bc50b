// Row 2: 120 concurrent first requests (one connection each: just under the endpoint's cap of
// 128 connections, ENDPOINT_LIMITS, beyond which a sidecar sheds connections by design) for a
// resource the sidecar has never seen must cost exactly one exchange at the emulator. The emulator holds that exchange for a while (a delay
// fault), so every request arrives while it is in flight: they have to share it.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { emulator, resultLine } from '../lib/context.mjs';
import { startSidecar } from '../lib/sidecar.mjs';

const REQUESTS = 120;
const RESOURCE = 'https://vault.azure.net';
const SCOPE = 'https://vault.azure.net/.default';
const HOLD_MS = 3_000;

export async function run(ctx) {
  const em = await emulator();
  // the sidecar holds one other target, so it is up and ready, but has never seen the vault
  const sidecar = await startSidecar('row2-sidecar', em, { tokens: 'storage=https://storage.azure.com/.default' });
  try {
    const before = em.exchangeCount(SCOPE);
    em.inject({ kind: 'delay', ms: HOLD_MS }, { scope: SCOPE, count: 1 });
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const url = `${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(RESOURCE)}`;
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: REQUESTS }, () => get(url, { 'x-identity-header': sidecar.identityHeader }, agent, started)));
    agent.destroy();
    const exchanges = em.exchangeCount(SCOPE) - before;
    const ok = answers.filter((a) => a.status === 200);
    const tokens = new Set(ok.map((a) => a.tokenHash));
    const sentBy = Math.max(...answers.map((a) => a.sentMs));
    const firstAnswer = Math.min(...answers.map((a) => a.doneMs));
    const pass = exchanges === 1 && ok.length === REQUESTS && tokens.size === 1 && sentBy < firstAnswer;
    ctx.log(
      `  row 2: ${REQUESTS} requests → ${exchanges} exchange(s), ${ok.length} × 200, ${tokens.size} distinct token(s); all sent by ${Math.round(sentBy)} ms, first answer at ${Math.round(firstAnswer)} ms`,
    );
    return {
      lines: [
        resultLine({
          id: '2',
          what: `coalescing: ${REQUESTS} concurrent first requests`,
          figure: exchanges,
          baseline: null,
          ratio: null,
          target: 'exactly 1 exchange',
          pass,
          unit: exchanges === 1 ? 'exchange' : 'exchanges',
          details: {
            requests: REQUESTS,
            answered200: ok.length,
            distinctTokens: tokens.size,
            exchangeHeldMs: HOLD_MS,
            lastRequestSentMs: Math.round(sentBy),
            firstAnswerMs: Math.round(firstAnswer),
            statuses: countBy(answers.map((a) => a.status)),
          },
        }),
      ],
      asserted: {
        name: `row 2: exactly 1 exchange for ${REQUESTS} concurrent first requests`,
        pass,
        detail: `${exchanges} exchanges, ${ok.length}/${REQUESTS} answered 200, ${tokens.size} distinct tokens, last request sent at ${Math.round(sentBy)} ms, first answer at ${Math.round(firstAnswer)} ms`,
      },
    };
  } finally {
    await sidecar.stop();
    await em.close();
  }
}

/** One GET; resolves with the status, a hash of the token (never the token), and timings. */
function get(url, headers, agent, t0) {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        let tokenHash;
        try {
          tokenHash = createHash('sha256')
            .update(JSON.parse(body).access_token ?? '')
            .digest('hex');
        } catch {
          tokenHash = undefined;
        }
        resolve({ status: res.statusCode, tokenHash, sentMs, doneMs: performance.now() - t0 });
      });
    });
    let sentMs = Infinity;
    req.on('finish', () => (sentMs = performance.now() - t0));
    req.on('error', (err) => resolve({ status: `error:${err.code ?? err.message}`, sentMs, doneMs: performance.now() - t0 }));
  });
}

function countBy(values) {
  const out = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
