/**
 * The rules for what may reach the wire, in one place: `broadcast`, the publish API and stream
 * admission all ask here, and get the field at fault and what is wrong with it.
 */

/** What is wrong with one field: `{ field: 'id', problem: 'must not be empty' }`. */
export interface FieldProblem {
  /** The field at fault (`message` for the message as a whole). */
  readonly field: 'data' | 'event' | 'id' | 'retry' | 'channel' | 'clientId' | 'message';
  /** Reads after the field's name: `message.${field} ${problem}`. */
  readonly problem: string;
}

/** Limits a hub applies on top of the wire rules. */
export interface MessageLimits {
  /** The longest id accepted: a longer Last-Event-ID is never looked up, so it could not resume. Default: 256. */
  maxIdLength?: number;
}

/** The longest event id by default; the hub's `maxLastEventIdLength` overrides it. */
export const DEFAULT_MAX_ID_LENGTH = 256;

// CR or LF would inject fields or events; NUL makes clients drop an id (and splits shared channel lists).
const LINE_BREAK_OR_NUL = /[\r\n\0]/;
// Visible ASCII with inner spaces: what every client sends back unchanged as a Last-Event-ID header
// (HTTP trims outer spaces; Node clients refuse or mangle non-ASCII header values).
const ID_CHARS = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
// A lone surrogate has no UTF-8 form: TextEncoder would silently send U+FFFD instead.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Checks an event id: 1 to `maxLength` characters of visible ASCII (0x21-0x7E), spaces allowed
 * inside. Such an id comes back unchanged in every common client's Last-Event-ID header.
 * @returns the problem, or undefined when the id is fine.
 */
export function idProblem(id: unknown, maxLength = DEFAULT_MAX_ID_LENGTH): string | undefined {
  if (typeof id !== 'string') return 'must be a string';
  if (id === '') return 'must not be empty (an empty id resets the client)';
  if (id.length > maxLength) return `must be at most ${maxLength} characters (a longer Last-Event-ID is not looked up)`;
  if (!ID_CHARS.test(id)) {
    return 'must be visible ASCII (0x21-0x7E, spaces only inside): other characters do not come back unchanged in Last-Event-ID';
  }
  return undefined;
}

/**
 * Checks a channel name: a non-empty string without CR, LF, NUL or a lone surrogate. The same rule
 * holds at subscribe (400), in `broadcast` (TypeError) and in the publish API (400).
 * @returns the problem, or undefined when the name is fine.
 */
export function channelProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name === '') return 'must not be empty';
  if (LINE_BREAK_OR_NUL.test(name)) return 'must not contain CR, LF or NUL';
  if (!isWellFormed(name)) return 'must not contain a lone surrogate';
  return undefined;
}

/**
 * Checks a message before anything is sent: `data` present (JSON-serialisability is checked when it is encoded),
 * `event` a non-empty name without CR, LF or NUL, `id` as {@link idProblem}, `retry` a non-negative
 * integer, `channel` one name or a non-empty list as {@link channelProblem}; no lone surrogates.
 * @returns the first problem found, or undefined when the message can be sent exactly as given.
 */
export function messageProblem(msg: unknown, limits: MessageLimits = {}): FieldProblem | undefined {
  if (msg === null || typeof msg !== 'object') return { field: 'message', problem: 'must be an object like { data }' };
  const m = msg as Record<string, unknown>;
  if (m.data === undefined) return { field: 'data', problem: 'is required' };
  // Other data is checked when it is encoded (once, before anyone gets it): stringifying it here would double the cost.
  if (typeof m.data === 'string' && !isWellFormed(m.data)) {
    return { field: 'data', problem: 'must not contain a lone surrogate (it has no UTF-8 form)' };
  }
  if (m.event !== undefined) {
    if (typeof m.event !== 'string') return { field: 'event', problem: 'must be a string' };
    if (m.event === '') return { field: 'event', problem: 'must not be empty' };
    if (LINE_BREAK_OR_NUL.test(m.event)) return { field: 'event', problem: 'must not contain CR, LF or NUL' };
    if (!isWellFormed(m.event)) return { field: 'event', problem: 'must not contain a lone surrogate' };
  }
  if (m.id !== undefined) {
    const problem = idProblem(m.id, limits.maxIdLength);
    if (problem) return { field: 'id', problem };
  }
  if (m.retry !== undefined && !(Number.isSafeInteger(m.retry) && (m.retry as number) >= 0)) {
    return { field: 'retry', problem: `must be a non-negative integer, got ${String(m.retry)}` };
  }
  if (m.channel !== undefined) {
    const list = Array.isArray(m.channel) ? (m.channel as unknown[]) : [m.channel];
    if (list.length === 0) return { field: 'channel', problem: 'must not be an empty list' };
    for (const ch of list) {
      const problem = channelProblem(ch);
      if (problem) return { field: 'channel', problem };
    }
  }
  return undefined;
}

/**
 * Throws a TypeError naming the field when a message cannot be sent exactly as given (see
 * {@link messageProblem}). Nothing is sent when it throws.
 */
export function validateMessage(msg: unknown, limits?: MessageLimits): void {
  const p = messageProblem(msg, limits);
  if (p) throw new TypeError(`ssehub: ${p.field === 'message' ? 'a message' : `message.${p.field}`} ${p.problem}`);
}

/** Throws a TypeError when a channel name breaks {@link channelProblem}'s rule. */
export function validateChannel(name: unknown): void {
  const problem = channelProblem(name);
  if (problem) throw new TypeError(`ssehub: channel ${problem}`);
}

/** True when a string has no lone surrogate (native `isWellFormed` where the runtime has it). */
export function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === 'function' ? native.call(s) : !LONE_SURROGATE.test(s);
}

