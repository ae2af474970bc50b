/**
 * The Azure Identity guide's own snippets, end to end: the app's token comes from the sidecar (the
 * webhook's environment only), and Azure Storage's emulator, Azurite with `--oauth basic`, accepts
 * it — it checks the issuer (Entra's https://sts.windows.net/), the storage audience and the
 * lifetime, so the emulator's tokens must look like Entra's v1 tokens. Python (current
 * azure-identity + azure-storage-blob, sync and aio) and JavaScript (@azure/identity +
 * @azure/storage-blob).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, type Emulator } from '../../src/emulator/index.js';
import { recordSecret } from '../helpers/audit.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { getToken, startSidecarProcess, type SidecarProcess } from '../helpers/sidecar.js';
import { listContainers, startAzurite, type Azurite } from './azurite.js';
import { POSTGRES } from './matrix.js';
import { requireInstalled } from './sdk-clients.js';
import { appServiceEnv, CLIENTS, errorOf, expectEmulatorToken, requestsDuring, runClient, tokensOf, type ClientRun } from './setup.js';

const LIFETIME = 3599;
const CONTENT = 'written through a token from the entra-sidecar';
const { dirs, skip } = await requireInstalled('python', 'storage');

describe.skipIf(skip)("the guide's snippets against Azurite (--oauth basic) with tokens from the sidecar", () => {
  let emulator: Emulator;
  let sidecar: SidecarProcess;
  let azurite: Azurite;
  let app: Record<string, string>;

  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSec: LIFETIME });
    sidecar = await startSidecarProcess({
      emulator,
      tokens: 'storage=https://storage.azure.com/.default,pg=https://ossrdbms-aad.database.windows.net/.default',
    });
    await sidecar.waitReady();
    azurite = await startAzurite(dirs!.storage as string);
    // the app container's environment, plus trust for Azurite's TLS certificate (a real storage
    // account's certificate chains to a public CA the image already trusts)
    app = {
      ...appServiceEnv(sidecar.endpoint, sidecar.identityHeader, emulator.clientId),
      REQUESTS_CA_BUNDLE: azurite.caFile,
      SSL_CERT_FILE: azurite.caFile,
      NODE_EXTRA_CA_CERTS: azurite.caFile,
    };
  });
  afterAll(async () => {
    await azurite?.stop();
    await sidecar?.stop();
    await emulator?.close();
  });

  const python = (...args: string[]) =>
    requestsDuring(sidecar.health, () =>
      runClient(`guide-python-${args[0]}`, join(dirs!.python as string, 'venv', 'bin', 'python'), [join(CLIENTS, 'guide_storage.py'), ...args], app, 90_000),
    );
  const blobOf = (r: ClientRun): { container: string; downloaded: string } => {
    const res = r.result as unknown as { blob?: { container: string; downloaded: string } };
    if (!res.blob) throw new Error(`the snippet failed (exit ${r.code}): ${JSON.stringify(errorOf(r))}\n${r.output}`);
    return res.blob;
  };

  it("the sidecar's storage token is an Entra v1 token Azurite accepts: iss https://sts.windows.net/<tenant>/, aud https://storage.azure.com", async () => {
    const token = readFileSync(join(sidecar.tokenDir, 'storage'), 'utf8');
    const { payload } = decodeJwt(token)!;
    expect(payload).toMatchObject({
      iss: `https://sts.windows.net/${emulator.tenantId}/`,
      aud: 'https://storage.azure.com',
      ver: '1.0',
      tid: emulator.tenantId,
    });
    expect((await listContainers(azurite, token)).status).toBe(200);
  });

  it('Azurite really checks: a token for another audience (ARM) from the same sidecar is refused (403 AuthenticationFailed)', async () => {
    const res = await getToken(sidecar, 'https://management.azure.com/');
    const { access_token: arm } = (await res.json()) as { access_token: string };
    recordSecret(arm);
    const answer = await listContainers(azurite, arm);
    expect(answer.status).toBe(403);
    expect(answer.authError).toContain('Invalid token audience');
  });

  it('Python: BlobServiceClient(account_url, credential=DefaultAzureCredential()) creates a container, uploads and reads back', async () => {
    const { value: r, requests } = await python('blob', azurite.accountUrl, 'guide-python-sync');
    expect(blobOf(r)).toEqual({ container: 'guide-python-sync', downloaded: CONTENT });
    expect(requests).toEqual({ 'app_service 200': 1 });
  });

  it('Python: the same with azure.identity.aio and azure.storage.blob.aio', async () => {
    const { value: r, requests } = await python('blob-aio', azurite.accountUrl, 'guide-python-aio');
    expect(blobOf(r)).toEqual({ container: 'guide-python-aio', downloaded: CONTENT });
    expect(requests).toEqual({ 'app_service 200': 1 });
  });

  it('Python: ChainedTokenCredential(ManagedIdentityCredential(client_id=…), AzureCliCredential()) picks the managed identity, and get_token for PostgreSQL returns the token the pg file holds', async () => {
    const { value: r, requests } = await python('chained', POSTGRES);
    const [pg] = tokensOf(r);
    expectEmulatorToken(emulator, pg!, POSTGRES, LIFETIME);
    expect(pg!.token).toBe(readFileSync(join(sidecar.tokenDir, 'pg'), 'utf8'));
    expect(requests).toEqual({ 'app_service 200': 1 });
  });

  it('JavaScript: new BlobServiceClient(accountUrl, new DefaultAzureCredential()) creates a container, uploads and reads back', async () => {
    const { value: r, requests } = await requestsDuring(sidecar.health, () =>
      runClient('guide-js-blob', process.execPath, [join(CLIENTS, 'guide-storage.mjs'), dirs!.storage as string, azurite.accountUrl, 'guide-js'], app, 90_000),
    );
    expect(blobOf(r)).toEqual({ container: 'guide-js', downloaded: CONTENT });
    expect(requests).toEqual({ 'app_service 200': 1 });
  });
});
