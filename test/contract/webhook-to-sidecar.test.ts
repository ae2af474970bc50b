import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseSidecarConfig } from '../../src/config/sidecar.js';
import { mutatePod } from '../../src/webhook/mutate.js';
import { parseWebhookSettings } from '../../src/webhook/options.js';
import type { Container, Pod } from '../../src/webhook/pod.js';
import type { MutationSettings } from '../../src/webhook/settings.js';
import { CLIENT_ID, secretSequence, TENANT_ID } from '../webhook/pod-checks.js';

/**
 * The contract between webhook and sidecar, end to end: whatever webhook settings start, and
 * whatever annotations the webhook admits, the sidecar container (and its `--once` init container)
 * built by `mutatePod` starts — its env and args go through the sidecar's own config parser.
 */

const RUNS = { seed: Number(process.env.PROP_SEED ?? 20261203), numRuns: Number(process.env.PROP_RUNS ?? 300) };
const TLS = ['--sidecar-image', 'ghcr.io/x/entra-sidecar:1', '--tls-cert-file', '/tls/tls.crt', '--tls-key-file', '/tls/tls.key'];

/** Mostly values that should pass, sometimes ones that should not: both paths get exercised. */
const mostly = (good: string[], bad: string[]) =>
  fc.oneof({ arbitrary: fc.constantFrom(...good), weight: 6 }, { arbitrary: fc.constantFrom(...bad), weight: 1 });

const authorityHosts = mostly(
  ['https://login.microsoftonline.com', 'https://login.microsoftonline.us/', 'https://login.chinacloudapi.cn:443', 'https://127.0.0.1:9443'],
  [
    'https://login.microsoftonline.com/x',
    'http://127.0.0.1:8443',
    'http://login.microsoftonline.com',
    'https://login.microsoftonline.com/?q=1',
    'https://user@login.microsoftonline.com',
    'login.microsoftonline.com',
  ],
);
const tenants = mostly([TENANT_ID, 'contoso.onmicrosoft.com', 'CONTOSO.COM', ' contoso.com '], ['.', '..', '../common', 'common', 'a/b']);
const clientIds = mostly([CLIENT_ID, CLIENT_ID.toUpperCase(), ` ${CLIENT_ID}`], ['abc', '12345678', `${CLIENT_ID}x`]);
const tokensAnn = mostly(
  [
    'storage=https://storage.azure.com/.default',
    'pg=https://ossrdbms-aad.database.windows.net',
    ' a = https://vault.azure.net/.default , b=api://x ',
    '00000000-0000-0000-0000-000000000000=https://a',
  ],
  ['x.json=https://a/.default', 'bad', '', 'a=https://a/.default,a=https://b/.default'],
);

const webhookArgv = fc.record(
  {
    authority: authorityHosts,
    tokenDir: mostly(['/var/run/secrets/entra', '/tokens/', '/a/b/c'], ['relative', '/var/run/secrets/kubernetes.io/serviceaccount/x']),
    port: mostly(['42350', '1024', '65535'], ['8080', '80']),
    healthPort: mostly(['42351', '9090'], ['8080']),
    tenant: fc.option(tenants),
    mode: fc.constantFrom('native', 'container'),
  },
  { requiredKeys: ['authority', 'tokenDir', 'port', 'healthPort', 'mode'] },
);

const podAnnotations = fc.record(
  {
    'entra-sidecar.io/client-id': clientIds,
    'entra-sidecar.io/tenant-id': tenants,
    'entra-sidecar.io/tokens': tokensAnn,
    'entra-sidecar.io/token-expiration': mostly(['3600', '86400', '7200 '], ['3.6e3', '0x0e10', '100000']),
    'entra-sidecar.io/port': mostly(['42360', '9999'], ['1023', 'x']),
    'entra-sidecar.io/mount-path': mostly(['/tokens', '/var/run/secrets/entra'], ['/a/../b', '/']),
    'entra-sidecar.io/mode': mostly(['native', 'container'], ['init-only', 'sidecar']),
    'entra-sidecar.io/file.pgpass': mostly(
      ['pgpass target=pg host=db.example.com port=5432 user=app', 'pgpass target=storage host=* user="DB Admins"'],
      ['pgpass target=nope host=h user=u', 'pgpass host=h'],
    ),
    'entra-sidecar.io/file.app.env': mostly(
      ['dotenv PGPASSWORD=pg.token PG_UNTIL=pg.expires_at', 'template {{ storage.token | json }}'],
      ['dotenv 1=pg.token', 'template {{ pg.token'],
    ),
  },
  { requiredKeys: ['entra-sidecar.io/client-id'] },
);

/** Mostly federation; sometimes a client secret or certificate (then without the federated-only token-expiration), rarely both. */
const credentialAnn = fc.oneof(
  { arbitrary: fc.constant({}), weight: 12 },
  {
    arbitrary: fc.record({ 'entra-sidecar.io/client-secret': mostly(['app-sp', 'app-sp/secret', 'a.b/c_d.txt'], ['App_SP', 'a/b/c', '/x', 'app/..']) }),
    weight: 2,
  },
  { arbitrary: fc.record({ 'entra-sidecar.io/client-certificate': mostly(['app-tls', 'app-cert/cert.pem'], ['x y', 'a/']) }), weight: 2 },
  { arbitrary: fc.constant({ 'entra-sidecar.io/client-secret': 'a', 'entra-sidecar.io/client-certificate': 'b' }), weight: 1 },
);
const podAnnotationsWithCredential = fc.tuple(podAnnotations, credentialAnn).map(([a, c]): Record<string, string> => {
  const out: Record<string, string> = { ...a, ...c };
  if (Object.keys(c).length > 0) delete out['entra-sidecar.io/token-expiration'];
  return out;
});

function podWith(annotations: Record<string, string>, restartPolicy: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'app', namespace: 'team-a', annotations: { 'entra-sidecar.io/inject': 'true', ...annotations } },
    spec: { serviceAccountName: 'app', restartPolicy, securityContext: { runAsUser: 1000 }, containers: [{ name: 'app', image: 'ghcr.io/example/app:1' }] },
  } as Pod;
}

function envOf(c: Container): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (typeof e.value !== 'string') throw new Error(`sidecar env ${e.name} is not a plain value: the sidecar cannot be run by hand with it`);
    out[e.name] = e.value;
  }
  return out;
}

/** Runs the sidecar's own parser on a container the webhook built, as `entra-sidecar <args>` would. */
function sidecarConfigOf(c: Container) {
  const args = c.args ?? [];
  expect(args[0]).toBe('sidecar');
  return parseSidecarConfig(args.slice(1), envOf(c));
}

describe('every pod the webhook admits yields a sidecar that starts', () => {
  it('for random webhook settings and pod annotations, the injected env and args pass the sidecar config parser', () => {
    const seen = { webhookRefused: 0, denied: 0, started: 0 };
    fc.assert(
      fc.property(webhookArgv, podAnnotationsWithCredential, fc.constantFrom('Always', 'Never', 'OnFailure'), (w, ann, restartPolicy) => {
        const argv = [
          ...TLS,
          '--authority-host',
          w.authority,
          '--token-dir',
          w.tokenDir,
          '--sidecar-port',
          w.port,
          '--sidecar-health-port',
          w.healthPort,
          '--mode',
          w.mode,
        ];
        if (w.tenant !== null && w.tenant !== undefined) argv.push('--default-tenant-id', w.tenant);
        let settings: MutationSettings;
        try {
          const parsed = parseWebhookSettings(argv, {});
          settings = { ...parsed.sidecar, mode: parsed.mode ?? 'native' };
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          seen.webhookRefused++;
          return;
        }
        const out = mutatePod(podWith(ann, restartPolicy), { namespace: 'team-a', name: 'app', annotations: {} }, settings, secretSequence());
        if (out.kind !== 'mutated') {
          expect(out.kind).toBe('denied');
          seen.denied++;
          return;
        }
        const sidecars = [...(out.pod.spec.initContainers ?? []), ...out.pod.spec.containers].filter((c) => c.name.startsWith('entra-sidecar'));
        expect(sidecars.length).toBeGreaterThan(0);
        for (const c of sidecars) {
          const config = sidecarConfigOf(c);
          expect(config.clientId.toLowerCase()).toBe((ann['entra-sidecar.io/client-id'] ?? '').trim().toLowerCase());
          expect(config.authorityHost).toBe(settings.authorityHost);
          const kind =
            ann['entra-sidecar.io/client-secret'] !== undefined
              ? 'client_secret'
              : ann['entra-sidecar.io/client-certificate'] !== undefined
                ? 'client_certificate'
                : 'federated';
          expect(config.credential.kind).toBe(kind);
          expect(config.tokenDir).toBe(out.pod.spec.containers.find((a) => a.name === 'app')?.env?.find((e) => e.name === 'ENTRA_TOKEN_DIR')?.value);
          // rendered files: the sidecar reads every file the webhook admitted, and runs as the
          // app's user when one is a password file
          const asked = Object.keys(ann)
            .filter((k) => k.startsWith('entra-sidecar.io/file.'))
            .map((k) => k.slice('entra-sidecar.io/file.'.length))
            .sort();
          expect(config.files.map((f) => f.name)).toEqual(asked);
          const pgpass = config.files.some((f) => f.kind === 'pgpass');
          expect((c.securityContext as { runAsUser: number }).runAsUser).toBe(pgpass ? 1000 : 65532);
        }
        seen.started++;
      }),
      RUNS,
    );
    // The generators reach all three outcomes, so the property is about something.
    expect(seen.webhookRefused).toBeGreaterThan(10);
    expect(seen.denied).toBeGreaterThan(10);
    expect(seen.started).toBeGreaterThan(10);
  });

  it('an authority host with a path, or http on loopback, is refused by the webhook at start, as the sidecar refuses it', () => {
    for (const host of ['https://login.microsoftonline.com/x', 'http://127.0.0.1:8443']) {
      expect(() => parseWebhookSettings([...TLS, '--authority-host', host], {})).toThrow(/ENTRA_WEBHOOK_AUTHORITY_HOST \(--authority-host\) must/);
      expect(() =>
        parseSidecarConfig(['--once'], {
          AZURE_CLIENT_ID: CLIENT_ID,
          AZURE_TENANT_ID: TENANT_ID,
          AZURE_FEDERATED_TOKEN_FILE: '/t',
          AZURE_AUTHORITY_HOST: host,
        }),
      ).toThrow(ConfigError);
    }
  });

  it.each(['.', '..', '../common', 'common', 'a/b'])('tenant id %j is refused by both sides', (tenant) => {
    expect(() => parseSidecarConfig(['--once'], { AZURE_CLIENT_ID: CLIENT_ID, AZURE_TENANT_ID: tenant, AZURE_FEDERATED_TOKEN_FILE: '/t' })).toThrow(
      /AZURE_TENANT_ID .* must be a tenant GUID or domain/,
    );
    const out = mutatePod(
      podWith({ 'entra-sidecar.io/client-id': CLIENT_ID, 'entra-sidecar.io/tenant-id': tenant }, 'Always'),
      undefined,
      { ...parseWebhookSettings(TLS, {}).sidecar, mode: 'native' },
      secretSequence(),
    );
    expect(out.kind).toBe('denied');
  });
});
