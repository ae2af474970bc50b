import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { auditLog, recordSecret } from '../helpers/audit.js';
import { CLI } from '../helpers/sidecar.js';

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

describe('npm run demo', () => {
  it('prints commands that work (cat, curl), and stops cleanly on Ctrl-C', async () => {
    const [port, health] = [await freePort(), await freePort()];
    const p = spawn(process.execPath, [CLI, 'demo', '--listen', `127.0.0.1:${port}`, '--health-listen', `127.0.0.1:${health}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const audit = auditLog('demo');
    const out: string[] = [];
    createInterface({ input: p.stderr }).on('line', (l) => audit?.write(`${l}\n`));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`demo did not print its instructions: ${out.join('\n')}`)), 30_000);
      createInterface({ input: p.stdout }).on('line', (l) => {
        out.push(l);
        // the sidecar's relayed log lines are audited; the instructions print the header on purpose
        if (l.startsWith('[sidecar]')) audit?.write(`${l}\n`);
        if (l.includes('Press Ctrl-C to stop')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const text = out.join('\n');
    const curl = /^\s*(curl -s -H "X-IDENTITY-HEADER: ([0-9a-f]+)" "(http:\/\/127\.0\.0\.1:\d+\/msi\/token\?[^"]+)")$/m.exec(text);
    expect(curl).not.toBeNull();
    recordSecret(curl![2]);
    const cat = /^\s*cat (\S+\/storage); echo$/m.exec(text);
    expect(cat).not.toBeNull();
    expect(existsSync(cat![1]!)).toBe(true);
    // run the printed curl line as a user would
    const body = JSON.parse(execFileSync('sh', ['-c', curl![1]!], { encoding: 'utf8' })) as Record<string, string>;
    recordSecret(body.access_token);
    expect(body.resource).toBe('https://management.azure.com/');
    expect(body.access_token.split('.')).toHaveLength(3);
    expect(Number(body.expires_on)).toBeGreaterThan(Date.now() / 1000);
    const metrics = await (await fetch(`http://127.0.0.1:${health}/metrics`)).text();
    expect(metrics).toContain('entra_sidecar_refreshes_total{target="pg",result="success"}');
    p.kill('SIGINT');
    const code = await new Promise<number | null>((r) => p.on('exit', r));
    expect(code).toBe(0);
    expect(existsSync(cat![1]!)).toBe(false);
    audit?.end();
  });
});
