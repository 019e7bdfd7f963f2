import type { Message } from './message';

const utf8 = new TextEncoder();
// A field value that contains any of these would inject fields or events, or (NUL in id) be dropped by the client.
const FORBIDDEN_IN_FIELD = /[\r\n\0]/;
const LINE_BREAK = /\r\n|\r|\n/;
// A lone surrogate has no UTF-8 form: TextEncoder would silently send U+FFFD instead.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws a TypeError when a message cannot be sent exactly as given. Nothing is sent when it throws. */
export function validateMessage(msg: Message): void {
  if (msg === null || typeof msg !== 'object') throw new TypeError('ssehub: a message must be an object like { data }');
  if (msg.data === undefined) throw new TypeError('ssehub: message.data is required');
  if (typeof msg.data === 'string' && !isWellFormed(msg.data)) {
    throw new TypeError('ssehub: message.data must not contain a lone surrogate (it has no UTF-8 form)');
  }
  checkField('event', msg.event);
  checkField('id', msg.id);
  if (msg.id === '') throw new TypeError('ssehub: message.id must not be empty (an empty id resets the client)');
  if (Array.isArray(msg.channel)) {
    if (msg.channel.length === 0) throw new TypeError('ssehub: message.channel must not be an empty list');
    for (const ch of msg.channel) checkField('channel', ch);
  } else {
    checkField('channel', msg.channel);
  }
  if (msg.retry !== undefined && !(Number.isSafeInteger(msg.retry) && msg.retry >= 0)) {
    throw new TypeError(`ssehub: message.retry must be a non-negative integer, got ${String(msg.retry)}`);
  }
}

function checkField(name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'string') throw new TypeError(`ssehub: message.${name} must be a string`);
  if (FORBIDDEN_IN_FIELD.test(value)) {
    throw new TypeError(`ssehub: message.${name} must not contain CR, LF or NUL`);
  }
  if (!isWellFormed(value)) throw new TypeError(`ssehub: message.${name} must not contain a lone surrogate`);
}

/** True when a string has no lone surrogate (native `isWellFormed` where the runtime has it). */
function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === 'function' ? native.call(s) : !LONE_SURROGATE.test(s);
}

/** The text of `data` as it goes on the wire: strings verbatim, anything else as JSON. */
export function dataText(data: unknown): string {
  if (typeof data === 'string') return data;
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError('ssehub: message.data is not JSON-serialisable');
  return json;
}

/**
 * Encodes one event to the bytes of the SSE wire format, ending with the blank line that dispatches it.
 * Data is split on CRLF, CR and LF into `data: ` lines (with the space, so a leading space survives).
 * Call {@link validateMessage} first; this function trusts its input.
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

/** A comment line (`: text`), as used for heartbeats. Line breaks in the text are stripped. */
export function encodeComment(text = ''): Uint8Array {
  return utf8.encode(`:${text ? ' ' + text.replace(/[\r\n]/g, ' ') : ''}\n\n`);
}

/** A lone `retry:` field, sent first on every stream when the hub has a `retry` option. */
export function encodeRetry(ms: number): Uint8Array {
  return utf8.encode(`retry: ${ms}\n\n`);
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
