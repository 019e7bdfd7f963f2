/**
 * The part of `node:zlib`'s Gzip stream the gzip sinks use, declared here so the types of the Web
 * entry need no `@types/node`.
 */
export interface GzipStream {
  write(chunk: Uint8Array): boolean;
  /** `kind` 2 is `Z_SYNC_FLUSH`: what is written so far leaves the compressor, the window is kept. */
  flush(kind: number, callback?: () => void): void;
  end(): void;
  destroy(): void;
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'end' | 'error' | 'drain', listener: (...args: unknown[]) => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
  readonly writableLength: number;
  readonly readableLength: number;
  readonly writableEnded: boolean;
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
}

/** zlib's `Z_SYNC_FLUSH`, inlined so nothing imports `node:zlib` at run time but {@link createGzip}. */
export const Z_SYNC_FLUSH = 2;

/** node:zlib, imported on first use so core loads nothing Node-only unless compression is asked for. */
let zlib: Promise<{ createGzip(): GzipStream } | undefined> | undefined;

/** A new gzip compressor, or undefined on a runtime without `node:zlib` (the stream is then sent as it is). */
export async function createGzip(): Promise<GzipStream | undefined> {
  zlib ??= import('node:zlib').then(
    (m) => m as unknown as { createGzip(): GzipStream },
    () => undefined,
  );
  return (await zlib)?.createGzip();
}
