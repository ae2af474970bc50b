import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { waitUntilReadyCommand } from '../../src/webhook/inject/sidecar-container.js';
import { auditLog } from '../helpers/audit.js';

/** Runs the container-mode postStart command for real against a local /readyz. */
async function runHook(statuses: number[], timeoutSeconds?: number): Promise<{ code: number | null; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.statusCode = statuses[Math.min(requests.length - 1, statuses.length - 1)] as number;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const [cmd, ...args] = waitUntilReadyCommand(port, timeoutSeconds);
  const child = spawn(cmd === 'node' ? process.execPath : (cmd as string), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = auditLog('post-start-hook');
  if (log) {
    child.stdout.pipe(log);
    child.stderr.pipe(log);
  }
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  server.close();
  return { code, requests };
}

describe('container-mode postStart hook', () => {
  it('polls /readyz on the health port until it answers 200, then exits 0', async () => {
    const { code, requests } = await runHook([503, 503, 200]);
    expect(code).toBe(0);
    expect(requests).toEqual(['/readyz', '/readyz', '/readyz']);
  });

  it('gives up with exit 1 when the sidecar never becomes ready (kubelet then restarts it)', async () => {
    const { code, requests } = await runHook([503], 1);
    expect(code).toBe(1);
    expect(requests.length).toBeGreaterThan(1);
  });

  it('is a plain argv (no shell), calling node', () => {
    const cmd = waitUntilReadyCommand(42351);
    expect(cmd[0]).toBe('node');
    expect(cmd[1]).toBe('-e');
    expect(cmd[2]).toContain('port:42351');
    expect(cmd[2]).toContain("path:'/readyz'");
  });
});
