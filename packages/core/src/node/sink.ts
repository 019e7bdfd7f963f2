import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Sink } from '../sink';
import { encodeComment } from '../wire/encoder';
import { frameChunk } from './chunked';
import { onResponseGone } from './close';

/**
 * The first bytes of every stream, a lone `:` line (no blank line, so no client sees an event in it).
 * A proxy that holds a response's headers until its first body bytes (nginx over HTTP/2) forwards
 * them at once. One buffer for all streams: on the direct path it is framed once.
 */
export const NODE_LEAD = encodeComment();

/** A `ServerResponse` as some middleware leaves it: `compression` adds `flush()`. */
type FlushableResponse = ServerResponse & { flush?: () => void };

/** Fields of Node's `OutgoingMessage` the direct path checks (present since Node 0.x, not in the types). */
interface ResponseInternals {
  chunkedEncoding?: boolean;
  _hasBody?: boolean;
  /** Own data property behind the `writableEnded` getter. */
  finished: boolean;
}

/**
 * A sink over a Node `http.ServerResponse` (Express, Koa, `@hono/node-server`, plain `node:http`).
 * Sends the status and headers at once, so the client's `open` fires before the first event.
 * On a plain chunked HTTP/1.1 response it writes each event as a pre-framed chunk straight to the
 * socket, framed once per broadcast for all recipients; otherwise (compression middleware,
 * HTTP/1.0, HTTP/2) through `res.write`.
 */
export class NodeSink implements Sink {
  private closed = false;
  private readonly res: FlushableResponse & ResponseInternals;
  /** Set when events go straight to the socket as pre-framed chunks (see {@link directSocket}). */
  private readonly socket: Socket | undefined;
  /** What runs when the response closes: one listener for all, a few hundred bytes less per connection. */
  private closeFn: (() => void) | undefined;

  constructor(res: ServerResponse, headers: Record<string, string>) {
    this.res = res as FlushableResponse & ResponseInternals;
    res.writeHead(200, headers);
    res.flushHeaders();
    // Nagle would hold small events back for up to 40 ms behind an unacknowledged one.
    res.socket?.setNoDelay(true);
    this.socket = directSocket(res);
    onResponseGone(res, () => {
      this.closed = true;
      const fn = this.closeFn;
      this.closeFn = undefined;
      fn?.();
    });
    this.write(NODE_LEAD);
  }

  /**
   * True when events go straight to the socket as pre-framed chunks (the fast path), false when they
   * go through `res.write` (compression middleware, HTTP/1.0, HTTP/2, a queued pipelined response,
   * or a Node whose response internals are not the shape this path was written for).
   */
  get direct(): boolean {
    return this.socket !== undefined;
  }

  write(chunk: Uint8Array): boolean {
    // `finished`, not the `writableEnded` getter: on Express's deep response prototype chain the
    // getter lookup costs more than the socket write.
    if (this.closed || this.res.finished) return true;
    if (this.socket) {
      // The peer's FIN ends the socket before the response emits 'close': a write then would error.
      if (this.socket.writableEnded || this.socket.destroyed) return true;
      // An empty chunk would end the body; Node's own write skips it too.
      return chunk.byteLength === 0 || this.socket.write(frameChunk(chunk));
    }
    const ok = this.res.write(chunk);
    // `compression` buffers unless flushed; call it only where it exists.
    if (typeof this.res.flush === 'function') this.res.flush();
    return ok;
  }

  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  onDrain(fn: () => void): void {
    // Direct writes bypass the response, which then never emits 'drain': the socket does.
    (this.socket ?? this.res).once('drain', fn);
  }

  onClose(fn: () => void): void {
    if (this.closed) queueMicrotask(fn);
    else {
      const prev = this.closeFn;
      this.closeFn = prev ? () => (prev(), fn()) : fn;
    }
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }

  destroy(): void {
    this.closed = true;
    this.res.destroy();
  }
}

/**
 * Whether this Node's responses have the internals the direct path reads, checked once on the first
 * response: `chunkedEncoding`, `_hasBody` and `finished` as booleans, and `write` defined by
 * `OutgoingMessage`. A Node that changed them gets the public `res.write` path, never a guess.
 */
let internalsKnown: boolean | undefined;

function checkInternals(res: ServerResponse): boolean {
  const r = res as ServerResponse & ResponseInternals;
  return (
    typeof r.chunkedEncoding === 'boolean' &&
    typeof r._hasBody === 'boolean' &&
    typeof r.finished === 'boolean' &&
    writeOwner(res) !== undefined
  );
}

/** The name of the class whose prototype defines the `write` this response uses. */
function writeOwner(res: ServerResponse): string | undefined {
  let owner: object | null = res;
  while (owner && !Object.prototype.hasOwnProperty.call(owner, 'write')) owner = Object.getPrototypeOf(owner);
  return (owner as { constructor?: { name?: string } } | null)?.constructor?.name;
}

/**
 * The socket a response's events may be written to directly, as pre-framed HTTP/1.1 chunks that
 * every recipient of a broadcast shares: one socket write per event instead of four, and no per-write
 * copy. Only for a chunked HTTP/1.1 response that owns its socket (not a pipelined one still
 * waiting for it) and whose `write` is Node's own: middleware that wraps `write` (compression, body
 * loggers) gets every byte through it. `res.end()` still writes the last chunk, so Node's state stays
 * consistent and the connection can be reused.
 */
function directSocket(res: ServerResponse): Socket | undefined {
  const socket = res.socket as Socket | null;
  if (!socket) return undefined;
  internalsKnown ??= checkInternals(res);
  const internals = res as ServerResponse & ResponseInternals;
  if (!internalsKnown || internals.chunkedEncoding !== true || internals._hasBody === false) return undefined;
  return writeOwner(res) === 'OutgoingMessage' ? socket : undefined;
}
