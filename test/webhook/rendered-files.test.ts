import { describe, expect, it } from 'vitest';
import { parseSidecarConfig } from '../../src/config/sidecar.js';
import { mutatePod } from '../../src/webhook/mutate.js';
import type { Container, Pod } from '../../src/webhook/pod.js';
import { byName, CLIENT_ID, env, secretSequence, settings, TENANT_ID } from './pod-checks.js';

const PG = 'pg=https://ossrdbms-aad.database.windows.net/.default';
const PGPASS = 'pgpass target=pg host=db.postgres.database.azure.com port=5432 database=* user="entra:app"';

function pod(annotations: Record<string, string>, containers: Container[], podSecurity?: Record<string, unknown>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'api',
      namespace: 'apps',
      annotations: {
        'entra-sidecar.io/inject': 'true',
        'entra-sidecar.io/client-id': CLIENT_ID,
        'entra-sidecar.io/tenant-id': TENANT_ID,
        'entra-sidecar.io/tokens': PG,
        ...annotations,
      },
    },
    spec: { containers, ...(podSecurity ? { securityContext: podSecurity } : {}) },
  };
}
const app = (name: string, runAsUser?: number): Container => ({
  name,
  image: 'example/app:1',
  ...(runAsUser !== undefined ? { securityContext: { runAsUser } } : {}),
});

function mutated(p: Pod, mode: 'native' | 'container' = 'native'): Pod {
  const out = mutatePod(p, undefined, settings({ mode }), secretSequence());
  if (out.kind !== 'mutated') throw new Error(`expected a mutation, got ${JSON.stringify(out)}`);
  return out.pod;
}
function denied(p: Pod): string {
  const out = mutatePod(p, undefined, settings(), secretSequence());
  if (out.kind !== 'denied') throw new Error(`expected a denial, got ${out.kind}`);
  return out.message;
}
const uidOf = (c: Container | undefined): unknown => (c?.securityContext as { runAsUser?: number } | undefined)?.runAsUser;

describe('rendered-file annotations at admission', () => {
  it("hands the files to the sidecar, which reads them back; a password file makes it run as the app's user", () => {
    const out = mutated(pod({ 'entra-sidecar.io/file.pgpass': PGPASS, 'entra-sidecar.io/file.app.env': 'dotenv PGPASSWORD=pg.token' }, [app('api', 1000)]));
    const sidecar = byName(out, 'entra-sidecar') as Container;
    expect(env(sidecar).ENTRA_SIDECAR_FILES).toBe(JSON.stringify({ 'app.env': 'dotenv PGPASSWORD=pg.token', pgpass: PGPASS }));
    expect(uidOf(sidecar)).toBe(1000);
    expect(sidecar.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const config = parseSidecarConfig((sidecar.args ?? []).slice(1), env(sidecar) as Record<string, string>);
    expect(config.files.map((f) => [f.name, f.kind])).toEqual([
      ['app.env', 'dotenv'],
      ['pgpass', 'pgpass'],
    ]);
  });

  it('the pod-level runAsUser counts; the --once init container runs as the same user', () => {
    const out = mutated(pod({ 'entra-sidecar.io/file.pgpass': PGPASS }, [app('api'), app('worker')], { runAsUser: 2000 }), 'container');
    expect(uidOf(byName(out, 'entra-sidecar'))).toBe(2000);
    expect(uidOf(byName(out, 'entra-sidecar-init'))).toBe(2000);
  });

  it('without a password file the sidecar keeps its own user', () => {
    const out = mutated(pod({ 'entra-sidecar.io/file.app.env': 'dotenv PGPASSWORD=pg.token' }, [app('api', 1000)]));
    expect(uidOf(byName(out, 'entra-sidecar'))).toBe(65532);
    expect(env(byName(out, 'entra-sidecar')).ENTRA_SIDECAR_FILES).toBeDefined();
  });

  it('root containers read any file and do not count; skipped containers do not count', () => {
    expect(uidOf(byName(mutated(pod({ 'entra-sidecar.io/file.pgpass': PGPASS }, [app('api', 1000), app('mesh', 0)])), 'entra-sidecar'))).toBe(1000);
    expect(uidOf(byName(mutated(pod({ 'entra-sidecar.io/file.pgpass': PGPASS }, [app('api', 0)])), 'entra-sidecar'))).toBe(65532);
    expect(
      uidOf(
        byName(
          mutated(pod({ 'entra-sidecar.io/file.pgpass': PGPASS, 'entra-sidecar.io/skip-containers': 'other' }, [app('api', 1000), app('other', 3000)])),
          'entra-sidecar',
        ),
      ),
    ).toBe(1000);
  });

  it("denies a password file when the app's user is unknown or not one, naming the fix", () => {
    expect(denied(pod({ 'entra-sidecar.io/file.pgpass': PGPASS }, [app('api')]))).toMatch(
      /libpq reads a password file only when it is mode 0600 and owned by the user it runs as, so the sidecar writes entra-sidecar.io\/file.pgpass as the app's user, and container\(s\) api have no runAsUser: set securityContext.runAsUser on the pod or on those containers/,
    );
    expect(denied(pod({ 'entra-sidecar.io/file.pgpass': PGPASS }, [app('api', 1000), app('batch', 2000)]))).toMatch(
      /run as different users: api \(1000\), batch \(2000\)\. Run them as one user, or list the others in entra-sidecar.io\/skip-containers/,
    );
  });

  it('denies malformed file annotations, each named with its fix, all in one message', () => {
    const message = denied(
      pod(
        {
          'entra-sidecar.io/file.pgpass': 'pgpass target=pg host=h',
          'entra-sidecar.io/file.conf.ini': 'template password={{ pg.tokn }}',
          'entra-sidecar.io/file.pg.json': 'dotenv A=pg.token',
        },
        [app('api', 1000)],
      ),
    );
    expect(message).toMatch(
      /annotation entra-sidecar.io\/file.conf.ini has "pg.tokn": a reference is <target>.<field> with field token, expires_on, expires_at and scope/,
    );
    expect(message).toMatch(
      /annotation entra-sidecar.io\/file.pg.json has file name "pg.json", which is the name of token target pg's own file: pick another name/,
    );
    expect(message).toMatch(/annotation entra-sidecar.io\/file.pgpass needs user= \(port= and database= default to \*\), e.g. pgpass target=pg/);
  });

  it('a file naming a target the pod does not fetch is denied', () => {
    expect(denied(pod({ 'entra-sidecar.io/file.app.env': 'dotenv T=kv.token' }, [app('api')]))).toMatch(
      /annotation entra-sidecar.io\/file.app.env names target "kv", which is not a token target \(the token targets are pg\): add kv=<scope> to the tokens/,
    );
  });
});
