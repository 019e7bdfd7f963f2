import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Calls `fn` once, when the response closes or its connection does, whichever comes first.
 * A response queued behind another on a pipelined HTTP/1 connection has no socket yet and never
 * emits 'close' when the connection goes away, so for that one the connection is watched too, until
 * the response closes. A response whose peer already left (while `authorize` ran, say) is released
 * at once.
 */
export function onResponseGone(res: ServerResponse, fn: () => void): void {
  // `res.req` is public since Node 15.7; HTTP/2 streams report their own reset as the response's 'close'.
  const req = (res as ServerResponse & { req?: IncomingMessage }).req;
  const queuedOn: Socket | undefined = !res.socket && req?.httpVersionMajor === 1 ? req.socket : undefined;
  let done = false;
  const gone = () => {
    if (done) return;
    done = true;
    res.off('close', gone);
    if (queuedOn) {
      queuedOn.off('close', gone);
      queuedOn.setMaxListeners(Math.max(0, queuedOn.getMaxListeners() - 1));
    }
    fn();
  };
  res.on('close', gone);
  if (queuedOn) {
    if (queuedOn.destroyed) return void queueMicrotask(gone);
    // One listener per queued stream: raise the limit with it, so a long pipeline does not warn.
    queuedOn.setMaxListeners(queuedOn.getMaxListeners() + 1);
    queuedOn.on('close', gone);
  } else if (res.destroyed || res.socket?.destroyed) {
    queueMicrotask(gone);
  }
}
