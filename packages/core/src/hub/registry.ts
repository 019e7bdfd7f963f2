import type { Connection } from './connection';

const NONE: ReadonlySet<Connection> = new Set();

/**
 * The open connections, indexed by channel and by client id, so a broadcast finds its recipients
 * without scanning everyone.
 */
export class Registry {
  /** Every open connection. */
  readonly all = new Set<Connection>();
  private readonly byChannel = new Map<string, Set<Connection>>();
  private readonly byClientId = new Map<string, Set<Connection>>();

  add(c: Connection): void {
    this.all.add(c);
    for (const ch of c.channels) addTo(this.byChannel, ch, c);
    if (c.clientId !== undefined) addTo(this.byClientId, c.clientId, c);
  }

  delete(c: Connection): void {
    this.all.delete(c);
    for (const ch of c.channels) deleteFrom(this.byChannel, ch, c);
    if (c.clientId !== undefined) deleteFrom(this.byClientId, c.clientId, c);
  }

  get size(): number {
    return this.all.size;
  }

  /** The connections of one client id (a live set: copy it before ending them). */
  ofClient(clientId: string): ReadonlySet<Connection> {
    return this.byClientId.get(clientId) ?? NONE;
  }

  /** The subscribers of one channel (a live set: copy it before ending them). */
  ofChannel(channel: string): ReadonlySet<Connection> {
    return this.byChannel.get(channel) ?? NONE;
  }

  /** Channels with at least one subscriber. */
  channels(): string[] {
    return [...this.byChannel.keys()];
  }

  /**
   * Who receives a message: the connections of `to` when set, else the subscribers of `channels`
   * (each once), else everyone.
   */
  recipients(to: string | undefined, channels: readonly string[] | undefined): ReadonlySet<Connection> {
    if (to !== undefined) return this.ofClient(to);
    if (channels === undefined) return this.all;
    if (channels.length === 1) return this.ofChannel(channels[0]!);
    const out = new Set<Connection>();
    for (const ch of channels) for (const c of this.ofChannel(ch)) out.add(c);
    return out;
  }
}

/** Whether a message addressed to `to` or to `channels` may go to this connection (in replay too). */
export function mayReceive(c: Connection, to: string | undefined, channels: readonly string[] | undefined): boolean {
  if (to !== undefined) return to === c.clientId;
  if (channels === undefined) return true;
  for (const ch of channels) if (c.channels.has(ch)) return true;
  return false;
}

function addTo(map: Map<string, Set<Connection>>, key: string, c: Connection): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(c);
}

function deleteFrom(map: Map<string, Set<Connection>>, key: string, c: Connection): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(c);
  if (set.size === 0) map.delete(key);
}
