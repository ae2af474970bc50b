/**
 * A 30-second Entra outage that starts with the app's first token request, through every client
 * at once (one scope each, so each meets its own outage). The sidecar has no token for the scope
 * yet, so it answers 503 with Retry-After (its own backoff) until Entra is back. Clients whose own
 * retries outlast the outage get the token in that same call; the others give up with the
 * sidecar's "No token … yet" message before the outage ends — pinned here and in the README — and
 * the app's next call after the outage gets the token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { go, java, javascript, msalNode, pythonCurrent, pythonDebian, requireInstalled, type SdkClient } from './sdk-clients.js';
import { appServiceEnv, expectEmulatorToken, requireClients, type ClientRun } from './setup.js';

const LIFETIME = 3599;
const OUTAGE_MS = 30_000;
const { dirs, skip: notInstalled } = await requireInstalled('python', 'go', 'java');
const skip = notInstalled ?? (await requireClients('python-azure-identity', 'azure-identity-4-0', 'azure-identity-latest', '@azure/msal-node'));

/** What a client does in the outage: its own retries outlast it, or it gives up first. */
type Outcome = 'rides through' | 'gives up';

interface Row {
  client: SdkClient;
  outcome: Outcome;
}

interface Observed {
  first: ClientRun;
  /** ms from the app's first request to the end of its first call */
  firstCallMs: number;
  /** the app's further calls until one got a token (none when the first did) */
  again: ClientRun[];
}

describe.skipIf(skip)('a 30-second Entra outage through every client', () => {
  let emulator: Emulator;
  let sidecar: SidecarProcess;
  const rows: Row[] = skip
    ? []
    : [
        { client: pythonCurrent(dirs!), outcome: 'gives up' },
        { client: pythonCurrent(dirs!, true), outcome: 'gives up' },
        { client: pythonDebian(), outcome: 'gives up' },
        { client: go(dirs!, 'new'), outcome: 'gives up' },
        { client: go(dirs!, 'old'), outcome: 'gives up' },
        { client: java(dirs!), outcome: 'rides through' },
        { client: javascript('azure-identity-4-0'), outcome: 'gives up' },
        { client: javascript('azure-identity-latest'), outcome: 'gives up' },
        { client: msalNode(), outcome: 'gives up' },
      ];
  const observed = new Map<string, Observed>();
  const scopeOf = (c: SdkClient): string => `https://outage-${c.id.replace(/[^a-z0-9-]/gi, '-')}.example.com/.default`;

  /** The outage starts with the first exchange for the scope (the app's first request) and lasts OUTAGE_MS. */
  async function outageFromFirstRequest(scope: string): Promise<number> {
    emulator.inject({ kind: 'status', status: 503 }, { scope, count: 1 });
    for (;;) {
      const first = emulator.exchanges.find((e) => e.scope === scope);
      if (first) {
        emulator.inject({ kind: 'status', status: 503 }, { scope, durationMs: OUTAGE_MS - (Date.now() - first.at) });
        return first.at;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: LIFETIME });
    sidecar = await startSidecarProcess({ emulator, tokens: 'arm=https://management.azure.com/.default' });
    await sidecar.waitReady();
    const env = appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId);
    await Promise.all(
      rows.map(async ({ client }) => {
        const scope = scopeOf(client);
        const started = outageFromFirstRequest(scope);
        const first = await client.run('managed', env, [scope], 150_000);
        const firstAt = await started;
        const firstCallMs = Date.now() - firstAt;
        const again: ClientRun[] = [];
        if (first.result.error) {
          // the app's own loop around get_token, from the end of the outage (the emulator says
          // when the scope's outage is over): call again until a token comes. The sidecar may still
          // be in its backoff for the scope (≤ 60 s) and answer 503 at once, so the loop is bounded
          // by a deadline, not by a count (a count ran out within a second for msal-node).
          await emulator.faultsEnded(scope);
          const deadline = firstAt + OUTAGE_MS + 120_000;
          while (!again.at(-1)?.result.results && Date.now() < deadline) again.push(await client.run('managed', env, [scope], 150_000));
        }
        observed.set(client.id, { first, firstCallMs, again });
        console.log(
          `outage: ${client.label}: first call ${first.result.error ? 'failed' : 'got the token'} after ${Math.round(firstCallMs / 1000)} s from its first request; ${again.length} more call(s)`,
        );
      }),
    );
  }, 600_000);
  afterAll(async () => {
    await sidecar?.stop();
    await emulator?.close();
  });

  for (const row of rows) {
    it(`${row.client.label} ${row.outcome === 'rides through' ? 'rides through it: its own retries get the token in the same call' : 'gives up before it ends with the sidecar\'s "No token … yet" (503), and the app\'s next call after it gets the token'}`, () => {
      const o = observed.get(row.client.id)!;
      const scope = scopeOf(row.client);
      if (row.outcome === 'rides through') {
        expect(o.first.result.error, JSON.stringify(o.first.result.error)).toBeUndefined();
        expect(o.firstCallMs, 'the call lasted past the outage').toBeGreaterThanOrEqual(OUTAGE_MS);
        expectEmulatorToken(emulator, o.first.result.results![0]!, scope, LIFETIME, OUTAGE_MS / 1000 + 30);
      } else {
        expect(o.first.result.error?.message).toContain(`No token for ${scope} yet`);
        expect(o.firstCallMs, 'it gave up while Entra was still down').toBeLessThan(OUTAGE_MS);
        const last = o.again.at(-1);
        expect(last?.result.error, JSON.stringify(last?.result.error)).toBeUndefined();
        expectEmulatorToken(emulator, last!.result.results![0]!, scope, LIFETIME, OUTAGE_MS / 1000 + 30);
      }
    });
  }
});
