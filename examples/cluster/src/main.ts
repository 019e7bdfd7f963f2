// `pnpm --filter @ssehub/example-cluster start`: a primary process that forks one worker per core
// (WORKERS to choose); each worker runs its own hub, and @ssehub/redis makes them act as one.
import cluster from 'node:cluster';
import os from 'node:os';
import { startWorker } from './worker';

const workers = Number(process.env.WORKERS ?? Math.min(os.availableParallelism(), 4));

if (cluster.isPrimary) {
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? '127.0.0.1';
  console.log(`primary ${process.pid}: ${workers} workers on http://${host}:${port}, Redis ${process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'}`);
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A worker that dies is replaced; its clients reconnect (to any worker) and resume from Redis.
    console.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    cluster.fork();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      const alive = Object.values(cluster.workers ?? {});
      let left = alive.length;
      if (left === 0) process.exit(0);
      for (const w of alive) {
        w?.once('exit', () => --left === 0 && process.exit(0));
        w?.kill('SIGTERM');
      }
    });
  }
} else {
  void startWorker();
}
