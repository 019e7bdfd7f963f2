/**
 * HTTP/1.1 chunk framing for the Node sink's direct socket path: `<hex length>\r\n<bytes>\r\n`.
 * A broadcast hands the same bytes to every recipient in turn, so the last framing is kept and
 * reused: the chunk is framed once per broadcast, not once per connection.
 */

let lastChunk: Uint8Array | undefined;
let lastFramed: Uint8Array | undefined;

// Node's streams copy a plain Uint8Array into a new Buffer view on every write; a Buffer goes as it is.
const alloc: (size: number) => Uint8Array =
  typeof Buffer === 'function' ? (size) => Buffer.allocUnsafe(size) : (size) => new Uint8Array(size);

/** `bytes` as one HTTP/1.1 chunk. The caller never passes an empty chunk (it would end the body). */
export function frameChunk(bytes: Uint8Array): Uint8Array {
  if (bytes === lastChunk) return lastFramed!;
  const head = bytes.byteLength.toString(16);
  const out = alloc(head.length + bytes.byteLength + 4);
  for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
  out[head.length] = 13;
  out[head.length + 1] = 10;
  out.set(bytes, head.length + 2);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  lastChunk = bytes;
  lastFramed = out;
  return out;
}
