import { request } from 'node:https';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

/**
 * An msal-node network client (node:https) that trusts the emulator's CA, for in-process tests.
 *
 * msal-node 7 sends requests with the global `fetch`, which cannot be given a CA per request and
 * ignores `https.globalAgent`; `NODE_EXTRA_CA_CERTS` only works when set before the process
 * starts. So in-process clients pass this as `system.networkClient`; child processes use
 * `NODE_EXTRA_CA_CERTS=<caFile>` instead. Like msal's own client, a body that is not JSON is an error.
 *
 * @example
 * new ConfidentialClientApplication({ auth, system: { networkClient: caTrustingNetworkClient(emu.caPem) } })
 */
export function caTrustingNetworkClient(caPem: string, timeoutMs = 10_000): INetworkModule {
  const send = <T>(method: string, url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> =>
    new Promise((resolve, reject) => {
      const body = options?.body;
      const req = request(url, { method, ca: caPem, headers: { ...(options?.headers ?? {}) }, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
          try {
            resolve({ headers, body: JSON.parse(text) as T, status: res.statusCode ?? 0 });
          } catch {
            reject(new Error(`Failed to parse response: HTTP ${res.statusCode} with a body that is not JSON`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('Request timeout')));
      req.on('error', (err) => reject(new Error(`Network request failed: ${err.message}`)));
      if (body !== undefined) req.write(body);
      req.end();
    });
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('GET', url, options),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>('POST', url, options),
  };
}
