// An attacker for the listener fault tests, run as its own process so its sockets and its event
// loop are not the test's: opens `count` loopback connections to host:port, each sending `head`
// (and `body`, if any) at once, then one more byte every `trickleMs`, never finishing the request;
// a closed connection is opened again at once (a reconnect loop). The attack lasts `durationMs`
// after every first connection was attempted, and at most `maxMs` in all. Prints one JSON line
// when all first connections were attempted ({"event":"holding",...}) and one at the end
// ({"event":"done",...}), with counts of connects, closes and errors.
//
// argv[2]: JSON { host, port, count, head, body?, trickleMs, durationMs, maxMs, reconnect }
import net from 'node:net';

const o = JSON.parse(process.argv[2]);
const stats = { attempted: 0, connects: 0, closes: 0, errors: 0, open: 0, maxOpen: 0 };
let until = Date.now() + o.maxMs;
const sockets = new Set();
let stopping = false;

function open() {
  if (stopping || Date.now() > until) return;
  const s = net.connect({ host: o.host, port: o.port });
  sockets.add(s);
  stats.connects++;
  s.setNoDelay(true);
  let connected = false;
  s.on('connect', () => {
    connected = true;
    stats.open++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    s.write(o.head);
    if (o.body) s.write(o.body);
  });
  s.on('data', () => undefined);
  s.on('error', () => {
    stats.errors++;
  });
  s.on('close', () => {
    sockets.delete(s);
    if (connected) stats.open--;
    stats.closes++;
    // a reconnect loop: try again at once (on the next turn), once every first connection was tried
    if (!o.reconnect) return;
    if (started < o.count) deferred++;
    else setImmediate(open);
  });
}

let end = setTimeout(finish, o.maxMs);
// open in slices of 500 per event-loop turn
let started = 0;
let deferred = 0;
const slice = () => {
  for (let i = 0; i < 500 && started < o.count; i++, started++, stats.attempted++) open();
  if (started < o.count) {
    setImmediate(slice);
    return;
  }
  process.stdout.write(`${JSON.stringify({ event: 'holding', ...stats })}\n`);
  for (; deferred > 0; deferred--) setImmediate(open);
  until = Math.min(until, Date.now() + o.durationMs);
  clearTimeout(end);
  end = setTimeout(finish, until - Date.now());
};
slice();

const trickle = setInterval(() => {
  for (const s of sockets) if (!s.connecting && s.writable) s.write('a');
}, o.trickleMs);

function finish() {
  stopping = true;
  clearInterval(trickle);
  for (const s of sockets) s.destroy();
  process.stdout.write(`${JSON.stringify({ event: 'done', ...stats })}\n`);
  setTimeout(() => process.exit(0), 50);
}
