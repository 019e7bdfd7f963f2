import { sse } from '@ssehub/fetch';
import { hub } from '../../lib/hub';

// A stream is never cached nor prerendered.
export const dynamic = 'force-dynamic';

// GET /events?id=user-42&channel=room-1
export const GET = sse(hub);
