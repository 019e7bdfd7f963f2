/**
 * Express with @ssehub/express on a secure `node:http2` server, as a process of its own:
 * `tsx express-on-http2.ts <key.pem> <cert.pem>` prints `listening <port>`. http2.test.ts starts it to
 * show what happens to Express there (it cannot run on node:http2), without taking its own process down.
 */
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createHub } from '@ssehub/core';
import { sse } from '@ssehub/express';

const [key, cert] = process.argv.slice(2).map((file) => readFileSync(file));
const app = express();
app.use('/events', sse(createHub({ heartbeat: 0 })));
// Express's types do not take node:http2's compatibility request and response.
const server = http2.createSecureServer({ key, cert }, app as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
server.listen(0, '127.0.0.1', () => console.log(`listening ${(server.address() as AddressInfo).port}`));
