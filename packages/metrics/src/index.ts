/**
 * `@ssehub/metrics`: a hub's `stats()`, `health()` and publish-to-delivery latency as Prometheus
 * metrics on a prom-client registry. See {@link registerMetrics}.
 */
import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import type { BackplaneState, HubHealth, HubStats } from '@ssehub/core';

/** What {@link registerMetrics} reads from a hub: any `Hub` of `@ssehub/core` fits. */
export interface MetricsHub {
  /** The counters and gauges, read on every scrape. */
  stats(): HubStats;
  /** Readiness and the backplane's state, read on every scrape. */
  health(options?: { maxOutage?: number }): HubHealth;
  /** Broadcast latencies, fed into the latency histogram as they happen. */
  on(event: 'latency', handler: (ms: number) => void): () => void;
}

/** Options of {@link registerMetrics}. Every one is optional. */
export interface MetricsOptions {
  /** The prom-client registry. Default: prom-client's global `register`. */
  registry?: Registry<any>;
  /** Prepended to every metric name. Default: `'ssehub_'`. */
  prefix?: string;
  /**
   * Labels on every series of this hub, to tell several hubs on one registry apart (`{ hub: 'chat' }`).
   * Every hub on a registry (and prefix) must use the same label names, with values no other hub has.
   * Default: none, which suits one hub per registry.
   */
  labels?: Record<string, string>;
  /**
   * Buckets of `delivery_latency_seconds`, in seconds. Default: {@link DEFAULT_LATENCY_BUCKETS}.
   * The first hub registered on a registry sets them; a later one may only repeat them.
   */
  buckets?: number[];
  /**
   * Feed the latency histogram from `hub.on('latency')`. That turns the hub's latency measurement on
   * (a timestamp per event and one microtask per fan-out turn). Default: `true`.
   */
  latency?: boolean;
  /** Passed to `hub.health()` for the `ready` gauge: ms a backplane outage may last. Default: the hub's (30000). */
  maxOutage?: number;
}

/**
 * Buckets of the latency histogram, in seconds: from 50 µs (a fan-out in one process) to 5 s (a
 * backplane recovering from an outage).
 */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** Removes what {@link registerMetrics} registered for one hub. Idempotent. */
export type Unregister = () => void;

const GAPS = ['expired', 'unknown-id', 'restart', 'unavailable', 'backplane-epoch', 'backplane-behind', 'filled'] as const;
const EVICTIONS = ['timeout', 'buffer'] as const;
const REFUSALS = ['hub-full', 'client-limit', 'shutting-down', 'unauthorized', 'forbidden'] as const;
const BACKPLANE_STATES: readonly BackplaneState[] = ['connecting', 'connected', 'outage', 'catching-up'];
/** Label names the metrics use themselves (`le` is the histogram's). */
const OWN_LABELS = new Set(['reason', 'state', 'le']);

type Labels = Record<string, string>;

/** The plain totals of `hub.stats()`: metric name (without prefix), help, and the field. */
const TOTALS: readonly [string, string, (s: HubStats) => number][] = [
  ['connections_opened_total', 'Streams opened since the hub was created.', (s) => s.connectionsOpened],
  ['connections_closed_total', 'Streams closed since the hub was created, for any reason.', (s) => s.connectionsClosed],
  ['events_published_total', 'Broadcasts made through this hub (broadcast, broadcastTo, send, the publish API).', (s) => s.eventsPublished],
  ['events_total', "Events this hub put in its order and delivered: its own, and with a backplane every hub's.", (s) => s.events],
  ['deliveries_total', 'Events queued to streams, one per recipient.', (s) => s.deliveries],
  ['written_bytes_total', 'Bytes handed to the transports: events, replays, heartbeats.', (s) => s.bytesWritten],
  ['events_replayed_total', 'History entries sent to reconnecting clients (Last-Event-ID).', (s) => s.eventsReplayed],
];

/** The totals by reason: metric name, help, the reasons, and the field. */
const BY_REASON: readonly [string, string, readonly string[], (s: HubStats) => Record<string, number>][] = [
  [
    'gaps_total',
    "Last-Event-IDs the history could not honour, by reason; reason=\"filled\" counts those initMessages filled.",
    GAPS,
    (s) => s.gaps,
  ],
  ['evictions_total', 'Streams evicted for not keeping up, by reason (timeout, buffer).', EVICTIONS, (s) => s.evictions],
  ['refusals_total', 'Stream requests refused or denied, by reason.', REFUSALS, (s) => s.refusals],
];

/** One hub bound to a family of metrics. */
interface Binding {
  readonly hub: MetricsHub;
  readonly labels: Labels;
  readonly key: string;
  readonly maxOutage: number | undefined;
  /** This scrape's `hub.stats()`, taken by the first metric that collects and dropped after the scrape's turn. */
  snapshot: HubStats | undefined;
  /** The value of each total at the last scrape, by metric and reason: counters move by the difference. */
  readonly last: Map<string, number>;
  stopLatency: (() => void) | undefined;
}

/**
 * The metric objects of one registry and prefix, shared by every hub registered there: each hub's
 * series carry its labels. prom-client allows one metric of a name per registry, so hubs share them.
 */
class Family {
  readonly bindings = new Map<string, Binding>();
  /** Each metric with its name as registered (an OpenMetrics registry renames counters as it scrapes), and how to drop one hub's series. */
  private readonly metrics: { name: string; metric: Counter<string> | Gauge<string> | Histogram<string>; extra: Labels[] }[] = [];
  readonly latency: Histogram<string>;

  constructor(
    readonly registry: Registry<any>,
    readonly prefix: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    const registers = [registry];
    const family = this;
    const made = (metric: Counter<string> | Gauge<string> | Histogram<string>, name: string, extra: Labels[] = [{}]) =>
      this.metrics.push({ name: prefix + name, metric, extra });
    try {
      const gauge = (name: string, help: string, extra: string[], collect: (g: Gauge<string>) => void, series?: Labels[]) => {
        const g: Gauge<string> = new Gauge({
          name: prefix + name,
          help,
          labelNames: [...labelNames, ...extra],
          registers,
          collect() {
            g.reset();
            collect(g);
          },
        });
        made(g, name, series);
      };
      const each = (f: (b: Binding, s: HubStats) => void) => {
        for (const b of this.bindings.values()) f(b, this.snapshot(b));
      };
      gauge('connections', 'Open streams now.', [], (g) => each((b, s) => g.set(b.labels, s.connections)));
      gauge('queued_bytes', 'Bytes waiting for clients now: queued in the hub plus buffered in the transports.', [], (g) =>
        each((b, s) => g.set(b.labels, s.queuedBytes)),
      );
      gauge('congested_connections', 'Streams whose transport asked the hub to wait, now.', [], (g) =>
        each((b, s) => g.set(b.labels, s.congested)),
      );
      gauge('ready', '1 while hub.health() says this instance should receive new streams, else 0.', [], (g) => {
        for (const b of this.bindings.values()) g.set(b.labels, b.hub.health({ maxOutage: b.maxOutage }).ready ? 1 : 0);
      });
      gauge('backplane_up', "1 while the hub's backplane is connected and in step, else 0 (hubs with a backplane only).", [], (g) =>
        each((b, s) => s.backplane && g.set(b.labels, s.backplane.state === 'connected' ? 1 : 0)),
      );
      gauge('backplane_state', "The backplane's link state: 1 for the current state, 0 for the others.", ['state'], (g) =>
        each((b, s) => {
          if (!s.backplane) return;
          for (const state of BACKPLANE_STATES) g.set({ ...b.labels, state }, s.backplane.state === state ? 1 : 0);
        }),
        BACKPLANE_STATES.map((state) => ({ state })),
      );
      gauge('backplane_outbox', 'Broadcasts waiting to be published on the backplane.', [], (g) =>
        each((b, s) => s.backplane?.outbox !== undefined && g.set(b.labels, s.backplane.outbox)),
      );
      gauge('backplane_behind', 'Entries of the shared log this hub has not read yet.', [], (g) =>
        each((b, s) => s.backplane?.behind !== undefined && g.set(b.labels, s.backplane.behind)),
      );

      const counter = (name: string, help: string, extra: string[], values: (s: HubStats) => [Labels, number][], series?: Labels[]) => {
        const c: Counter<string> = new Counter({
          name: prefix + name,
          help,
          labelNames: [...labelNames, ...extra],
          registers,
          // Totals counted by the hub: each scrape adds what they grew by since the last one, as
          // prom-client's own process_cpu_seconds_total does.
          collect() {
            for (const b of family.bindings.values()) {
              for (const [extraLabels, value] of values(family.snapshot(b))) {
                const key = name + '\0' + (extraLabels.reason ?? '');
                const delta = value - (b.last.get(key) ?? 0);
                b.last.set(key, value);
                // An inc of 0 makes the series appear at 0 before anything happened.
                c.inc({ ...b.labels, ...extraLabels }, delta > 0 ? delta : 0);
              }
            }
          },
        });
        made(c, name, series);
      };
      for (const [name, help, field] of TOTALS) counter(name, help, [], (s) => [[{}, field(s)]]);
      for (const [name, help, reasons, field] of BY_REASON) {
        counter(name, help, ['reason'], (s) => {
          const byReason = field(s);
          return reasons.map((reason) => [{ reason }, byReason[reason] ?? 0]);
        }, reasons.map((reason) => ({ reason })));
      }

      this.latency = new Histogram({
        name: prefix + 'delivery_latency_seconds',
        help: "Seconds from a broadcast to its being handed to the recipients' transports (with a backplane: from this hub's broadcast, or from the arrival of another hub's).",
        labelNames: [...labelNames],
        buckets: [...buckets],
        registers,
      });
      made(this.latency, 'delivery_latency_seconds');
    } catch (err) {
      this.unregisterAll();
      const message = err instanceof Error ? err.message : String(err);
      if (/already been registered/.test(message)) {
        throw new Error(
          `@ssehub/metrics: ${message.replace(/\.$/, '')}, and not by registerMetrics on this registry (another library, ` +
            `or a second copy of @ssehub/metrics?). Pass another \`prefix\` or \`registry\`.`,
        );
      }
      throw new Error(`@ssehub/metrics: ${message}`);
    }
  }

  /** The hub's stats for this scrape: every metric of one scrape reads the same snapshot, taken once. */
  private snapshot(b: Binding): HubStats {
    if (!b.snapshot) {
      b.snapshot = b.hub.stats();
      // A registry collects all its metrics in one synchronous pass: the snapshot lives for that pass.
      queueMicrotask(() => (b.snapshot = undefined));
    }
    return b.snapshot;
  }

  /** Removes one hub's series from every metric. */
  removeSeries(b: Binding): void {
    for (const { metric, extra } of this.metrics) for (const labels of extra) metric.remove({ ...b.labels, ...labels });
  }

  /** Whether the registry still holds this family's metrics (`registry.clear()` takes them away). */
  get attached(): boolean {
    return this.metrics.length > 0 && this.metrics.every(({ name, metric }) => this.registry.getSingleMetric(name) === metric);
  }

  /** Takes every metric of the family off the registry (those that are still its own). */
  unregisterAll(): void {
    for (const { name, metric } of this.metrics) if (this.registry.getSingleMetric(name) === metric) this.registry.removeSingleMetric(name);
  }
}

/** The families of each registry, by prefix. */
const families = new WeakMap<Registry<any>, Map<string, Family>>();

/**
 * Exposes a hub's figures as Prometheus metrics on a prom-client registry: `hub.stats()` is read
 * when the registry is scraped (nothing is counted per event, except the latency histogram), and
 * `hub.on('latency')` feeds `delivery_latency_seconds`. Several hubs share one registry when each
 * has its own `labels` (`{ hub: 'chat' }`, `{ hub: 'prices' }`): their series share the metrics.
 *
 * @example
 * import { register } from 'prom-client';
 * registerMetrics(hub);
 * app.get('/metrics', async (req, res) => res.type(register.contentType).send(await register.metrics()));
 * @returns a function that removes this hub's series (and the metrics, once no hub is left).
 * @throws Error when this hub, or another hub with the same labels, is already registered on the
 *   registry and prefix, when the label names differ from those of the hubs already there, or when
 *   a metric of the same name was registered by something else.
 */
export function registerMetrics(hub: MetricsHub, options: MetricsOptions = {}): Unregister {
  const registry = options.registry ?? defaultRegistry;
  const prefix = options.prefix ?? 'ssehub_';
  const labels: Labels = { ...options.labels };
  for (const [name, value] of Object.entries(labels)) {
    if (OWN_LABELS.has(name)) throw new Error(`@ssehub/metrics: the label name "${name}" is the metrics' own; choose another (hub, say)`);
    if (typeof value !== 'string') throw new TypeError(`@ssehub/metrics: label ${name} must be a string`);
  }
  const labelNames = Object.keys(labels).sort();
  const key = labelNames.map((n) => `${n}=${JSON.stringify(labels[n])}`).join(',');

  let byPrefix = families.get(registry);
  if (!byPrefix) families.set(registry, (byPrefix = new Map()));
  let family = byPrefix.get(prefix);
  if (family && !family.attached) {
    // The registry was cleared under it: its hubs' metrics are gone, so their latency feeds stop too.
    for (const b of family.bindings.values()) b.stopLatency?.();
    family.unregisterAll();
    byPrefix.delete(prefix);
    family = undefined;
  }
  if (family) {
    for (const b of family.bindings.values()) {
      if (b.hub === hub) throw new Error(`@ssehub/metrics: this hub is already registered on this registry (prefix "${prefix}")`);
    }
    if (family.labelNames.join() !== labelNames.join()) {
      throw new Error(
        `@ssehub/metrics: the hubs on this registry (prefix "${prefix}") are labelled by ${describeNames(family.labelNames)}, ` +
          `this one by ${describeNames(labelNames)}: give every hub the same label names with its own values ` +
          `(registerMetrics(hub, { labels: { hub: 'chat' } }))`,
      );
    }
    if (family.bindings.has(key)) {
      throw new Error(
        labelNames.length === 0
          ? `@ssehub/metrics: a hub without labels is already registered on this registry (prefix "${prefix}"): ` +
              `to expose several hubs, give each its own labels (registerMetrics(hub, { labels: { hub: 'chat' } }))`
          : `@ssehub/metrics: a hub labelled {${key}} is already registered on this registry (prefix "${prefix}"): ` +
              'give each hub its own label values',
      );
    }
    if (options.buckets && options.buckets.join() !== family.buckets.join()) {
      throw new Error(
        `@ssehub/metrics: the latency buckets on this registry (prefix "${prefix}") are [${family.buckets.join(', ')}]: ` +
          'every hub there shares them',
      );
    }
  } else {
    family = new Family(registry, prefix, labelNames, options.buckets ?? DEFAULT_LATENCY_BUCKETS);
    byPrefix.set(prefix, family);
  }

  const binding: Binding = {
    hub,
    labels,
    key,
    maxOutage: options.maxOutage,
    snapshot: undefined,
    last: new Map(),
    stopLatency: undefined,
  };
  if (options.latency !== false) {
    family.latency.zero(labels); // the series shows from the start, at 0
    const observer = family.latency.labels(labels);
    binding.stopLatency = hub.on('latency', (ms) => observer.observe(ms / 1000));
  }
  family.bindings.set(key, binding);

  const owner = family;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    binding.stopLatency?.();
    owner.bindings.delete(key);
    owner.removeSeries(binding);
    if (owner.bindings.size === 0) {
      owner.unregisterAll();
      if (byPrefix!.get(prefix) === owner) byPrefix!.delete(prefix);
    }
  };
}

function describeNames(names: readonly string[]): string {
  return names.length ? `[${names.join(', ')}]` : 'no label';
}
