/**
 * The Hono handler's two paths: on @hono/node-server it streams on the Node response underneath
 * (`c.env.outgoing`); anywhere else (here `app.request`, no Node bindings) on a Web stream.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import http, { type Server } from 'node:http';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { createHub, encodeEvent, type Hub } from '@ssehub/core';
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

it('on @hono/node-server: streams on the Node response, with headers set by earlier middleware', async () => {
  hub = createHub({ heartbeat: 0 });
  const app = new Hono();
  app.use('/events', async (c, next) => {
    c.header('X-From-Middleware', 'yes');
    await next();
  });
  app.get('/events', sse(hub, { headers: { 'X-From-Options': 'also' } }));
  app.get('/other', (c) => c.text('nope', 404));
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  try {
    let text = '';
    socket.on('data', (b: Buffer) => (text += b.toString('latin1')));
    socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => hub.size === 1 && text.includes('\r\n\r\n'), 'the stream to open');
    const head = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toMatch(/^http\/1\.1 200 ok/);
    expect(head).toContain('content-type: text/event-stream; charset=utf-8');
    expect(head).toContain('x-from-middleware: yes');
    expect(head).toContain('x-from-options: also');
    expect(head).not.toContain('x-hono-already-sent');

    const id = hub.broadcast({ data: 'hi ü' });
    const event = chunk(encodeEvent({ data: 'hi ü' }, id));
    await until(() => text.endsWith(event), 'the event');
    await hub.close();
    const body = event + '0\r\n\r\n';
    await until(() => text.endsWith('0\r\n\r\n'), 'the end of the stream');
    expect(text.slice(text.indexOf('\r\n\r\n') + 4)).toBe(body);

    // node-server wrote nothing more for the handler's response, and the stream's connection ends with it.
    expect(head).toContain('connection: close');
    let ended = false;
    socket.on('close', () => (ended = true));
    await until(() => ended || socket.destroyed, 'the connection to close');
    expect(text.slice(text.indexOf('\r\n\r\n') + 4)).toBe(body);
  } finally {
    socket.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
});

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
    expect(answers[0]!.headers.get('x-hono-already-sent')).toBe('true');
    expect(answers[0]!.body).toBeNull();
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
