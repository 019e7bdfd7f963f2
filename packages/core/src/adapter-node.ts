/**
 * `@ssehub/core/adapter/node`: what an adapter on Node's `http` (Express, Koa, Fastify,
 * `@hono/node-server`, plain `node:http`) needs: one stream handler and one publish handler, and the
 * Node transport below them. An adapter is a few lines: see packages/express/src.
 */
export { nodeStreamHandler, nodePublishHandler } from './node/handlers';
export type { NodeStreamHandler, NodePublishHandler } from './node/handlers';
export { serveNode, sendNodeAnswer, isHttp1 } from './node/respond';
export type { ServeNodeOptions } from './node/respond';
export { nodeStreamRequest, nodePublishRequest, nodeHeaderReader, readNodeBody } from './node/request';
export { NodeSink } from './node/sink';
export { GzipNodeSink } from './node/gzip-sink';
