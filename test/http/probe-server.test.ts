import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_PORT_LIMITS } from '../../src/http/bounded-listener.js';
import { createProbeServer } from '../../src/http/probe-server.js';

describe('the one probe server (sidecar and webhook health ports)', () => {
  let ready = true;
  let failScrape = false;
  const scrapeErrors: unknown[] = [];
  let scrapes = 0;
  const server = createProbeServer({
    limits: PROBE_PORT_LIMITS,
    readiness: () => ({ ready, body: { status: ready ? 'ready' : 'not ready' } }),
    registry: { contentType: 'text/plain; version=0.0.4', metrics: async () => (failScrape ? Promise.reject(new Error('collector broke')) : 'up 1\n') },
    beforeScrape: () => void scrapes++,
    onMetricsError: (err) => void scrapeErrors.push(err),
    onShed: () => undefined,
    notFound: { error: 'not_found', message: 'probes only' },
  });
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('/healthz, /readyz (200, then 503 when not ready) and /metrics, with a query, a trailing slash or in capitals', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/READYZ/?verbose=1`)).json()).toEqual({ status: 'ready' });
    ready = false;
    const r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ status: 'not ready' });
    ready = true;
    const m = await fetch(`${base}/metrics`);
    expect(m.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await m.text()).toBe('up 1\n');
    expect(scrapes).toBe(1);
  });

  it('HEAD answers without a body; another method on a probe path is 405 with Allow; any other path 404', async () => {
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`${base}/readyz`, { method: 'POST', body: 'x'.repeat(100) });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    for (const [method, path] of [
      ['GET', '/'],
      ['POST', '/msi/token'],
      ['GET', '/metadata/identity/oauth2/token'],
    ]) {
      const r = await fetch(`${base}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(await r.json()).toEqual({ error: 'not_found', message: 'probes only' });
    }
  });

  it('a failed scrape is a 500 and reaches onMetricsError; the server keeps answering', async () => {
    failScrape = true;
    const r = await fetch(`${base}/metrics`);
    expect(r.status).toBe(500);
    expect((await r.json()).error).toBe('metrics_failed');
    expect(String(scrapeErrors[0])).toContain('collector broke');
    failScrape = false;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
