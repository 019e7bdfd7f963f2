import type { BackplaneEntry, BackplaneRecord } from '@ssehub/core';

/**
 * A record as stream fields. `i` and `u` come first, always: the publish script reads them by
 * position. Optional fields are left out rather than stored empty.
 */
export function toFields(r: BackplaneRecord): string[] {
  const f = ['i', r.id, 'u', r.uid, 'd', r.data, 'j', r.json ? '1' : '0'];
  if (r.event !== undefined) f.push('e', r.event);
  if (r.retry !== undefined) f.push('r', String(r.retry));
  if (r.channel !== undefined) f.push('c', r.channel);
  if (r.to !== undefined) f.push('t', r.to);
  return f;
}

/** Stream fields back to an entry at `pos`. */
export function fromFields(pos: number, f: readonly string[]): BackplaneEntry {
  const e: { -readonly [K in keyof BackplaneEntry]: BackplaneEntry[K] } = { pos, id: '', uid: '', data: '', json: false };
  for (let i = 0; i + 1 < f.length; i += 2) {
    const v = f[i + 1]!;
    switch (f[i]) {
      case 'i': e.id = v; break;
      case 'u': e.uid = v; break;
      case 'd': e.data = v; break;
      case 'j': e.json = v === '1'; break;
      case 'e': e.event = v; break;
      case 'r': e.retry = Number(v); break;
      case 'c': e.channel = v; break;
      case 't': e.to = v; break;
    }
  }
  return e;
}

/** The position of a stream id `<pos>-0`. */
export function posOf(streamId: string): number {
  return Number(streamId.slice(0, streamId.indexOf('-')));
}
