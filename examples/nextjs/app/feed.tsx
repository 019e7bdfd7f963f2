'use client';

import { useEffect, useState } from 'react';

interface Line {
  id: string;
  type: string;
  data: string;
}

/** The browser's own EventSource: it reconnects with Last-Event-ID by itself, and the hub replays what it missed. */
export function Feed() {
  const [state, setState] = useState('connecting');
  const [lines, setLines] = useState<Line[]>([]);
  useEffect(() => {
    const events = new EventSource('/events');
    const add = (e: MessageEvent) => setLines((l) => [...l, { id: e.lastEventId, type: e.type, data: e.data }]);
    events.addEventListener('open', () => setState('open'));
    events.addEventListener('error', () => setState(events.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
    events.addEventListener('message', add);
    return () => events.close();
  }, []);
  return (
    <section>
      <p id="state">{state}</p>
      <ol id="feed">
        {lines.map((l) => (
          <li key={l.id}>
            <code>{l.id}</code> {l.type}: {l.data}
          </li>
        ))}
      </ol>
    </section>
  );
}
