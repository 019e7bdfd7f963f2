import { publish } from '@ssehub/fetch';
import { hub } from '../../../lib/hub';

export const dynamic = 'force-dynamic';

// The publish API under /api: POST /api/broadcast, /api/channels/:channel, /api/clients/:id...
// With no SSEHUB_TOKEN set, it answers 401 to every request: nothing is served open by mistake.
const api = publish(hub, { prefix: '/api', token: process.env.SSEHUB_TOKEN || crypto.randomUUID() });

export const GET = api;
export const HEAD = api;
export const POST = api;
export const DELETE = api;
export const OPTIONS = api;
