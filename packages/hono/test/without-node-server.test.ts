/**
 * Node bindings in `c.env` but no `@hono/node-server` RESPONSE_ALREADY_SENT to answer with (the
 * package is not installed, or too old to export it): the handler must not write on the Node
 * response, since nothing would stop the server writing its own answer after it, and streams on a
 * Web `ReadableStream` instead. The package's absence is simulated by a module factory; the server,
 * the socket and the hub are real.
 */
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { createHub, type Hub } from '@ssehub/core';
import { encodeEvent } from '@ssehub/core/adapter';
import type { sse as SseFn } from '@ssehub/hono';

const MODULE = '@hono/node-server/utils/response';

let hub: Hub;
let server: Server | undefined;
afterEach(async () => {
  jest.dontMock(MODULE);
  await hub.close();
  await new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
  server = undefined;
});

/** A fresh copy of the adapter, loading `@hono/node-server/utils/response` through `factory`. */
function adapterWith(factory: () => unknown): typeof SseFn {
  let sse: typeof SseFn | undefined;
  jest.isolateModules(() => {
    jest.doMock(MODULE, factory);
    sse = (require('@ssehub/hono') as { sse: typeof SseFn }).sse;
  });
  return sse!;
}

const CASES: [string, () => unknown][] = [
  [
    'is not installed',
    () => {
      throw new Error(`Cannot find module '${MODULE}'`);
    },
  ],
  ['does not export RESPONSE_ALREADY_SENT', () => ({})],
];

it.each(CASES)('when @hono/node-server %s: answers with a Web stream and leaves the Node response alone', async (_name, factory) => {
  const sse = adapterWith(factory);
  hub = createHub({ heartbeat: 0 });
  const app = new Hono();
  app.get('/events', sse(hub));
  const answers: { res: Response; headSent: boolean }[] = [];
  server = http.createServer(async (incoming, outgoing) => {
    const res = await app.fetch(new Request('http://127.0.0.1/events'), { incoming, outgoing });
    answers.push({ res, headSent: outgoing.headersSent });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const req = http.get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/events`);
  req.on('error', () => undefined);
  try {
    const end = Date.now() + 5000;
    while (answers.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(answers).toHaveLength(1);
    const { res, headSent } = answers[0]!;
    expect(headSent).toBe(false);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(hub.size).toBe(1);
    const reader = res.body!.getReader();
    const id = hub.broadcast({ data: 'web' });
    // The Web stream's lead (':\n', so headers go out at once on every runtime), then the event.
    expect(Buffer.from((await reader.read()).value!).toString()).toBe(':\n');
    const { value } = await reader.read();
    expect(Buffer.from(value!).toString()).toBe(Buffer.from(encodeEvent({ data: 'web' }, id)).toString());
    await reader.cancel();
  } finally {
    req.destroy();
  }
});
