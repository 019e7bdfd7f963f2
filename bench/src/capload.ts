/**
 * The capacity scenario's load generator, one of several processes (each under the descriptor
 * limit): `node --import tsx capload.ts '<CapLoadSpec as JSON>'`. It opens raw TCP connections that
 * GET /events from loopback source addresses taken in turn, at most `window` in flight, then holds
 * them idle: it counts heartbeats (a `:` line: `\n:\n` on the wire, whatever the framing) and notes when each stream first reads an event
 * (`data:`), the one broadcast.
 */
import net from 'node:net';
import type { CapLoadSpec, FromCapLoad, ToCapLoad } from './protocol';

const HEAD_END = '\r\n\r\n';
// A heartbeat is a lone `:` line; the byte before it ends a chunk-size line or the previous event.
const BEAT = '\n:\n';
const DATA = 'data:';

interface Stream {
  socket: net.Socket;
  /** The last bytes read, so a marker cut by a read boundary is still found. */
  tail: string;
  /** hrtime when this stream first read an event. */
  gotNs: bigint | undefined;
  closed: boolean;
}

const spec = JSON.parse(process.argv[2]!) as CapLoadSpec;
const streams: Stream[] = [];
/** Every connection this process opened, with headers or not (all are reset on close). */
const sockets: net.Socket[] = [];
let heartbeats = 0;
let next = 0;
let lastReceiptMs = 0;

function send(msg: FromCapLoad): void {
  process.send!(msg);
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

function onBody(s: Stream, text: string): void {
  const all = s.tail + text;
  // Counted over the new bytes plus the tail, minus what the tail alone held (already counted).
  heartbeats += count(all, BEAT) - count(s.tail, BEAT);
  if (s.gotNs === undefined && all.includes(DATA)) {
    s.gotNs = process.hrtime.bigint();
    lastReceiptMs = Date.now();
  }
  s.tail = all.slice(-4);
}

/** Opens one connection; resolves true once its `200` headers arrived, false if it failed or timed out first. */
function open(timeoutMs: number): Promise<boolean> {
  const localAddress = spec.addresses[next++ % spec.addresses.length]!;
  return new Promise((resolve) => {
    const socket = net.connect({ port: spec.port, host: '127.0.0.1', localAddress });
    sockets.push(socket);
    const s: Stream = { socket, tail: '', gotNs: undefined, closed: false };
    let head = '';
    let settled = false;
    const timer = setTimeout(() => settle(false), timeoutMs);
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n'));
    socket.on('data', (buf: Buffer) => {
      const text = buf.toString('latin1');
      if (settled) return onBody(s, text);
      head += text;
      const at = head.indexOf(HEAD_END);
      if (at === -1) return;
      const ok = head.startsWith('HTTP/1.1 200');
      if (ok) streams.push(s);
      settle(ok);
      if (ok) onBody(s, head.slice(at + 4));
    });
    socket.on('error', () => settle(false));
    socket.on('close', () => {
      s.closed = true;
      settle(false);
    });
  });
}

/** Opens `n` connections, at most `spec.window` in flight. */
async function openMany(n: number, timeoutMs = 60_000): Promise<{ ok: number; failed: number; startNs: bigint; endNs: bigint }> {
  const startNs = process.hrtime.bigint();
  let endNs = startNs;
  let ok = 0;
  let failed = 0;
  let started = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      if (await open(timeoutMs)) {
        ok++;
        endNs = process.hrtime.bigint();
      } else failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.window, n) }, worker));
  return { ok, failed, startNs, endNs };
}

async function connectAll(): Promise<void> {
  const first = await openMany(spec.pauseAt);
  send({ type: 'half', ok: first.ok, failed: first.failed, startNs: String(first.startNs), endNs: String(first.endNs) });
  await new Promise<void>((r) => (resume = r));
  const rest = await openMany(spec.streams - spec.pauseAt);
  send({
    type: 'connected',
    ok: first.ok + rest.ok,
    failed: first.failed + rest.failed,
    startNs: String(rest.startNs),
    endNs: String(rest.endNs),
  });
}

let resume: (() => void) | undefined;

function expect(quietMs: number): void {
  const open = streams.filter((s) => !s.closed);
  const since = Date.now();
  const timer = setInterval(() => {
    const done = open.every((s) => s.gotNs !== undefined || s.closed);
    if (!done && Date.now() - Math.max(since, lastReceiptMs) < quietMs) return;
    clearInterval(timer);
    const atNs = open.filter((s) => s.gotNs !== undefined).map((s) => String(s.gotNs));
    send({ type: 'received', atNs, open: open.length });
  }, 10);
}

process.on('message', (msg: ToCapLoad) => {
  if (msg.type === 'resume') resume?.();
  else if (msg.type === 'beats') send({ type: 'beats', heartbeats, open: streams.filter((s) => !s.closed).length });
  else if (msg.type === 'expect') expect(msg.quietMs);
  else if (msg.type === 'probe') {
    void openMany(msg.streams, 5000).then((r) => send({ type: 'probed', ok: r.ok, failed: r.failed }));
  } else if (msg.type === 'close') {
    // A reset leaves no TIME_WAIT behind to hold the source ports of the next server's run.
    for (const s of sockets) {
      try {
        s.resetAndDestroy();
      } catch {
        s.destroy();
      }
    }
    setTimeout(() => process.exit(0), 50);
  }
});
process.on('disconnect', () => process.exit(0));
void connectAll();
