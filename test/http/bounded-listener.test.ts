import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bound, refusalResponse, serverOptions, type ListenerLimits, type ShedReason } from '../../src/http/bounded-listener.js';

const LIMITS: ListenerLimits = {
  maxConnections: 2,
  maxBufferedBytes: 1024,
  maxHeaderBytes: 8 * 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};
const REFUSAL = refusalResponse('full; retry shortly');
const REQUEST = 'GET / HTTP/1.1\r\nHost: test\r\n\r\n';

/** A raw keep-alive client: what it has read so far, and whether the server closed it. */
interface Client {
  socket: net.Socket;
  text: () => string;
  closed: Promise<void>;
  /** resolves when the text read so far matches */
  waitFor: (pattern: RegExp) => Promise<string>;
}

function connect(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const waiters: { pattern: RegExp; done: (t: string) => void }[] = [];
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      for (const w of [...waiters]) if (w.pattern.test(text)) waiters.splice(waiters.indexOf(w), 1) && w.done(text);
    });
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () =>
      resolve({
        socket,
        text: () => text,
        closed,
        waitFor: (pattern) => (pattern.test(text) ? Promise.resolve(text) : new Promise((done) => waiters.push({ pattern, done }))),
      }),
    );
    socket.once('error', reject);
  });
}

let server: http.Server | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A bounded server whose handler calls `answer` (now, or later); the reasons it shed connections. */
async function start(answer: (res: http.ServerResponse) => void): Promise<{ port: number; shed: ShedReason[]; requests: () => number }> {
  const shed: ShedReason[] = [];
  let requests = 0;
  server = http.createServer(serverOptions(LIMITS), (req, res) => {
    requests++;
    req.resume();
    answer(res);
  });
  bound(server, LIMITS, { refusal: REFUSAL, onShed: (r) => shed.push(r) });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, shed, requests: () => requests };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}

describe('bound: which connection makes room at the limit', () => {
  it('closes the oldest idle keep-alive connection (its response finished) for a newcomer, which is served', async () => {
    const s = await start((res) => res.end('ok'));
    const a = await connect(s.port);
    const b = await connect(s.port);
    clients.push(a, b);
    a.socket.write(REQUEST);
    await a.waitFor(/\r\n\r\nok$/);
    b.socket.write(REQUEST);
    await b.waitFor(/\r\n\r\nok$/);
    const c = await connect(s.port);
    clients.push(c);
    c.socket.write(REQUEST);
    await c.waitFor(/\r\n\r\nok$/);
    await a.closed;
    expect(s.shed).toEqual(['evicted']);
    expect(b.socket.destroyed).toBe(false);
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('never closes a connection whose response is still being written: the newcomer gets the refusal', async () => {
    const held: http.ServerResponse[] = [];
    const s = await start((res) => held.push(res));
    const a = await connect(s.port);
    const b = await connect(s.port);
    clients.push(a, b);
    a.socket.write(REQUEST);
    b.socket.write(REQUEST);
    await until(() => held.length === 2);
    // both responses begun, neither finished
    for (const res of held) res.write('partial ');
    await a.waitFor(/partial/);
    await b.waitFor(/partial/);
    const c = await connect(s.port);
    clients.push(c);
    await c.closed;
    expect(c.text()).toBe(REFUSAL);
    expect(s.shed).toEqual(['refused']);
    for (const res of held) res.end('done');
    await a.waitFor(/partial [\s\S]*done/);
    await b.waitFor(/partial [\s\S]*done/);
    expect(s.requests()).toBe(2);
  });
});
