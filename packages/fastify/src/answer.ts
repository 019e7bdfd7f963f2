import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { HttpAnswer } from '@ssehub/core/adapter';
import { isHttp1 } from '@ssehub/core/adapter/node';

/**
 * Sends one of core's answers (a refusal, a preflight, a publish API answer) as an ordinary Fastify
 * reply, so `onSend` and `onResponse` hooks and the request log see it. The body goes as a Buffer:
 * Fastify sends a Buffer unmodified, where Fastify 4 would JSON-encode a string sent with
 * `Content-Type: application/json; charset=utf-8` a second time.
 */
export function sendAnswer(reply: FastifyReply<any, any, any>, a: HttpAnswer): FastifyReply<any, any, any> {
  reply.code(a.status).headers(a.headers);
  if (a.closeConnection && isHttp1(reply.raw as ServerResponse)) reply.header('Connection', 'close');
  return reply.send(a.body === '' ? undefined : Buffer.from(a.body));
}
