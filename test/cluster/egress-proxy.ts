import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * The API server's "cluster" egress: every connection kube-apiserver makes into the cluster
 * network (a webhook called through `clientConfig.service`) arrives here as an HTTP CONNECT over a
 * Unix socket, the way it would reach a Konnectivity proxy. There is no cluster network on these
 * machines, so this proxy plays it: a Service's ClusterIP:port that a test registered is connected
 * to the process serving it on loopback, and anything else is refused (and recorded). No
 * connection ever leaves loopback, whatever address the API server asks for.
 */
export interface EgressProxy {
  socketPath: string;
  /** routes `ip:port` (a Service's ClusterIP and port) to a loopback port */
  route(target: string, loopbackPort: number): void;
  unroute(target: string): void;
  /** every CONNECT target asked for, in order, with what was done */
  readonly log: { target: string; outcome: 'routed' | 'refused' }[];
  close(): Promise<void>;
}

const MAX_HEADER_BYTES = 8192;

export async function startEgressProxy(socketPath: string): Promise<EgressProxy> {
  const routes = new Map<string, number>();
  const log: EgressProxy['log'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEADER_BYTES) client.destroy();
        return;
      }
      client.off('data', onData);
      const requestLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const rest = head.subarray(end + 4);
      const m = /^CONNECT (\S+) HTTP\/1\.[01]$/.exec(requestLine);
      const target = m?.[1] ?? requestLine.slice(0, 100);
      const port = m ? routes.get(target) : undefined;
      if (port === undefined) {
        log.push({ target, outcome: 'refused' });
        client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      log.push({ target, outcome: 'routed' });
      const upstream = connect(port, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      upstream.once('connect', () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    socketPath,
    route: (target, loopbackPort) => void routes.set(target, loopbackPort),
    unroute: (target) => void routes.delete(target),
    log,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
