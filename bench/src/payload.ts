/**
 * The event every server sends: exactly EVENT_BYTES on the SSE wire (before HTTP chunk framing),
 * whatever fields the server adds around the data, so every server moves the same bytes.
 * The data carries its send time (process.hrtime, the same monotonic clock in every process).
 */

/**
 * How far this process's `process.hrtime` is behind Node's: 0 in Node, whose hrtime is the system's
 * monotonic clock (the load generator reads it too). Bun's hrtime counts from its own start instead,
 * so bun-server.ts sets the offset its relay measured (see server.ts).
 */
let clockOffsetNs = 0n;

/** Sets {@link clockOffsetNs}. */
export function alignClock(offsetNs: bigint): void {
  clockOffsetNs = offsetNs;
}

/** Now, in ns, on the monotonic clock every bench process shares. */
export function nowNs(): bigint {
  return process.hrtime.bigint() + clockOffsetNs;
}

/** Bytes of one event on the SSE wire, id and data lines and the blank line included (scenarios a-c). */
export const EVENT_BYTES = 128;

/** A 16-digit event id, the width of the ids the hub assigns (Date.now() * 1000 + seq). */
export function eventId(n: number): string {
  return String(1_700_000_000_000_000 + n);
}

/**
 * The data text of event `n`, padded so that the event is `size` bytes long once the server's own
 * framing (`overhead` bytes: `id: ...\n`, `data: `, `\n\n`, and `event: message\n` for better-sse)
 * is added.
 */
export function eventData(n: number, overhead: number, size = EVENT_BYTES): string {
  const t = String(nowNs()).padStart(16, '0');
  const head = `{"t":"${t}","n":"${String(n).padStart(6, '0')}","p":"`;
  const pad = size - overhead - head.length - 2;
  if (pad < 0) throw new Error(`bench: event size ${size} too small for overhead ${overhead}`);
  return `${head}${'x'.repeat(pad)}"}`;
}

/** The framing `id: <16 digits>\ndata: ` + `\n\n` around the data of a plain event. */
export const PLAIN_OVERHEAD = 'id: \n'.length + 16 + 'data: '.length + 2;

/** The plain event text: what the hub, node:http and the raw writer send. */
export function plainEvent(n: number, size = EVENT_BYTES): string {
  return `id: ${eventId(n)}\ndata: ${eventData(n, PLAIN_OVERHEAD, size)}\n\n`;
}
