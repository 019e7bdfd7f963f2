import type { Message } from '../message';

const utf8 = new TextEncoder();
const LINE_BREAK = /\r\n|\r|\n/;

/** The text of `data` as it goes on the wire: strings verbatim, anything else as JSON. */
export function dataText(data: unknown): string {
  if (typeof data === 'string') return data;
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    // Circular structures and BigInt throw.
    throw new TypeError('ssehub: message.data must be a string or JSON-serialisable', { cause: err });
  }
  if (json === undefined) throw new TypeError('ssehub: message.data must be a string or JSON-serialisable');
  return json;
}

/**
 * Encodes one event to the bytes of the SSE wire format, ending with the blank line that dispatches it.
 * Data is split on CRLF, CR and LF into `data: ` lines (with the space, so a leading space survives).
 * Call `validateMessage` first; this function trusts its input.
 */
export function encodeEvent(msg: Message, id: string | undefined): Uint8Array {
  let out = '';
  if (id !== undefined) out += `id: ${id}\n`;
  if (msg.event !== undefined) out += `event: ${msg.event}\n`;
  if (msg.retry !== undefined) out += `retry: ${msg.retry}\n`;
  const text = dataText(msg.data);
  // Fast path: most payloads (JSON included) have no line break.
  if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1) out += `data: ${text}\n\n`;
  else out += `data: ${text.split(LINE_BREAK).join('\ndata: ')}\n\n`;
  return utf8.encode(out);
}

/**
 * A comment line (`:` or `: text`), as used for heartbeats: one line and no blank line after it.
 * A comment alone needs no dispatch, and a client that dispatches an event on every blank line,
 * even one with no data, would report a blank line after it as an empty event.
 * Line breaks in the text are replaced by spaces.
 */
export function encodeComment(text = ''): Uint8Array {
  return utf8.encode(`:${text ? ' ' + text.replace(/[\r\n]/g, ' ') : ''}\n`);
}

/**
 * The `retry:` field sent first on every stream when the hub has a `retry` option: one line, with no
 * blank line after it. Clients apply `retry` as the line is read, and the first event's blank line
 * closes the block, so no client sees an empty event for it.
 */
export function encodeRetry(ms: number): Uint8Array {
  return utf8.encode(`retry: ${ms}\n`);
}

/** An id-only block: it moves the client's last event id without firing an event (an empty id resets it). */
export function encodeIdOnly(id: string): Uint8Array {
  return utf8.encode(`id: ${id}\n\n`);
}

/** Concatenates byte chunks into one (returns the chunk itself when there is one). */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let size = total ?? 0;
  if (total === undefined) for (const c of chunks) size += c.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
