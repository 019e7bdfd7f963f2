// The ssehub demo page: plain script, the browser's native EventSource, no build and no polyfill.
// Everything the page knows is in `window.ssehubDemo`, which the browser tests read too.
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const clientId =
    params.get('id') ||
    sessionStorage.getItem('ssehub-demo-id') ||
    'u-' + Math.random().toString(36).slice(2, 6);
  sessionStorage.setItem('ssehub-demo-id', clientId);

  const demo = {
    clientId,
    channel: params.get('channel') || '',
    /** connecting | open | closed */
    state: 'connecting',
    /** Every event received, in order: { id, type, data, channel, conn, replayed }. */
    events: [],
    duplicates: 0,
    disorder: 0,
    /** Times the browser reconnected a stream on its own (after the server ended it). */
    reconnects: 0,
    /** The last id received on the current stream: what the browser sends as Last-Event-ID. */
    lastEventId: '',
    clients: { count: 0, ids: [] },
    /** The last replay check: { before, missed, head, status: 'pending' | 'ok' | 'bad' | 'gap', replayed }. */
    replay: null,
    /**
     * The live panel, from GET /demo/stats every second: the last answer ({ at, stats, health }),
     * events per second between the last two, and the rates of the last minute (oldest first).
     */
    hub: { polls: 0, stats: null, health: null, rate: null, rates: [], error: null },
  };
  window.ssehubDemo = demo;

  const seen = new Set();
  let es;
  let conn = 0;
  const rows = new Map();

  const isNum = (s) => /^\d+$/.test(s);
  const after = (a, b) => (isNum(a) && isNum(b) ? BigInt(a) > BigInt(b) : a !== b);

  function setState(state, label) {
    demo.state = state;
    const el = $('state');
    el.className = 'pill ' + state;
    el.dataset.state = state;
    el.textContent = label || state;
  }

  function connect() {
    const q = new URLSearchParams({ id: clientId });
    if (demo.channel) q.append('channel', demo.channel);
    const url = '/events?' + q;
    $('url').textContent = url;
    conn++;
    const mine = conn;
    let failed = false;
    demo.lastEventId = '';
    setState('connecting');
    es = new EventSource(url);
    es.onopen = () => {
      if (mine !== conn) return;
      if (failed) {
        demo.reconnects++;
        if (demo.replay && demo.replay.status === 'pending') demo.replay.reconnectConn = conn;
        setState('open', 'open · reconnected with Last-Event-ID ' + short(demo.lastEventId || 'none'));
      } else {
        setState('open');
      }
    };
    es.onerror = () => {
      if (mine !== conn) return;
      failed = true;
      // readyState CONNECTING: the browser retries by itself, sending Last-Event-ID.
      setState(es.readyState === EventSource.CLOSED ? 'closed' : 'connecting',
        es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…');
    };
    for (const type of ['chat', 'private', 'tick', 'clients', 'message', 'ssehub-resync']) {
      es.addEventListener(type, (ev) => mine === conn && receive(type, ev));
    }
  }

  function receive(type, ev) {
    const id = ev.lastEventId;
    let data = ev.data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      /* a plain string */
    }
    const prev = demo.events.length ? demo.events[demo.events.length - 1].id : '';
    if (id && seen.has(id)) demo.duplicates++;
    else if (id && prev && !after(id, prev)) demo.disorder++;
    if (id) seen.add(id);
    demo.lastEventId = id || demo.lastEventId;
    const event = { id, type, data, channel: data && data.channel, conn, replayed: false };
    demo.events.push(event);
    if (type === 'clients') showClients(data);
    render(event);
    if (type === 'ssehub-resync') resynced(data);
    checkReplay();
    updateStats();
  }

  function short(id) {
    return id.length > 8 ? '…' + id.slice(-6) : id;
  }

  function text(data) {
    if (data && typeof data === 'object') {
      if (typeof data.text === 'string') return data.text;
      if ('count' in data) return data.count + ' connected: ' + data.ids.join(', ');
      if ('n' in data) return 'tick ' + data.n + ' at ' + data.at.slice(11, 19);
      if ('reason' in data) {
        return 'the history cannot fill the gap after #' + data.lastEventId + ' (' + data.reason + '): reload your state';
      }
      return JSON.stringify(data);
    }
    return String(data);
  }

  function render(event) {
    const li = document.createElement('li');
    li.className = event.type;
    li.dataset.id = event.id;
    const idEl = document.createElement('span');
    idEl.className = 'id';
    idEl.textContent = '#' + (event.id || '–');
    idEl.title = event.id;
    const typeEl = document.createElement('span');
    typeEl.className = 'type';
    typeEl.textContent = event.type;
    const body = document.createElement('span');
    body.className = 'body';
    if (event.data && event.data.from) {
      const from = document.createElement('span');
      from.className = 'from';
      from.textContent = event.data.from + (event.type === 'private' ? ' → ' + event.data.to : '') + ':';
      body.append(from);
    }
    body.append(text(event.data));
    if (event.channel) {
      const chan = document.createElement('span');
      chan.className = 'chan';
      chan.textContent = event.channel;
      body.append(chan);
    }
    li.append(idEl, typeEl, body);
    rows.set(event, li);
    append(li);
  }

  function system(message) {
    const li = document.createElement('li');
    li.className = 'system';
    li.textContent = message;
    append(li);
  }

  function append(li) {
    const feed = $('feed');
    const atBottom = feed.scrollHeight - feed.scrollTop - feed.clientHeight < 40;
    feed.append(li);
    if (atBottom) feed.scrollTop = feed.scrollHeight;
  }

  function updateStats() {
    $('received').textContent = String(demo.events.length);
    $('duplicates').textContent = String(demo.duplicates);
    $('disorder').textContent = String(demo.disorder);
    $('last-id').textContent = demo.lastEventId || 'none';
  }

  function showClients(data) {
    demo.clients = data;
    $('count').textContent = String(data.count);
    const list = $('clients');
    list.replaceChildren(
      ...data.ids.map((id) => {
        const li = document.createElement('li');
        li.textContent = id === clientId ? id + ' (you)' : id;
        if (id === clientId) li.className = 'me';
        return li;
      }),
    );
    const to = $('to');
    const current = to.value;
    to.replaceChildren(
      ...data.ids.map((id) => {
        const o = document.createElement('option');
        o.value = id;
        o.textContent = id === clientId ? id + ' (you)' : id;
        return o;
      }),
    );
    const others = data.ids.filter((id) => id !== clientId);
    to.value = data.ids.includes(current) ? current : others[0] || clientId;
  }

  async function post(path, body) {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(json.error || res.status + ' ' + res.statusText);
    return json;
  }

  // ---- replay check -------------------------------------------------------------------------------

  async function drop() {
    $('drop').disabled = true;
    demo.replay = { before: demo.lastEventId, missed: null, head: null, status: 'pending', replayed: 0, reconnectConn: 0 };
    showReplay('pending', 'Asking the server to drop this connection…');
    try {
      const r = await post('/demo/drop', { id: clientId });
      Object.assign(demo.replay, { missed: r.missed, head: r.head });
      system('server dropped the stream at Last-Event-ID ' + (demo.replay.before || 'none') +
        ' and sent ' + r.missed.length + ' events while it was gone');
      showReplay('pending', 'Dropped. The server sent ' + r.missed.length + ' events while this page was away (' +
        r.missed.map((id) => '#' + short(id)).join(', ') + '). Waiting for the browser to reconnect…');
      checkReplay();
    } catch (err) {
      demo.replay.status = 'bad';
      showReplay('bad', 'Drop failed: ' + err.message);
      $('drop').disabled = false;
    }
  }

  function checkReplay() {
    const r = demo.replay;
    if (!r || r.status !== 'pending' || !r.missed || !r.reconnectConn) return;
    // Events of the reconnected stream up to the head at drop time are the replay.
    const replayed = demo.events.filter(
      (e) => e.conn === r.reconnectConn && (!r.before || after(e.id, r.before)) && !after(e.id, r.head),
    );
    for (const e of replayed) {
      if (e.replayed) continue;
      e.replayed = true;
      const li = rows.get(e);
      li.classList.add('replayed');
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'replayed';
      li.querySelector('.body').append(tag);
    }
    r.replayed = replayed.length;
    if (!r.missed.every((id) => seen.has(id))) return;
    const ids = demo.events.map((e) => e.id);
    const once = r.missed.every((id) => ids.indexOf(id) === ids.lastIndexOf(id));
    const ordered = demo.duplicates === 0 && demo.disorder === 0;
    r.status = once && ordered ? 'ok' : 'bad';
    showReplay(
      r.status,
      r.status === 'ok'
        ? '✓ Reconnected with Last-Event-ID #' + short(r.before || 'none') + ': ' + replayed.length +
            ' missed events replayed (highlighted), each once and in order. No gap, no duplicate.'
        : '✗ Replay went wrong: ' + demo.duplicates + ' duplicates, ' + demo.disorder + ' out of order.',
    );
    $('drop').disabled = false;
  }

  // The hub says so when its history no longer reaches back to the client's Last-Event-ID.
  function resynced(data) {
    const r = demo.replay;
    if (!r || r.status !== 'pending') return;
    r.status = 'gap';
    showReplay('bad', '✗ The history no longer reaches back to #' + short(data.lastEventId) + ' (' + data.reason +
      '): the hub said so with an ssehub-resync event instead of replaying part of it. Raise `history` to replay more.');
    $('drop').disabled = false;
  }

  function showReplay(kind, message) {
    const el = $('replay');
    el.hidden = false;
    el.className = 'replay ' + kind;
    el.dataset.status = kind;
    el.textContent = message;
  }

  // ---- the hub's live panel ------------------------------------------------------------------------

  const POLL_MS = 1000;
  const RATE_POINTS = 60; // a minute of one-second polls
  let previous = null; // { at, events } of the last answer

  async function pollStats() {
    try {
      const res = await fetch('/demo/stats', { cache: 'no-store' });
      if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
      const { at, stats, health } = await res.json();
      const panel = demo.hub;
      // Events per second from the difference between two answers, timed by the server's clock.
      if (previous && at > previous.at && stats.events >= previous.events) {
        panel.rate = ((stats.events - previous.events) * 1000) / (at - previous.at);
        panel.rates.push(panel.rate);
        if (panel.rates.length > RATE_POINTS) panel.rates.shift();
      }
      previous = { at, events: stats.events };
      Object.assign(panel, { stats, health, error: null });
      panel.polls++;
      renderPanel();
    } catch (err) {
      demo.hub.error = err.message;
      $('hub-ready').className = 'health down';
      $('hub-ready').textContent = 'unreachable';
    } finally {
      setTimeout(pollStats, POLL_MS);
    }
  }

  const sum = (counts) => Object.values(counts).reduce((a, b) => a + b, 0);
  const fmtRate = (r) => (r === null ? '–' : r < 10 ? r.toFixed(1) : String(Math.round(r)));

  function renderPanel() {
    const { stats, health, rate, rates } = demo.hub;
    $('hub-connections').textContent = String(stats.connections);
    $('hub-rate').textContent = fmtRate(rate);
    $('hub-replayed').textContent = String(stats.eventsReplayed);
    // Gaps the history could not honour (those initMessages filled are not gaps a client noticed).
    $('hub-gaps').textContent = String(sum(stats.gaps) - stats.gaps.filled);
    $('hub-evictions').textContent = String(sum(stats.evictions));
    $('hub-refusals').textContent = String(sum(stats.refusals));
    const ready = $('hub-ready');
    ready.className = 'health ' + (health.ready ? 'up' : 'down');
    ready.textContent = health.ready ? 'ready' : 'not ready';
    ready.title = health.ready ? 'hub.health(): ready' : 'hub.health(): ' + health.reasons.join(', ');
    drawSparkline(rates);
  }

  function drawSparkline(rates) {
    const W = 300;
    const H = 48;
    const peak = Math.max(0, ...rates);
    const top = Math.max(1, peak);
    const step = W / (RATE_POINTS - 1);
    // The newest point at the right edge; a minute spans the width.
    const points = rates.map((r, i) => {
      const x = W - (rates.length - 1 - i) * step;
      const y = H - 2 - (r / top) * (H - 6);
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    const svg = $('sparkline');
    svg.querySelector('.line').setAttribute('points', points.join(' '));
    svg.querySelector('.area').setAttribute(
      'd',
      points.length > 1 ? 'M' + points[0].split(',')[0] + ',' + H + ' L' + points.join(' L') + ' L' + W + ',' + H + ' Z' : '',
    );
    $('hub-peak').textContent = fmtRate(peak);
  }

  // ---- controls -----------------------------------------------------------------------------------

  function updateTarget() {
    $('target').textContent = demo.channel ? 'subscribers of ' + demo.channel : 'everyone';
  }

  $('me').textContent = clientId;
  $('channel').value = demo.channel;
  updateTarget();

  $('channel').addEventListener('change', (e) => {
    demo.channel = e.target.value;
    updateTarget();
    es.close();
    system(demo.channel ? 'switched to channel ' + demo.channel + ' (new stream)' : 'left the channels (new stream)');
    connect();
  });

  $('publish').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('text');
    if (!input.value.trim()) return;
    try {
      await post('/demo/publish', { text: input.value, from: clientId, channel: demo.channel || undefined });
      input.value = '';
    } catch (err) {
      system('publish failed: ' + err.message);
    }
  });

  $('private').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('private-text');
    if (!input.value.trim() || !$('to').value) return;
    try {
      const r = await post('/demo/publish', { text: input.value, from: clientId, to: $('to').value });
      input.value = '';
      if ($('to').value !== clientId) system('private message delivered to ' + r.reached + ' stream(s) of ' + $('to').value);
    } catch (err) {
      system('private message failed: ' + err.message);
    }
  });

  $('drop').addEventListener('click', drop);

  connect();
  pollStats();
})();
