/**
 * Compiled by `pnpm check:packages` against the packed tarballs of @ssehub/core, @ssehub/fetch and
 * @ssehub/client, with no @types/node anywhere (tsconfig.json: `"types": []`, DOM and ES2022 only,
 * skipLibCheck off). It fails if the declarations an app (or a browser, Bun, Deno, a worker) uses
 * reach for a Node type. `@ssehub/core/adapter/node` is Node-only by design and is not imported.
 */
import { createHub, Hub, SseHubError, validateMessage, type HubMessage, type HubOptions, type HubStats, type Delivered } from '@ssehub/core';
import { webStreamHandler } from '@ssehub/core/adapter';
import { sse, publish, type FetchHandler } from '@ssehub/fetch';
import { subscribe, type SseEvent, StreamError } from '@ssehub/client';

type Events = { price: { symbol: string; px: number }; note: string };

const options: HubOptions = { history: 100, heartbeat: 15_000, retry: 3000 };
const hub = createHub<Events>(options);
const plain: Hub = new Hub({ history: 10 });

const id: string = hub.broadcast({ event: 'price', data: { symbol: 'ACME', px: 1 } });
hub.broadcastTo('user-42', { event: 'note', data: 'just you' });
// @ts-expect-error: a note's payload is a string
hub.broadcast({ event: 'note', data: 42 });
const message: HubMessage<Events> = { event: 'note', data: 'hi', channel: 'room-1' };
hub.send(message, { to: 'user-42' });
plain.broadcast({ data: 'anything' });

const stats: HubStats = hub.stats();
const ready: boolean = hub.health().ready;

async function follow(): Promise<void> {
  for await (const delivered of hub.listen()) {
    const d: Delivered = delivered;
    void d;
  }
}

const GET: FetchHandler = sse(hub, { cors: { origins: '*' } });
const POST: FetchHandler = publish(hub, { token: 'secret' });
const stream = webStreamHandler(hub);

async function client(): Promise<void> {
  const events = subscribe('http://127.0.0.1:3000/events', { lastEventId: id });
  for await (const ev of events) {
    const e: SseEvent = ev;
    void e.data;
  }
  const why: unknown = await events.closed;
  if (why instanceof StreamError) void why.kind;
}

try {
  validateMessage({ data: 'x' });
} catch (err) {
  if (err instanceof SseHubError) void err.code;
}

void [stats, ready, follow, GET, POST, stream, client, hub.drain({ within: 1000 }), hub.close()];
