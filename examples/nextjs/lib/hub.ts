import { createHub, type Hub } from '@ssehub/core';

/**
 * One hub for the whole server. Next.js bundles each route on its own, so a module-level
 * `createHub()` could run once per route (and again on every reload in `next dev`): the hub lives
 * on `globalThis`, and the stream and the publish API see the same one.
 */
const shared = globalThis as { ssehub?: Hub };
export const hub: Hub = (shared.ssehub ??= createHub({ history: 1000, retry: 3000 }));
