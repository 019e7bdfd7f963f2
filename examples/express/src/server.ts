// `pnpm demo` (or `pnpm --filter @ssehub/example-express start`): the demo on Express.
import { runDemo } from '@ssehub/example-shared';
import { createServer } from './app';

runDemo('Express', createServer);
