// `pnpm --filter @ssehub/example-hono start`: the demo on Hono.
import { Demo, startBanner } from '@ssehub/example-shared';
import { createServer } from './app';

const demo = new Demo({ tickMs: Number(process.env.DEMO_TICK_MS ?? 5000), token: process.env.SSEHUB_TOKEN });
const server = createServer(demo);

server.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1', () => {
  console.log(startBanner('Hono', server.address(), demo.token));
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // Ending every stream first lets the server close at once.
    void demo.close().then(() => server.close(() => process.exit(0)));
  });
}
