import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * What one listener may hold at once. Every listener of the sidecar and of the webhook has one:
 * a hostile process (in the pod, or anywhere on the network for the health and webhook ports)
 * must not be able to grow the process's memory by opening connections and sending slowly.
 */
export interface ListenerLimits {
  /** most connections open at once */
  maxConnections: number;
  /** most request-body bytes held in memory, summed over all connections */
  maxBufferedBytes: number;
  /** largest request head (node's maxHeaderSize); with maxConnections, bounds header bytes */
  maxHeaderBytes: number;
  /** the whole request head must arrive within this */
  headersTimeoutMs: number;
  /** the whole request, body included, must arrive within this */
  requestTimeoutMs: number;
  /** an idle keep-alive connection is closed after this */
  keepAliveTimeoutMs: number;
}

/**
 * What a probe port may hold (the sidecar's and the webhook's health listeners). It listens on
 * every interface (kubelet and Prometheus reach it from outside the pod), so anything on the pod
 * network can connect: a few probes and scrapes need a handful of connections, and no request has
 * a body.
 */
export const PROBE_PORT_LIMITS: ListenerLimits = {
  maxConnections: 64,
  maxBufferedBytes: 0,
  maxHeaderBytes: 8 * 1024,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

/** Why a connection was dropped: `evicted` (the oldest slow or idle one, to make room), `refused` (no room), `body_budget` (the shared body budget was spent). */
export type ShedReason = 'evicted' | 'refused' | 'body_budget';

/** A request's claim on the listener's shared body budget, given back when its response closes. */
export interface BodyLease {
  /** claims `bytes` more; false (nothing claimed) when the budget is spent */
  take(bytes: number): boolean;
}

export interface BoundedListener {
  lease(res: ServerResponse): BodyLease;
  /** open connections and body bytes held now */
  usage(): { connections: number; bufferedBytes: number };
}

export interface BoundOptions {
  /**
   * Sent on a refused connection before it is closed (a complete raw HTTP response, e.g. a 503
   * with Retry-After); omitted for TLS listeners, where the socket is just closed.
   */
  refusal?: string;
  onShed?(reason: ShedReason): void;
}

/** Options for `http.createServer`/`https.createServer` that enforce the limits' size and times. */
export function serverOptions(limits: ListenerLimits): {
  maxHeaderSize: number;
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // how often node checks the two timeouts above (default 30 s, far too coarse)
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
  };
}

interface Connection {
  socket: Socket;
  /** event-loop turn the connection was accepted in */
  turn: number;
  /** when it was accepted or its latest request started, in the listener's order (oldest lowest) */
  seq: number;
  /** a request was received on it */
  served: boolean;
  /** its latest request and that request's response: in progress until the response has finished */
  req?: IncomingMessage;
  res?: ServerResponse;
}

/**
 * Bounds a server's connections and body bytes. When a connection arrives and `maxConnections`
 * are open, room is made by closing, oldest first, a connection that has not finished sending a
 * request (head or body) — the slow-client attack —, or, when no connection is sending at all,
 * an idle keep-alive connection. A connection is never closed before it had one full event-loop
 * turn to be read, so a client that sends its request at once is served. Connections whose
 * request is being answered are never closed; when no connection can be closed, the newcomer
 * gets `refusal` (503 with Retry-After) and is closed. Request bodies draw on one budget of `maxBufferedBytes` per listener.
 *
 * Memory held for requests is then at most `maxConnections × maxHeaderBytes + maxBufferedBytes`.
 *
 * @example
 * const server = http.createServer(serverOptions(LIMITS), handler);
 * const bounded = bound(server, LIMITS, { refusal: REFUSAL, onShed: (r) => shed.labels(r).inc() });
 */
export function bound(server: Server, limits: ListenerLimits, options: BoundOptions = {}): BoundedListener {
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  const connections = new Map<Socket, Connection>();
  let buffered = 0;
  let turn = 0;
  let turnPending = false;
  const nextTurn = (): void => {
    turn++;
    turnPending = false;
  };

  /** orders connections for eviction: set when a connection is accepted and when a request starts on it */
  let seq = 0;

  /**
   * The connection to close for a newcomer: the oldest one still sending its request that had a
   * turn to be read; else, when none is sending at all, the oldest idle keep-alive one. A
   * connection still sending but too new to judge makes the newcomer wait (refused) rather than
   * cost a kept-alive client its connection.
   */
  const victim = (): Connection | undefined => {
    let slow: Connection | undefined;
    let idle: Connection | undefined;
    let sending = false;
    for (const c of connections.values()) {
      // answered and only draining what the client still sends (lingerOnClose): the first to go
      if (lingering.has(c.socket)) return c;
      // a request is in progress until its response has finished; then the connection is idle
      const inProgress = c.res !== undefined && !c.res.writableFinished;
      if (inProgress ? !c.req?.complete : !c.served) {
        if (c.turn + 2 > turn) sending = true;
        else if (!slow || c.seq < slow.seq) slow = c;
      } else if (!inProgress && (!idle || c.seq < idle.seq)) idle = c;
    }
    return slow ?? (sending ? undefined : idle);
  };

  server.on('connection', (socket: Socket) => {
    if (!turnPending) {
      turnPending = true;
      setImmediate(nextTurn);
    }
    if (connections.size >= limits.maxConnections) {
      const v = victim();
      if (v) {
        connections.delete(v.socket);
        v.socket.destroy();
        options.onShed?.('evicted');
      } else {
        options.onShed?.('refused');
        if (options.refusal) socket.end(options.refusal, () => socket.destroy());
        else socket.destroy();
        return;
      }
    }
    const c: Connection = { socket, turn, seq: ++seq, served: false };
    connections.set(socket, c);
    socket.once('close', () => {
      if (connections.get(socket) === c) connections.delete(socket);
    });
  });

  // before the server's own handler, so the request is known before it can be answered; whether
  // it is still in progress is read off its response when room is needed (no listener per request)
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const c = connections.get(rawSocketOf(req.socket));
    if (!c) return;
    c.req = req;
    c.res = res;
    c.served = true;
    c.seq = ++seq;
  });

  return {
    lease(res) {
      let held = 0;
      res.once('close', () => {
        buffered -= held;
        held = 0;
      });
      return {
        take(bytes) {
          if (buffered + bytes > limits.maxBufferedBytes) {
            options.onShed?.('body_budget');
            return false;
          }
          buffered += bytes;
          held += bytes;
          return true;
        },
      };
    },
    usage: () => ({ connections: connections.size, bufferedBytes: buffered }),
  };
}

/** The TCP socket under a TLS socket (node keeps it as `_parent`), or the socket itself. */
function rawSocketOf(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket | null })._parent ?? socket;
}

/**
 * A complete raw HTTP 503 for refused connections: JSON body in the endpoint's error shape,
 * `Retry-After`, and `Connection: close`.
 */
export function refusalResponse(message: string, retryAfterSeconds = 1): string {
  const body = JSON.stringify({ error: 'temporarily_unavailable', error_description: message, message, statusCode: 503 });
  return `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: ${retryAfterSeconds}\r\nconnection: close\r\n\r\n${body}`;
}

/** Connections in a lingering close: answered, FIN sent, the rest of their body being dropped. */
const lingering = new WeakSet<Socket>();

/** How long a refused connection's body is still read and dropped after its answer. */
export const LINGER_MS = 500;

/**
 * Makes the close that follows an answer a lingering close (as nginx's `lingering_close`): the
 * answer, then FIN, then whatever the client still sends is read and dropped for up to `ms`
 * before the connection is destroyed. Used when a request is refused while its body is still
 * arriving: closing at once with unread bytes makes the kernel answer the client's next segment
 * with a reset, and a client still writing its body then sees EPIPE or ECONNRESET instead of the
 * 413 or 401. Nothing is buffered (the bytes are dropped); the connection stays counted against
 * the listener's limits until it is gone, and is the first one closed when a newcomer needs room.
 */
export function lingerOnClose(socket: Socket, ms: number = LINGER_MS): void {
  socket.destroySoon = function lingeringClose(this: Socket): void {
    lingering.add(this);
    if (this.writable) this.end();
    this.resume();
    const timer = setTimeout(() => this.destroy(), ms);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}
