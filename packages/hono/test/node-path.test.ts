/**
 * The Hono handler's two paths: with Node bindings in `c.env` it streams on the Node response
 * underneath (`c.env.outgoing`) and answers with `@hono/node-server`'s RESPONSE_ALREADY_SENT;
 * anywhere else (here `app.request`, no Node bindings) on a Web stream. The same on real
 * `@hono/node-server` servers, both majors: packages/testing/test/hono-node-server.test.ts.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import { Hono } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { createHub, type Hub } from '@ssehub/core';
import { encodeEvent } from '@ssehub/core/adapter';
import { sse } from '@ssehub/hono';

let hub: Hub;
afterEach(() => hub.close());

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function chunk(bytes: Uint8Array): string {
  return `${bytes.byteLength.toString(16)}\r\n${Buffer.from(bytes).toString('latin1')}\r\n`;
}

it('with Node bindings in c.env: answers with the already-sent marker and streams on the Node response', async () => {
  hub = createHub({ heartbeat: 0 });
  const app = new Hono();
  app.get('/events', sse(hub));
  const answers: Response[] = [];
  const server = http.createServer(async (incoming, outgoing) => {
    answers.push(await app.fetch(new Request('http://127.0.0.1/events'), { incoming, outgoing }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  try {
    let text = '';
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => answers.length === 1 && text.includes('\r\n\r\n'), 'the stream to open');
    // @hono/node-server's documented marker: its headers, no body.
    const entries = (h: Headers) => {
      const out: [string, string][] = [];
      h.forEach((value, key) => out.push([key, value]));
      return out;
    };
    expect(entries(answers[0]!.headers)).toEqual(entries(RESPONSE_ALREADY_SENT.headers));
    expect(entries(answers[0]!.headers).length).toBeGreaterThan(0);
    expect(answers[0]!.body).toBeNull();
    expect(answers[0]).not.toBe(RESPONSE_ALREADY_SENT);
    const id = hub.broadcast({ data: 'node' });
    const event = chunk(encodeEvent({ data: 'node' }, id));
    await until(() => text.endsWith(event), 'the event on the Node response');
  } finally {
    socket.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
});

it('without Node bindings: answers with a Web stream', async () => {
  hub = createHub({ heartbeat: 0 });
  const app = new Hono();
  app.get('/events', sse(hub));
  const res = await app.request('/events');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect(hub.size).toBe(1);
  const reader = res.body!.getReader();
  expect(Buffer.from((await reader.read()).value!).toString()).toBe(':\n');
  const id = hub.broadcast({ data: 'web' });
  const { value } = await reader.read();
  expect(Buffer.from(value!).toString()).toBe(Buffer.from(encodeEvent({ data: 'web' }, id)).toString());
  await reader.cancel();
  await until(() => hub.size === 0, 'the cancelled stream to be released');
});
