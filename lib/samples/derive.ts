/**
 * From the engine's counters to graph samples, and from samples to what a graph shows. Pure (no Node, no database):
 * the sampler (lib/samples/sampler.ts) stores what `derivePoints` makes, and the browser runs the same function on the
 * same live 'stats' events to extend a graph between two reads, so a live point and a stored one never disagree.
 *
 * The engine reports cumulative counters (connections, bytes, requests, responses by class) and gauges (active
 * connections; layer 7's mean latency over the window since the last read). A sample holds, per series, the deltas
 * since the previous reading and the seconds they cover (`spanS`); every field is a sum, so samples add up into
 * rollups exactly, and a rate is always `delta sum / spanS sum`:
 *
 *   reading(t-2) ──► reading(t): delta = cur - prev   (cur < prev: the counter restarted, e.g. a new engine
 *                                                       process: delta = cur, counted since the restart)
 *   no previous reading, or more than `maxGapMs` since it: spanS = 0, deltas 0 (no rate at that point; a 60 s gap
 *   must not look like one 2 s burst)
 *
 * Latency is the engine's window mean weighted by the requests of the window, so a rollup's mean is per request.
 * The engine gives no percentiles (engine/l7/stats.ts keeps a sum and a count, no histogram): none are made up here.
 */

/** The counters of one service or server as the engine's status gives them (engine/dataplane.ts ServerCounters). */
export interface CounterReading {
  activeConnections: number;
  totalConnections: number;
  bytesIn: number;
  bytesOut: number;
  requests?: number;
  responses?: Partial<Record<ResponseClass, number>>;
  latencyMs?: number;
}

/** What a 'stats' event carries per service (a subset of engine/dataplane.ts ServiceStatus). */
export interface StatsService {
  name: string;
  counters?: CounterReading;
  realServers: { name: string; counters?: CounterReading }[];
}

export const RESPONSE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
export type ResponseClass = (typeof RESPONSE_CLASSES)[number];
const RESPONSE_COLUMN = { '1xx': 'r1xx', '2xx': 'r2xx', '3xx': 'r3xx', '4xx': 'r4xx', '5xx': 'r5xx', other: 'rOther' } as const;

/** One bucket of one series: sums only (see the file comment). Layer 7 fields are null for layer 4 series. */
export interface SampleSums {
  samples: number;
  spanS: number;
  connSum: number;
  connMax: number;
  newConns: number;
  bytesIn: number;
  bytesOut: number;
  requests: number | null;
  r1xx: number | null;
  r2xx: number | null;
  r3xx: number | null;
  r4xx: number | null;
  r5xx: number | null;
  rOther: number | null;
  latencySumMs: number | null;
  latencyWeight: number | null;
}

export interface SamplePoint extends SampleSums {
  virtualService: string;
  /** "" for the virtual service as a whole. */
  realServer: string;
  /** Bucket start (ms since the epoch). */
  at: number;
}

/** The last reading of each series ("service/server"; "service/" for the service), kept between calls. */
export type Readings = Map<string, { atMs: number; c: CounterReading }>;

export const SAMPLE_MS = 2000;
/** Readings further apart than this are not differenced (the console or the engine was away). */
export const MAX_GAP_MS = 3 * SAMPLE_MS;

const delta = (cur: number | undefined, prev: number | undefined) => {
  const c = Number.isFinite(cur) ? (cur as number) : 0;
  const p = Number.isFinite(prev) ? (prev as number) : 0;
  return c >= p ? c - p : c;
};

/** A service's own counters, or (a data plane that gives only per-server ones) the sum of its servers'. */
function serviceReading(s: StatsService): CounterReading | undefined {
  if (s.counters) return s.counters;
  const rs = s.realServers.map((r) => r.counters).filter((c): c is CounterReading => !!c);
  if (rs.length === 0) return undefined;
  const sum = (f: (c: CounterReading) => number | undefined) => rs.reduce((a, c) => a + (f(c) ?? 0), 0);
  const isL7 = rs.some((c) => c.requests !== undefined);
  return {
    activeConnections: sum((c) => c.activeConnections),
    totalConnections: sum((c) => c.totalConnections),
    bytesIn: sum((c) => c.bytesIn),
    bytesOut: sum((c) => c.bytesOut),
    ...(isL7 ? { requests: sum((c) => c.requests), responses: Object.fromEntries(RESPONSE_CLASSES.map((k) => [k, sum((c) => c.responses?.[k])])) } : {}),
  };
}

export function pointFrom(cur: CounterReading, prev: { atMs: number; c: CounterReading } | undefined, atMs: number, maxGapMs = MAX_GAP_MS): SampleSums {
  const isDiff = !!prev && atMs > prev.atMs && atMs - prev.atMs <= maxGapMs;
  const d = (f: (c: CounterReading) => number | undefined) => (isDiff ? delta(f(cur), f(prev!.c)) : 0);
  const isL7 = cur.requests !== undefined;
  const requests = isL7 ? d((c) => c.requests) : null;
  const out: SampleSums = {
    samples: 1,
    spanS: isDiff ? (atMs - prev!.atMs) / 1000 : 0,
    connSum: cur.activeConnections,
    connMax: cur.activeConnections,
    newConns: d((c) => c.totalConnections),
    bytesIn: d((c) => c.bytesIn),
    bytesOut: d((c) => c.bytesOut),
    requests,
    r1xx: null,
    r2xx: null,
    r3xx: null,
    r4xx: null,
    r5xx: null,
    rOther: null,
    latencySumMs: isL7 ? (cur.latencyMs ?? 0) * (requests ?? 0) : null,
    latencyWeight: isL7 ? (cur.latencyMs !== undefined ? requests : 0) : null,
  };
  if (isL7) for (const k of RESPONSE_CLASSES) out[RESPONSE_COLUMN[k]] = d((c) => c.responses?.[k]);
  return out;
}

/**
 * One point per series with counters in `services`, for a reading taken at `atMs`; `readings` is updated to this
 * reading (series no longer reported are forgotten, so a service removed and added again starts afresh).
 */
export function derivePoints(readings: Readings, services: readonly StatsService[], atMs: number, maxGapMs = MAX_GAP_MS): SamplePoint[] {
  const at = Math.floor(atMs / SAMPLE_MS) * SAMPLE_MS;
  const out: SamplePoint[] = [];
  const seen = new Set<string>();
  const add = (vs: string, rs: string, c: CounterReading | undefined) => {
    if (!c) return;
    const key = `${vs}/${rs}`;
    seen.add(key);
    out.push({ virtualService: vs, realServer: rs, at, ...pointFrom(c, readings.get(key), atMs, maxGapMs) });
    readings.set(key, { atMs, c });
  };
  for (const s of services) {
    add(s.name, '', serviceReading(s));
    for (const r of s.realServers) add(s.name, r.name, r.counters);
  }
  for (const k of readings.keys()) if (!seen.has(k)) readings.delete(k);
  return out;
}

/** What a graph shows at one time: per-second rates, means, or null where nothing covers it. */
export interface SampleView {
  connections: number | null;
  connectionsMax: number | null;
  newConnectionsPerS: number | null;
  bytesInPerS: number | null;
  bytesOutPerS: number | null;
  requestsPerS: number | null;
  responsesPerS: Record<ResponseClass, number | null>;
  latencyMs: number | null;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function viewOf(s: SampleSums): SampleView {
  const rate = (x: number | null) => (x === null || !(s.spanS > 0) ? null : round(x / s.spanS));
  return {
    connections: s.samples > 0 ? round(s.connSum / s.samples) : null,
    connectionsMax: s.samples > 0 ? s.connMax : null,
    newConnectionsPerS: rate(s.newConns),
    bytesInPerS: rate(s.bytesIn),
    bytesOutPerS: rate(s.bytesOut),
    requestsPerS: rate(s.requests),
    responsesPerS: Object.fromEntries(RESPONSE_CLASSES.map((k) => [k, rate(s[RESPONSE_COLUMN[k]])])) as Record<ResponseClass, number | null>,
    latencyMs: s.latencyWeight ? round((s.latencySumMs ?? 0) / s.latencyWeight) : null,
  };
}

/** Adds `b` into `a` (same series, same bucket or a coarser one). Nulls stay null only where both are null. */
export function addSums(a: SampleSums, b: SampleSums): SampleSums {
  const n = (x: number | null, y: number | null) => (x === null && y === null ? null : (x ?? 0) + (y ?? 0));
  return {
    samples: a.samples + b.samples,
    spanS: a.spanS + b.spanS,
    connSum: a.connSum + b.connSum,
    connMax: Math.max(a.connMax, b.connMax),
    newConns: a.newConns + b.newConns,
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    requests: n(a.requests, b.requests),
    r1xx: n(a.r1xx, b.r1xx),
    r2xx: n(a.r2xx, b.r2xx),
    r3xx: n(a.r3xx, b.r3xx),
    r4xx: n(a.r4xx, b.r4xx),
    r5xx: n(a.r5xx, b.r5xx),
    rOther: n(a.rOther, b.rOther),
    latencySumMs: n(a.latencySumMs, b.latencySumMs),
    latencyWeight: n(a.latencyWeight, b.latencyWeight),
  };
}
