/**
 * A raw TCP client for the tests over real node:http servers: it writes a request as is and keeps
 * every byte the server sends, so a test can check the wire exactly (chunk framing, what follows a
 * response on a keep-alive connection, a gzip stream).
 */
import net from 'node:net';

/** What a {@link rawClient} has read, and its socket. */
export interface RawClient {
  /** Everything read so far, as latin1 text (one character per byte). */
  readonly text: string;
  /** Everything read so far, as bytes. */
  readonly bytes: Buffer;
  /** The last piece read, without joining everything. */
  readonly tail: Buffer;
  /** The server ended its side. */
  readonly ended: boolean;
  /** The connection closed. */
  readonly closed: boolean;
  readonly socket: net.Socket;
}

/**
 * Connects to 127.0.0.1:`port` and writes `request`. The socket is pushed onto `sockets`, for the
 * test's cleanup to destroy.
 */
export function rawClient(port: number, request: string, sockets: net.Socket[]): RawClient {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  const chunks: Buffer[] = [];
  let text = '';
  let tail = Buffer.alloc(0) as Buffer;
  let ended = false;
  let closed = false;
  socket.on('data', (b: Buffer) => {
    chunks.push(b);
    text += b.toString('latin1');
    tail = b;
  });
  socket.on('end', () => (ended = true));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  socket.write(request);
  return {
    get text() {
      return text;
    },
    get bytes() {
      // Joined once per read, not on every piece that arrives.
      if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks));
      return chunks[0] ?? Buffer.alloc(0);
    },
    get tail() {
      return tail;
    },
    get ended() {
      return ended;
    },
    get closed() {
      return closed;
    },
    socket,
  };
}
