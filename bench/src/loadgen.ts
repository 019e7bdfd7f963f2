/**
 * The load generator, in its own process: opens N raw TCP connections that GET /events and counts
 * events with minimal parsing (a blank line `\n\n` ends an event; heartbeats are off in the bench).
 * A few sample connections also read each event's send time to measure latency.
 * `node --import tsx loadgen.ts '<LoadSpec as JSON>'`
 */
import net from 'node:net';
import type { FromLoad, LoadSpec, ToLoad } from './protocol';

const NLNL = Buffer.from('\n\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const LF = 10;
/** Connections opened at once, so the server's accept backlog never overflows. */
const CONNECT_BATCH = 250;

interface Conn {
  socket: net.Socket;
  count: number;
  /** The last byte seen was LF: a blank line may straddle two reads. */
  lastLf: boolean;
  headerDone: boolean;
  head: Buffer;
  sample: boolean;
  stalled: boolean;
  closed: boolean;
  /** Sample connections: text not yet scanned for send times. */
  carry: string;
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const conns: Conn[] = [];
const latenciesUs: number[] = [];
let lastNs = 0n;
let progress = 0;

function send(msg: FromLoad): void {
  process.send!(msg);
}

const TIME = /"t":"(\d{16})"/g;

function onBody(c: Conn, buf: Buffer, from: number): void {
  const now = process.hrtime.bigint();
  let n = 0;
  if (c.lastLf && buf[from] === LF) n++;
  let i = buf.indexOf(NLNL, from);
  while (i !== -1) {
    n++;
    i = buf.indexOf(NLNL, i + 2);
  }
  c.lastLf = buf.length > from && buf[buf.length - 1] === LF;
  if (n === 0) return;
  c.count += n;
  progress += n;
  lastNs = now;
  if (c.sample) {
    const text = c.carry + buf.toString('latin1', from);
    let end = 0;
    TIME.lastIndex = 0;
    for (let m = TIME.exec(text); m; m = TIME.exec(text)) {
      latenciesUs.push(Number(now - BigInt(m[1]!)) / 1000);
      end = TIME.lastIndex;
    }
    // Keep an unfinished tail (a send time cut by the read) for the next read.
    c.carry = text.slice(Math.max(end, text.length - 40));
  }
}

function connect(i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const stride = spec.samples > 0 ? Math.max(1, Math.floor(spec.clients / spec.samples)) : Infinity;
    const socket = net.connect({ port: spec.port, host: '127.0.0.1' });
    const c: Conn = {
      socket,
      count: 0,
      lastLf: false,
      headerDone: false,
      head: Buffer.alloc(0),
      sample: i % stride === 0 && i / stride < spec.samples,
      stalled: i >= spec.clients - spec.stalled,
      closed: false,
      carry: '',
    };
    let settled = false;
    const settle = (ok: boolean) => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    socket.on('connect', () => {
      socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    });
    socket.on('data', (buf: Buffer) => {
      if (c.headerDone) return onBody(c, buf, 0);
      c.head = Buffer.concat([c.head, buf]);
      const at = c.head.indexOf(HEAD_END);
      if (at === -1) return;
      c.headerDone = true;
      const ok = c.head.subarray(0, 12).toString('latin1') === 'HTTP/1.1 200';
      const rest = c.head;
      c.head = Buffer.alloc(0);
      conns.push(c);
      settle(ok);
      // A stalled client stops reading here: the kernel buffers fill, then the server's.
      if (c.stalled) socket.pause();
      else onBody(c, rest, at + 4);
    });
    socket.on('error', () => settle(false));
    socket.on('close', () => {
      c.closed = true;
      settle(false);
    });
  });
}

let resume: (() => void) | undefined;

async function connectAll(): Promise<void> {
  let ok = 0;
  let failed = 0;
  for (let i = 0; i < spec.clients; ) {
    const end = Math.min(spec.clients, i + CONNECT_BATCH, i < spec.pauseAt ? spec.pauseAt : Infinity);
    const batch: Promise<boolean>[] = [];
    for (let j = i; j < end; j++) batch.push(connect(j));
    for (const r of await Promise.all(batch)) {
      if (r) ok++;
      else failed++;
    }
    i = end;
    if (i === spec.pauseAt && i < spec.clients) {
      send({ type: 'half', ok });
      await new Promise<void>((r) => (resume = r));
    }
  }
  send({ type: 'connected', ok, failed });
}

function watch(events: number, quietMs: number): void {
  let lastProgress = progress;
  let lastChange = Date.now();
  const readers = conns.filter((c) => !c.stalled);
  const timer = setInterval(() => {
    const complete = readers.every((c) => c.count >= events || c.closed);
    if (progress !== lastProgress) {
      lastProgress = progress;
      lastChange = Date.now();
    }
    if (!complete && Date.now() - lastChange < quietMs) return;
    clearInterval(timer);
    send({
      type: 'done',
      counts: readers.map((c) => c.count),
      latenciesUs,
      lastNs: String(lastNs),
      stalledClosed: conns.filter((c) => c.stalled && (c.closed || c.socket.destroyed)).length,
    });
  }, 20);
}

process.on('message', (msg: ToLoad) => {
  if (msg.type === 'resume') resume?.();
  else if (msg.type === 'expect') watch(msg.events, msg.quietMs);
  else if (msg.type === 'close') {
    for (const c of conns) c.socket.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
void connectAll();
