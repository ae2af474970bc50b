/**
 * Fault matrix, client-credential rows (clusters without federation): the sidecar holds a client
 * secret or certificate from a Secret volume (kubelet's `..data` layout) and
 * - rotates to a new secret/certificate at its next exchange, with no failed request;
 * - shows Entra's refusals — wrong secret AADSTS7000215, expired secret AADSTS7000222, unknown
 *   certificate AADSTS700027, wrong client id AADSTS700016 — as a log line and a /readyz state
 *   naming the fix, and recovers as soon as the Secret holds a good credential;
 * - never shows the secret or key in a log line, /readyz or /metrics (plus the suite's log audit).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientCertificate, Emulator } from '../../src/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { encryptedPem, pkcs12, registerCertificate, registerSecret, SecretVolume } from '../helpers/client-credential.js';
import { recordSecret } from '../helpers/audit.js';
import {
  alive,
  metricsText,
  metricValue,
  pollEndpoint,
  readyz,
  startPair,
  STORAGE,
  tokenFile,
  waitForFailureLog,
  waitForFreshToken,
  waitUntil,
  type Pair,
} from './harness.js';

const NO_FEDERATION = { AZURE_FEDERATED_TOKEN_FILE: undefined };
// These machines are shared and often loaded: one emulator per lifetime (its keys take seconds to
// make), each test its own application (client id), so records never mix.
const TIMEOUT_MS = 150_000;
let shared: Emulator;
let longLived: Emulator;
beforeAll(async () => {
  [shared, longLived] = await Promise.all([startTestEmulator({ tokenLifetimeSec: 14 }), startTestEmulator({ tokenLifetimeSec: 40 })]);
});
afterAll(async () => {
  await Promise.all([shared?.close(), longLived?.close()]);
});

/** A new application on the emulator, its client id. */
function newApp(e: Emulator): string {
  const id = randomUUID();
  e.addApplication(id);
  return id;
}

async function secretPair(
  o: { emulator?: Emulator; ready?: boolean; expiresInSec?: number; wrongClientId?: boolean } = {},
): Promise<Pair & { vol: SecretVolume; secret: { id: string; value: string }; clientId: string }> {
  const emulator = o.emulator ?? shared;
  const clientId = newApp(emulator);
  const vol = new SecretVolume();
  const secret = registerSecret(emulator, { clientId, expiresInSec: o.expiresInSec });
  vol.write({ 'client-secret': `${secret.value}\n` });
  const pair = await startPair({
    sharedEmulator: emulator,
    ready: o.ready,
    sidecar: {
      env: { ...NO_FEDERATION, ENTRA_SIDECAR_CLIENT_SECRET_FILE: vol.path('client-secret'), AZURE_CLIENT_ID: o.wrongClientId ? randomUUID() : clientId },
    },
  });
  return Object.assign(pair, { vol, secret, clientId });
}

/** Nothing a user can read shows the secret. */
async function expectNoSecretShown(pair: Pair, secret: string): Promise<void> {
  const { sidecar } = pair;
  expect(JSON.stringify(sidecar.logs)).not.toContain(secret);
  expect(sidecar.stderr.join('\n')).not.toContain(secret);
  expect(JSON.stringify((await readyz(sidecar)).body)).not.toContain(secret);
  expect(await metricsText(sidecar)).not.toContain(secret);
}

const ofApp = (e: Emulator, clientId: string, from = 0) => e.exchanges.slice(from).filter((x) => x.clientId === clientId);
const credentialIds = (e: Emulator, clientId: string, from = 0): (string | undefined)[] =>
  ofApp(e, clientId, from)
    .filter((x) => x.status === 200)
    .map((x) => x.credentialId);

describe.concurrent('client secret', () => {
  it(
    'tokens from a client secret file; the source is on /metrics and /readyz; the secret is shown nowhere',
    async () => {
      const pair = await secretPair();
      const { emulator, sidecar, clientId } = pair;
      try {
        expect(tokenFile(sidecar)).toMatch(/^eyJ/);
        expect(credentialIds(emulator, clientId)).toEqual([pair.secret.id]);
        const m = await metricsText(sidecar);
        expect(metricValue(m, 'entra_sidecar_credential_info', { source: 'client_secret' })).toBe(1);
        expect(metricValue(m, 'entra_sidecar_credential_info', { source: 'federated' })).toBe(0);
        expect((await readyz(sidecar)).body).toMatchObject({ credential: { source: 'client_secret' } });
        expect(await sidecar.waitForLog((l) => l.msg === 'sidecar started')).toMatchObject({ credential: 'client_secret' });
        await expectNoSecretShown(pair, pair.secret.value);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'rotation: the Secret swapped (..data) mid-run switches the next exchange to the new secret, no request fails, the old one can then be revoked',
    async () => {
      const pair = await secretPair();
      const { emulator, sidecar, vol, clientId } = pair;
      try {
        const poll = pollEndpoint(sidecar);
        const next = registerSecret(emulator, { clientId });
        const from = emulator.exchanges.length;
        vol.write({ 'client-secret': next.value });
        await waitUntil(() => credentialIds(emulator, clientId, from).includes(next.id), 'an exchange with the new secret', 60_000);
        emulator.removeClientCredential(pair.secret.id);
        const after = emulator.exchanges.length;
        await waitUntil(() => credentialIds(emulator, clientId, after).length >= 1, 'another exchange after revoking the old secret', 60_000);
        const seen = await poll.stop();
        expect(seen.failures).toEqual([]);
        expect(seen.ok).toBeGreaterThan(0);
        expect(credentialIds(emulator, clientId, after).every((id) => id === next.id)).toBe(true);
        expect(ofApp(emulator, clientId).filter((x) => x.status !== 200)).toEqual([]);
        await expectNoSecretShown(pair, next.value);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'AADSTS7000215 (the secret was revoked): the held token is served, the log and /readyz name the fix, the rotated Secret recovers at once',
    async () => {
      const pair = await secretPair({ emulator: longLived });
      const { emulator, sidecar, vol, clientId } = pair;
      try {
        const held = tokenFile(sidecar) as string;
        emulator.removeClientCredential(pair.secret.id);
        const poll = pollEndpoint(sidecar);
        const line = await waitForFailureLog(sidecar, 'AADSTS7000215', 60_000);
        expect(line.level).toBe('error');
        expect(line.msg).toMatch(
          /^token refresh failed: Entra refused the exchange \(HTTP 401, invalid_client\): AADSTS7000215: Invalid client secret provided\. .* — fix: the client secret is not one of the app's secrets: put the secret's Value \(not its Secret ID\)/,
        );
        expect(line).toMatchObject({ retryable: false, retryInS: 60, credential: { source: 'client_secret' } });
        expect(line.assertionClaims).toBeUndefined();
        const r = await readyz(sidecar);
        expect(r.body.targets[0]?.lastError).toMatch(/AADSTS7000215.*fix: the client secret is not one of the app's secrets/);
        expect(metricValue(await metricsText(sidecar), 'entra_sidecar_exchange_errors_total', { target: 'storage', reason: 'AADSTS7000215' })).toBe(1);

        // the operator puts a new secret in the Secret: retried at once, not after the 60 s backoff
        const fresh = registerSecret(emulator, { clientId });
        const from = emulator.exchanges.length;
        vol.write({ 'client-secret': fresh.value });
        await sidecar.waitForLog((l) => l.msg === 'credential file changed: retrying the failed targets now', 20_000);
        await waitForFreshToken(pair, held, 20_000);
        expect(credentialIds(emulator, clientId, from)[0]).toBe(fresh.id);
        const seen = await poll.stop();
        expect(seen.failures, 'a valid token was held throughout').toEqual([]);
        expect((await readyz(sidecar)).body.targets[0]?.lastError).toBeUndefined();
        expect(alive(sidecar)).toBe(true);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'AADSTS7000222 (the secret expired): not ready, the log names the fix',
    async () => {
      const pair = await secretPair({ ready: false, expiresInSec: -60 });
      const { sidecar } = pair;
      try {
        const line = await waitForFailureLog(sidecar, 'AADSTS7000222', 60_000);
        expect(line.msg).toMatch(
          /AADSTS7000222: The provided client secret keys for app '[0-9a-f-]+' are expired\..* — fix: the client secret has expired: create a new one on the app registration/,
        );
        const r = await readyz(sidecar);
        expect(r.status).toBe(503);
        expect(r.body.targets[0]?.lastError).toContain('AADSTS7000222');
        await expectNoSecretShown(pair, pair.secret.value);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'AADSTS700016 (a wrong client id with the secret): the log names AZURE_CLIENT_ID',
    async () => {
      const pair = await secretPair({ ready: false, wrongClientId: true });
      try {
        const line = await waitForFailureLog(pair.sidecar, 'AADSTS700016', 60_000);
        expect(line.msg).toMatch(/Application with identifier '[0-9a-f-]+' was not found.* — fix: check AZURE_CLIENT_ID/);
        expect((await readyz(pair.sidecar)).body.targets[0]?.lastError).toContain('fix: check AZURE_CLIENT_ID');
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );

  it(
    "AZURE_CLIENT_SECRET (EnvironmentCredential's variable) works too",
    async () => {
      const clientId = newApp(shared);
      const { value } = registerSecret(shared, { clientId });
      const pair = await startPair({ sharedEmulator: shared, sidecar: { env: { ...NO_FEDERATION, AZURE_CLIENT_ID: clientId, AZURE_CLIENT_SECRET: value } } });
      try {
        expect(tokenFile(pair.sidecar)).toMatch(/^eyJ/);
        await expectNoSecretShown(pair, value);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );
});

function certEnv(clientId: string, env: Record<string, string>): Record<string, string | undefined> {
  return { ...NO_FEDERATION, AZURE_CLIENT_ID: clientId, ...env };
}

describe.concurrent('client certificate', () => {
  it(
    'PEM (certificate + key): PS256 assertion with x5t#S256, a fresh jti per exchange; notAfter on /metrics; rotation to a new certificate with no failed request',
    async () => {
      const emulator = shared;
      const clientId = newApp(emulator);
      const first = registerCertificate(emulator, { clientId });
      // made now: key generation blocks this process (and the emulator in it) for a while on a loaded machine
      const next = registerCertificate(undefined, { validForSec: 30 * 24 * 3600 });
      const vol = new SecretVolume(0o640);
      vol.write({ 'client.pem': first.certPem + first.keyPem });
      const pair = await startPair({
        sharedEmulator: emulator,
        sidecar: {
          tokens: `storage=${STORAGE}.default,vault=https://vault.azure.net/.default`,
          env: certEnv(clientId, { ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: vol.path('client.pem') }),
        },
      });
      const { sidecar } = pair;
      try {
        const accepted = ofApp(emulator, clientId).filter((x) => x.status === 200);
        expect(accepted.length).toBeGreaterThanOrEqual(2);
        expect(accepted.every((x) => x.credentialId === first.id)).toBe(true);
        expect(new Set(accepted.map((x) => x.jti)).size, 'every exchange its own assertion').toBe(accepted.length);
        const m = await metricsText(sidecar);
        expect(metricValue(m, 'entra_sidecar_credential_expiry_timestamp_seconds')).toBe(Math.floor(first.notAfterMs / 1000));
        expect(metricValue(m, 'entra_sidecar_credential_info', { source: 'client_certificate' })).toBe(1);
        expect((await readyz(sidecar)).body).toMatchObject({ credential: { source: 'client_certificate', thumbprintSha256: first.thumbprintSha256 } });
        expect(
          sidecar.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('can be read by every user')),
          'mode 0640: no warning',
        ).toBe(false);

        const poll = pollEndpoint(sidecar);
        const second = { ...next, id: emulator.addClientCertificate(next.certPem, { clientId }).id };
        const from = emulator.exchanges.length;
        vol.write({ 'client.pem': second.certPem + second.keyPem });
        await waitUntil(() => credentialIds(emulator, clientId, from).includes(second.id), 'an exchange with the new certificate', 60_000);
        emulator.removeClientCredential(first.id as string);
        const seen = await poll.stop();
        expect(seen.failures).toEqual([]);
        expect(ofApp(emulator, clientId).filter((x) => x.status !== 200)).toEqual([]);
        await waitUntil(
          async () => metricValue(await metricsText(sidecar), 'entra_sidecar_credential_expiry_timestamp_seconds') === Math.floor(second.notAfterMs / 1000),
          'the new notAfter on /metrics',
          30_000,
        );
        const shown =
          JSON.stringify(sidecar.logs) +
          JSON.stringify((await waitUntil(() => readyz(sidecar), '/readyz', 10_000)).body) +
          (await waitUntil(() => metricsText(sidecar), '/metrics', 10_000));
        for (const c of [first, second]) expect(shown).not.toContain(c.keyPem.split('\n')[1]);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'AADSTS700027 (a certificate the app does not have; tls.crt + tls.key): the log and /readyz name the fix and the thumbprint; uploading it recovers at the next attempt',
    async () => {
      const emulator = shared;
      const clientId = newApp(emulator);
      const cert = registerCertificate(undefined);
      const vol = new SecretVolume(0o600);
      vol.write({ 'tls.crt': cert.certPem, 'tls.key': cert.keyPem });
      // the test-only backoff: the permanent refusal is retried after 5 s instead of 60 s
      const pair = await startPair({
        sharedEmulator: emulator,
        ready: false,
        sidecar: {
          env: certEnv(clientId, {
            ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: vol.path('tls.crt'),
            ENTRA_SIDECAR_CLIENT_CERTIFICATE_KEY_FILE: vol.path('tls.key'),
            ENTRA_SIDECAR_TEST_BACKOFF: '200ms/5s',
          }),
        },
      });
      const { sidecar } = pair;
      try {
        const line = await waitForFailureLog(sidecar, 'AADSTS700027', 60_000);
        expect(line.msg).toMatch(
          /AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application\. \[Reason - The key was not found\., Thumbprint of key used by client: '[0-9A-F]{64}'.* — fix: the certificate is not registered on the app/,
        );
        expect(line).toMatchObject({ credential: { source: 'client_certificate', thumbprintSha256: cert.thumbprintSha256 } });
        const r = await readyz(sidecar);
        expect(r.status).toBe(503);
        expect(r.body.targets[0]?.lastError).toContain('fix: the certificate is not registered on the app');
        expect(line.retryInS).toBe(5);
        // uploading the certificate to the app: the next attempt (after the backoff cap) succeeds
        emulator.addClientCertificate(cert.certPem, { clientId });
        await sidecar.waitReady(60_000);
        expect(ofApp(emulator, clientId).at(-1)).toMatchObject({ status: 200 });
        expect(alive(sidecar)).toBe(true);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );

  const variants: { name: string; files(c: ClientCertificate, vol: SecretVolume): Record<string, string> }[] = [
    {
      name: 'encrypted PEM key with a password file',
      files: (c, vol) => {
        const password = `pw-${randomUUID()}`;
        recordSecret(password);
        vol.write({ 'client.pem': encryptedPem(c, password), password });
        return { ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: vol.path('client.pem'), ENTRA_SIDECAR_CLIENT_CERTIFICATE_PASSWORD_FILE: vol.path('password') };
      },
    },
    {
      name: 'PKCS#12 with AZURE_CLIENT_CERTIFICATE_PATH and AZURE_CLIENT_CERTIFICATE_PASSWORD, chain sent (AZURE_CLIENT_SEND_CERTIFICATE_CHAIN)',
      files: (c, vol) => {
        const password = `pw-${randomUUID()}`;
        recordSecret(password);
        vol.write({ 'client.pfx': pkcs12(c, password) });
        return {
          AZURE_CLIENT_CERTIFICATE_PATH: vol.path('client.pfx'),
          AZURE_CLIENT_CERTIFICATE_PASSWORD: password,
          AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: 'true',
        };
      },
    },
  ];
  for (const v of variants) {
    it(
      `${v.name}: tokens`,
      async () => {
        const clientId = newApp(shared);
        const cert = registerCertificate(shared, { clientId });
        const vol = new SecretVolume(0o600);
        const pair = await startPair({ sharedEmulator: shared, sidecar: { env: certEnv(clientId, v.files(cert, vol)) } });
        try {
          expect(tokenFile(pair.sidecar)).toMatch(/^eyJ/);
          expect((await readyz(pair.sidecar)).body).toMatchObject({ credential: { thumbprintSha256: cert.thumbprintSha256 } });
        } finally {
          await pair.close();
        }
      },
      TIMEOUT_MS,
    );
  }

  it(
    'a key file every user can read: one warning naming the file and its mode',
    async () => {
      const clientId = newApp(shared);
      const cert = registerCertificate(shared, { clientId });
      const vol = new SecretVolume(0o644);
      vol.write({ 'client.pem': cert.certPem + cert.keyPem });
      const pair = await startPair({
        sharedEmulator: shared,
        sidecar: { env: certEnv(clientId, { ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: vol.path('client.pem') }) },
      });
      try {
        const line = await pair.sidecar.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('can be read by every user'), 5_000);
        expect(line).toMatchObject({ level: 'warn', file: `${vol.path('client.pem')} (mode 0644)` });
        expect(readFileSync(vol.path('client.pem'), 'utf8')).toContain('PRIVATE KEY');
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );
});

describe.concurrent('client credential files', () => {
  it(
    'the secret file is missing (Secret not mounted yet): not ready, the log names the file and where to look; the file appearing recovers',
    async () => {
      const clientId = newApp(shared);
      const secret = registerSecret(shared, { clientId });
      const vol = new SecretVolume();
      const pair = await startPair({
        sharedEmulator: shared,
        ready: false,
        sidecar: { env: { ...NO_FEDERATION, AZURE_CLIENT_ID: clientId, ENTRA_SIDECAR_CLIENT_SECRET_FILE: vol.path('client-secret') } },
      });
      const { sidecar } = pair;
      try {
        const line = await waitForFailureLog(sidecar, 'client_credential', 60_000);
        expect(line.msg).toBe(
          `token refresh failed: client secret file ${vol.path('client-secret')} does not exist: check the Secret is mounted (kubectl describe pod: a missing Secret or key shows as FailedMount) and ENTRA_SIDECAR_CLIENT_SECRET_FILE (--client-secret-file) points at it`,
        );
        expect(line).toMatchObject({ level: 'warn', retryable: true });
        expect((await readyz(sidecar)).body.targets[0]?.lastError).toContain('does not exist');
        expect(ofApp(shared, clientId), 'nothing was sent to Entra').toEqual([]);
        vol.write({ 'client-secret': secret.value });
        await sidecar.waitReady(60_000);
        expect(credentialIds(shared, clientId)).toEqual([secret.id]);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );

  it(
    'an encrypted key whose password file is wrong: a clear error naming the file, neither password nor key shown',
    async () => {
      const clientId = newApp(shared);
      const cert = registerCertificate(shared, { clientId });
      const right = `pw-${randomUUID()}`;
      const wrong = `pw-${randomUUID()}`;
      recordSecret(right);
      recordSecret(wrong);
      const vol = new SecretVolume(0o600);
      vol.write({ 'client.pem': encryptedPem(cert, right), password: wrong });
      const pair = await startPair({
        sharedEmulator: shared,
        ready: false,
        sidecar: {
          env: certEnv(clientId, {
            ENTRA_SIDECAR_CLIENT_CERTIFICATE_FILE: vol.path('client.pem'),
            ENTRA_SIDECAR_CLIENT_CERTIFICATE_PASSWORD_FILE: vol.path('password'),
          }),
        },
      });
      const { sidecar } = pair;
      try {
        const line = await waitForFailureLog(sidecar, 'client_credential', 60_000);
        expect(line.msg).toBe(
          `token refresh failed: client certificate file ${vol.path('client.pem')} holds an encrypted private key that the password does not open: check the password file`,
        );
        const shown = JSON.stringify(sidecar.logs) + sidecar.stderr.join('') + JSON.stringify((await readyz(sidecar)).body) + (await metricsText(sidecar));
        for (const s of [right, wrong, cert.keyPem.split('\n')[1] as string]) expect(shown).not.toContain(s);
        // the right password: the watch sees the change and retries at once
        vol.write({ 'client.pem': encryptedPem(cert, right), password: right });
        await sidecar.waitReady(60_000);
        expect(credentialIds(shared, clientId)).toEqual([cert.id]);
      } finally {
        await pair.close();
      }
    },
    TIMEOUT_MS,
  );
});
