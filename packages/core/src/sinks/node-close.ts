import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Calls `fn` once, when the response closes or, over HTTP/1, when its connection closes, whichever
 * comes first. A response queued behind another on a pipelined connection has no socket yet and
 * never emits 'close' when the connection goes away; its connection does. The connection listener
 * is removed when the response closes, so streams served one after another on a keep-alive
 * connection leave nothing behind.
 */
export function onResponseGone(res: ServerResponse, fn: () => void): void {
  // `res.req` is public since Node 15.7; HTTP/2 streams report their own reset as the response's 'close'.
  const req = (res as ServerResponse & { req?: IncomingMessage }).req;
  const connection = req && req.httpVersionMajor === 1 ? req.socket : undefined;
  let done = false;
  const gone = () => {
    if (done) return;
    done = true;
    res.off('close', gone);
    connection?.off('close', gone);
    fn();
  };
  res.on('close', gone);
  if (!connection) return;
  // The peer may have left while the request waited (an authorize hook, say): release at once.
  if (connection.destroyed) queueMicrotask(gone);
  else connection.on('close', gone);
}
