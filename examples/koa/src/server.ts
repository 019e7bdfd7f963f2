// `pnpm --filter @ssehub/example-koa start`: the demo on Koa.
import { runDemo } from '@ssehub/example-shared';
import { createServer } from './app';

runDemo('Koa', createServer);
