/**
 * Counters of one worker, per service and per real server. Plain objects so they cross IPC as JSON; the primary adds
 * the workers' counters up (see sumCounters). Latency is kept as a sum and a count over the current window so the
 * mean can be weighted correctly across workers; the window restarts each time the primary reads.
 */
import type { ServerCounters } from '../dataplane.ts';

export interface Counters {
  activeConnections: number;
  totalConnections: number;
  bytesIn: number;
  bytesOut: number;
  requests: number;
  responses: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number; other: number };
  latencySumMs: number;
  latencyCount: number;
}

export function newCounters(): Counters {
  return {
    activeConnections: 0,
    totalConnections: 0,
    bytesIn: 0,
    bytesOut: 0,
    requests: 0,
    responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
    latencySumMs: 0,
    latencyCount: 0,
  };
}

export function countResponse(c: Counters, status: number): void {
  const r = c.responses;
  if (status >= 200 && status < 300) r['2xx']++;
  else if (status >= 300 && status < 400) r['3xx']++;
  else if (status >= 400 && status < 500) r['4xx']++;
  else if (status >= 500 && status < 600) r['5xx']++;
  else if (status >= 100 && status < 200) r['1xx']++;
  else r.other++;
}

function addInto(into: Counters, c: Counters): void {
  into.activeConnections += c.activeConnections;
  into.totalConnections += c.totalConnections;
  into.bytesIn += c.bytesIn;
  into.bytesOut += c.bytesOut;
  into.requests += c.requests;
  for (const k of Object.keys(into.responses) as (keyof Counters['responses'])[]) into.responses[k] += c.responses[k];
  into.latencySumMs += c.latencySumMs;
  into.latencyCount += c.latencyCount;
}

export function toServerCounters(c: Counters): ServerCounters {
  return {
    activeConnections: c.activeConnections,
    totalConnections: c.totalConnections,
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    requests: c.requests,
    responses: { ...c.responses },
    latencyMs: c.latencyCount > 0 ? Math.round((c.latencySumMs / c.latencyCount) * 100) / 100 : 0,
  };
}

/** One worker's snapshot: service name → its counters and its servers'. */
export type CounterSnapshot = Record<string, { service: Counters; servers: Record<string, Counters> }>;

export function sumSnapshots(snaps: CounterSnapshot[]): CounterSnapshot {
  const out: CounterSnapshot = {};
  for (const s of snaps) {
    for (const [name, v] of Object.entries(s)) {
      const o = (out[name] ??= { service: newCounters(), servers: {} });
      addInto(o.service, v.service);
      for (const [rs, c] of Object.entries(v.servers)) addInto((o.servers[rs] ??= newCounters()), c);
    }
  }
  return out;
}
