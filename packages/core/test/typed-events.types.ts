/**
 * Compile-time tests of typed events. Nothing here runs: `pnpm typecheck` (tsc over each package test folder)
 * checks it, and each `@ts-expect-error` line fails the check if it ever compiles.
 */
import { createHub, type Hub, type HubMessage } from '@ssehub/core';
import { sse as expressSse } from '@ssehub/express';
import { sse as koaSse } from '@ssehub/koa';
import { sse as honoSse } from '@ssehub/hono';

type Events = {
  price: { symbol: string; px: number };
  note: string;
};

// Hubs are only typed here, never started: declare them so no timer or state exists.
declare const typed: Hub<Events>;
declare const untyped: Hub;

export function typedHub(): void {
  // Payloads that match their event compile.
  typed.broadcast({ event: 'price', data: { symbol: 'ACME', px: 12.5 } });
  typed.broadcast({ event: 'note', data: 'market opens', channel: 'room-1', id: 'n-1', retry: 1000 });
  typed.broadcastTo('user-42', { event: 'price', data: { symbol: 'ACME', px: 13 } });
  typed.broadcastTo('user-42', { event: 'note', data: 'just you' });

  // @ts-expect-error px must be a number
  typed.broadcast({ event: 'price', data: { symbol: 'ACME', px: '12.5' } });
  // @ts-expect-error symbol is missing
  typed.broadcast({ event: 'price', data: { px: 1 } });
  // @ts-expect-error a note is a string, not an object
  typed.broadcast({ event: 'note', data: { text: 'hi' } });
  // @ts-expect-error 'tick' is not in the event map
  typed.broadcast({ event: 'tick', data: 1 });
  // @ts-expect-error with no 'message' key in the map, a message needs an event type
  typed.broadcast({ data: 'no event' });
  // @ts-expect-error broadcastTo checks the payload the same way
  typed.broadcastTo('user-42', { event: 'price', data: 'not a price' });
  // @ts-expect-error broadcastTo rejects an unknown event type
  typed.broadcastTo('user-42', { event: 'tick', data: 1 });
}

export function messageKey(hub: Hub<{ message: string; price: number }>): void {
  // The 'message' key types messages sent with no event (the browser's default type).
  hub.broadcast({ data: 'plain' });
  hub.broadcast({ event: 'message', data: 'explicit' });
  hub.broadcast({ event: 'price', data: 3 });
  // @ts-expect-error a plain message is a string here
  hub.broadcast({ data: 3 });
}

export function untypedHub(): void {
  // With no map any event and payload goes, and the event may be left out.
  untyped.broadcast({ data: 'hi' });
  untyped.broadcast({ event: 'tick', data: { n: 1 } });
  untyped.broadcast({ event: 'anything', data: [1, 2, 3], channel: 'room-1' });
  untyped.broadcastTo('user-42', { data: 'just you' });
  // @ts-expect-error data is still required
  untyped.broadcast({ event: 'tick' });
  // @ts-expect-error retry is a number
  untyped.broadcast({ data: 'x', retry: '1000' });
}

export function factories(): void {
  // createHub infers the map from its type argument, and defaults to untyped.
  const a: Hub<Events> = createHub<Events>({ history: 10, heartbeat: 0 });
  const b: Hub = createHub({ heartbeat: 0 });
  void a;
  void b;
}

export function adaptersTakeTypedHubs(): void {
  // A typed hub plugs into every adapter, as an untyped one does.
  expressSse(typed);
  koaSse(typed);
  honoSse(typed);
  expressSse(untyped);
}

// The message type is exported for apps that build messages before sending them.
export const stored: HubMessage<Events> = { event: 'note', data: 'kept for later' };
// @ts-expect-error the payload of a stored message is checked too
export const wrong: HubMessage<Events> = { event: 'note', data: 42 };
