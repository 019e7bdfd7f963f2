/**
 * @ssehub/koa on `node:http2` (`http2.createServer(app.callback())`), as packages/koa/README.md says
 * it runs: headers before any event, events, and the stream released when the client closes it.
 * (Express does not run on node:http2 at all, an Express limitation: its README says so.)
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createHub } from '@ssehub/core';
import { sse } from '@ssehub/koa';
import { waitUntil } from '../src/clients';

it('Koa serves a stream on node:http2', async () => {
  const hub = createHub({ heartbeat: 0 });
  const app = new Koa();
  app.use(sse(hub));
  const server = http2.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    const req = session.request({ ':path': '/events', accept: 'text/event-stream' });
    let headers: http2.IncomingHttpHeaders | undefined;
    let body = '';
    req.on('response', (h) => (headers = h));
    req.setEncoding('utf8');
    req.on('data', (s: string) => (body += s));
    await waitUntil(() => headers !== undefined, 'the response headers');
    expect(headers![':status']).toBe(200);
    expect(headers!['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(hub.size).toBe(1);
    const id = hub.broadcast({ data: 'over h2' });
    await waitUntil(() => body.endsWith('\n\n'), 'the event');
    expect(body).toBe(`id: ${id}\ndata: over h2\n\n`);
    req.close();
    await waitUntil(() => hub.size === 0, 'the closed stream to be released');
  } finally {
    session.close();
    await hub.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
