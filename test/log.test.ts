import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';

function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'debug') {
  const lines: string[] = [];
  const log = createLogger(level, 'sidecar', { write: (l) => void lines.push(l) });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger: JSON lines', () => {
  it('writes one JSON line per call: level, ISO time, component, the fields, msg last', () => {
    const { log, lines, parsed } = capture();
    log.info({ target: 'storage', expiresOn: 1700000000 }, 'token refreshed');
    log.warn('plain message');
    expect(lines.every((l) => l.endsWith('}\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const [a, b] = parsed();
    expect(Object.keys(a)).toEqual(['level', 'time', 'component', 'target', 'expiresOn', 'msg']);
    expect(a).toMatchObject({ level: 'info', component: 'sidecar', target: 'storage', expiresOn: 1700000000, msg: 'token refreshed' });
    expect(new Date(a.time as string).toISOString()).toBe(a.time);
    expect(b).toMatchObject({ level: 'warn', msg: 'plain message' });
  });

  it('drops lines below its level', () => {
    const { log, parsed } = capture('warn');
    log.debug({ a: 1 }, 'd');
    log.info('i');
    log.warn('w');
    log.error({ b: 2 }, 'e');
    expect(parsed().map((l) => l.level)).toEqual(['warn', 'error']);
  });

  it('redacts the secret-bearing fields and the identity header, without changing the caller’s object', () => {
    const { log, lines, parsed } = capture();
    const fields = {
      token: 'eyJ.secret.token',
      access_token: 'at-secret',
      assertion: 'sa-secret',
      client_assertion: 'ca-secret',
      identityHeader: 'ih-secret',
      headers: { 'x-identity-header': 'hdr-secret', host: 'localhost' },
      req: { method: 'GET', headers: { 'x-identity-header': 'req-secret' } },
      scope: 'https://storage.azure.com/.default',
    };
    log.info(fields, 'request');
    for (const secret of ['eyJ.secret.token', 'at-secret', 'sa-secret', 'ca-secret', 'ih-secret', 'hdr-secret', 'req-secret'])
      expect(lines[0]).not.toContain(secret);
    expect(parsed()[0]).toMatchObject({ token: '[redacted]', headers: { 'x-identity-header': '[redacted]', host: 'localhost' }, req: { method: 'GET' } });
    expect(fields.headers['x-identity-header']).toBe('hdr-secret');
  });

  it('writes an Error as its type and message, never its stack; a field it cannot write is named, not thrown', () => {
    const { log, lines, parsed } = capture();
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    expect(() => log.error({ err: new TypeError('boom'), nested: { cause: new Error('inner') }, circular, n: 10n }, 'failed')).not.toThrow();
    expect(lines[0]).not.toContain('    at ');
    expect(parsed()[0]).toMatchObject({
      err: { type: 'TypeError', message: 'boom' },
      nested: { cause: { type: 'Error', message: 'inner' } },
      circular: '[circular could not be written]',
      n: '10',
      msg: 'failed',
    });
  });

  it('writes to stdout synchronously: every line is out before the process exits', () => {
    // the built module, as the sidecar runs it (npm test builds before the tests)
    const script = `import { createLogger } from './dist/log.js'; const log = createLogger('info', 'x'); for (let i = 0; i < 2000; i++) log.info({ i }, 'line'); process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
    const out = r.stdout.trim().split('\n');
    expect(out).toHaveLength(2000);
    expect(JSON.parse(out[1999])).toMatchObject({ i: 1999, msg: 'line' });
  });
});
