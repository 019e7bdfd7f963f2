import type { ConnectParams, Hub } from '../hub/hub';
import { channelProblem } from '../wire/validate';
import { acceptsGzip, corsHeaders, preflight, verdictOf } from './access';
import { textAnswer, type HttpAnswer } from './http';
import { hubRefusal, refusal, wantsEventStream, type RefusalReason } from './refusal';
import { connectParams, STREAM_DEFAULTS, type StreamGrant, type StreamOptions, type StreamRequest } from './stream-options';

/** What a request to a stream endpoint turns into. */
export type Admission =
  /** Not a stream request (a method other than GET, or OPTIONS without CORS): the next handler's. */
  | { kind: 'pass' }
  /** A preflight or a refusal, to send as it is; nothing was registered. */
  | { kind: 'answer'; answer: HttpAnswer }
  /**
   * Open a stream with these connect parameters and extra headers; gzip it when `gzip` is true.
   * `eventStream`: the request accepts `text/event-stream`, so a late refusal is one EventSource survives.
   */
  | { kind: 'stream'; params: ConnectParams; headers: Record<string, string>; gzip: boolean; eventStream: boolean };

/**
 * Decides what a stream request gets, in this order: CORS preflight, method, origin allowlist, a hub
 * that is draining, closed or full (a refusal), `authorize`, channel names (400 for one `broadcast`
 * would refuse), channel cap, per-client-id limit (a refusal). Refusals are answered before anything
 * is registered with the hub; a request that accepts `text/event-stream` is refused in a way
 * EventSource recovers from (see `refusal`). Runtime-neutral: the transport hands over a
 * {@link StreamRequest} and sends what comes back.
 * @param req the framework's request object, handed to `authorize` and the resolvers.
 */
export async function admitStream<Req>(hub: Hub<any>, req: Req, request: StreamRequest, options: StreamOptions<Req>): Promise<Admission> {
  const { cors } = options;
  if (request.method === 'OPTIONS') {
    if (!cors) return { kind: 'pass' };
    return answer(preflight(cors, request.header, ['GET'], ['Last-Event-ID']));
  }
  if (request.method !== 'GET') return { kind: 'pass' };

  const extra = cors ? corsHeaders(cors, request.header('origin')) : {};
  // Refusing here saves a connection the browser would not let the page read anyway.
  if (!extra) return denied(hub, textAnswer(403, 'ssehub: origin not allowed\n'));
  const eventStream = wantsEventStream(request.header('accept'));
  // Before `authorize`: a hub that cannot take the stream anyway spends nothing on it.
  const refused = hubRefusal(hub);
  if (refused) return denied(hub, refusal(refused, { retryAfter: options.retryAfter, eventStream, headers: extra }), refused);

  let params = connectParams(req, request, options);
  if (options.authorize) {
    const said: unknown = await options.authorize(req);
    const verdict = verdictOf(said, true);
    if (verdict === 'grant') params = grant(params, said as StreamGrant);
    else if (verdict !== 'allow') return denied(hub, textAnswer(verdict.status, `ssehub: ${verdict.message}\n`, extra));
  }

  const channels = new Set<string>();
  for (const ch of params.channels ?? []) {
    const problem = channelProblem(ch);
    // The rule `broadcast` applies: a subscription nothing could ever reach is refused, not kept.
    if (problem) return answer(textAnswer(400, `ssehub: channel ${problem}\n`, extra));
    channels.add(ch);
  }
  const maxChannels = options.maxChannels ?? STREAM_DEFAULTS.maxChannels;
  if (channels.size > maxChannels) {
    return answer(textAnswer(400, `ssehub: too many channels (at most ${maxChannels})\n`, extra));
  }
  const maxPerClient = options.maxConnectionsPerClient ?? STREAM_DEFAULTS.maxConnectionsPerClient;
  if (params.clientId && hub.clientSize(params.clientId) >= maxPerClient) {
    return denied(hub, refusal('client-limit', { retryAfter: options.retryAfter, eventStream, headers: extra }), 'client-limit');
  }
  const gzip = options.compress === true && acceptsGzip(request.header('accept-encoding'));
  return { kind: 'stream', params: { ...params, channels }, headers: { ...options.headers, ...extra }, gzip, eventStream };
}

function answer(a: HttpAnswer): Admission {
  return { kind: 'answer', answer: a };
}

/** A refusal or a denial, counted in the hub's stats by its reason (401: unauthorized, 403: forbidden). */
function denied(hub: Hub<any>, a: HttpAnswer, reason?: RefusalReason): Admission {
  hub.countRefusal(reason ?? (a.status === 401 ? 'unauthorized' : 'forbidden'));
  return answer(a);
}

/** Applies a grant: the granted client id replaces the requested one; channels are narrowed to the granted ones. */
function grant(params: ConnectParams, g: StreamGrant): ConnectParams {
  const clientId = typeof g.clientId === 'string' && g.clientId !== '' ? g.clientId : undefined;
  if (g.channels === undefined) return { ...params, clientId };
  const allowed = new Set(g.channels);
  const channels = [...(params.channels ?? [])].filter((ch) => allowed.has(ch));
  return { ...params, clientId, channels };
}
