/**
 * Where a connection's bytes go: the one abstraction between the hub and a transport.
 * The hub writes whole events only, so a multibyte character is never split across writes.
 */
export interface Sink {
  /** Writes bytes; returns false when the transport wants the writer to wait for {@link Sink.onDrain}. */
  write(chunk: Uint8Array): boolean;
  /** Bytes accepted but not yet handed to the network. */
  readonly bufferedBytes: number;
  /** Calls `fn` once, the next time the transport can take more after a `write` returned false. */
  onDrain(fn: () => void): void;
  /** Calls `fn` once when the peer goes away or the stream is ended (by either side). */
  onClose(fn: () => void): void;
  /** Ends the stream gracefully: what is buffered is still sent. */
  end(): void;
  /** Ends the stream at once, dropping what is buffered (for a client that stopped reading). */
  destroy(): void;
}
