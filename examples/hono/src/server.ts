// `pnpm --filter @ssehub/example-hono start`: the demo on Hono.
import { runDemo } from '@ssehub/example-shared';
import { createServer } from './app';

runDemo('Hono', createServer);
