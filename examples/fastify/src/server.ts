// `pnpm --filter @ssehub/example-fastify start`: the demo on Fastify.
import { runDemo } from '@ssehub/example-shared';
import { createServer } from './app';

runDemo('Fastify', createServer);
