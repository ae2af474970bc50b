/**
 * Fault matrix, TLS row: the sidecar meets a server certificate it does not trust (a CA it was
 * not given, as with a TLS-intercepting proxy or a wrong NODE_EXTRA_CA_CERTS). Logged as a TLS
 * failure, counted as reason="tls", retried; the held token keeps being served.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess } from '../helpers/sidecar.js';
import {
  alive,
  metricsText,
  metricValue,
  pollEndpoint,
  readyz,
  startPair,
  tokenFile,
  waitForFailureLog,
  waitForFreshToken,
  waitForMetric,
  waitUntil,
} from './harness.js';

/**
 * A TCP relay in front of one of two TLS servers; switching closes every open connection so the
 * client's next request handshakes with the new backend.
 */
class SwitchingRelay {
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((client) => {
    const upstream = net.connect(this.backendPort, '127.0.0.1');
    this.sockets.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  constructor(private backendPort: number) {}
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as net.AddressInfo).port;
  }
  switchTo(port: number): void {
    this.backendPort = port;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const portOf = (e: Emulator): number => Number(new URL(e.url).port);

describe.concurrent('TLS failure (a certificate from a CA the sidecar does not trust)', () => {
  let stranger: Emulator;
  beforeAll(async () => {
    stranger = await startTestEmulator();
  });
  afterAll(async () => {
    await stranger?.close();
  });

  it('at start, NODE_EXTRA_CA_CERTS naming another CA: logged as TLS, not ready, no crash', async () => {
    const emulator = await startTestEmulator({ tokenLifetimeSec: 16 });
    const sidecar = await startSidecarProcess({ emulator, env: { NODE_EXTRA_CA_CERTS: stranger.caFile } });
    try {
      const line = await waitForFailureLog(sidecar, 'tls');
      expect(line.msg).toMatch(
        /^token refresh failed: TLS failure talking to Entra \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\): check AZURE_AUTHORITY_HOST and, for a private CA, NODE_EXTRA_CA_CERTS; will retry$/,
      );
      expect(line.retryable).toBe(true);
      // retried with backoff (the second attempt follows within the first backoff ceiling)
      await waitForMetric(sidecar, 'entra_sidecar_exchange_errors_total', { target: 'storage', reason: 'tls' }, 2, 15_000);
      const r = await readyz(sidecar);
      expect(r.status).toBe(503);
      expect(r.body.targets[0]?.lastError).toMatch(/TLS failure/);
      const token = await fetch(`${sidecar.endpoint}/msi/token?api-version=2019-08-01&resource=https://storage.azure.com/`, {
        headers: { 'X-IDENTITY-HEADER': sidecar.identityHeader },
      });
      expect(token.status).toBe(503);
      expect(token.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(emulator.exchanges.length, 'no request got through the handshake').toBe(0);
      expect(alive(sidecar)).toBe(true);
    } finally {
      await sidecar.stop('SIGKILL');
      await emulator.close();
    }
  });

  it('mid-life, the server starts presenting an untrusted certificate: held token served, TLS logged, recovers', async () => {
    const emulator = await startTestEmulator({ tokenLifetimeSec: 16 });
    const relay = new SwitchingRelay(portOf(emulator));
    const relayPort = await relay.listen();
    const pair = await startPair({ sharedEmulator: emulator, sidecar: { env: { AZURE_AUTHORITY_HOST: `https://127.0.0.1:${relayPort}` } } });
    const { sidecar } = pair;
    try {
      relay.switchTo(portOf(stranger));
      const poll = pollEndpoint(sidecar);
      const line = await waitForFailureLog(sidecar, 'tls');
      expect(line.msg).toMatch(
        /^token refresh failed: TLS failure talking to Entra \(.+\): check AZURE_AUTHORITY_HOST and, for a private CA, NODE_EXTRA_CA_CERTS; will retry$/,
      );
      await waitForMetric(sidecar, 'entra_sidecar_refreshes_total', { target: 'storage', result: 'failure' }, 2, 15_000);
      expect(stranger.exchanges.length, 'nothing was sent to the untrusted server').toBe(0);
      const held = tokenFile(sidecar) as string;
      relay.switchTo(portOf(emulator));
      await waitForFreshToken(pair, held, 20_000);
      const seen = await poll.stop();
      expect(seen.failures).toEqual([]);
      expect(seen.ok, 'the app kept asking during the fault').toBeGreaterThan(5);
      const m = await metricsText(sidecar);
      expect(metricValue(m, 'entra_sidecar_exchange_errors_total', { target: 'storage', reason: 'tls' })).toBeGreaterThanOrEqual(2);
      expect(alive(sidecar)).toBe(true);
      await waitUntil(async () => (await readyz(sidecar)).status === 200, 'ready again');
    } finally {
      await pair.close();
      await relay.close();
      await emulator.close();
    }
  });
});
