/**
 * What the graphs hold of one series (GET /virtual-services/:id/samples), and the live edge: a point made from a
 * 'stats' event (lib/samples/derive.ts) put into the hour's arrays. Pure, so it is tested without a browser.
 */
import { RESPONSE_CLASSES, type SampleView } from '../../lib/samples/derive.ts';

export type Range = 'hour' | 'day' | 'week' | 'year';

/** lib/samples/series.ts SeriesView, plus the service's layer. */
export interface Samples {
  virtualService: string;
  realServer: string | null;
  layer: number;
  range: Range;
  stepS: number;
  t: number[];
  connections: (number | null)[];
  connectionsMax: (number | null)[];
  newConnectionsPerS: (number | null)[];
  bytesInPerS: (number | null)[];
  bytesOutPerS: (number | null)[];
  requestsPerS: (number | null)[];
  responsesPerS: Record<(typeof RESPONSE_CLASSES)[number], (number | null)[]>;
  latencyMs: (number | null)[];
  transitions: { at: string; realServer: string; previous: string; health: string; message: string }[];
}

/** One live point into a copy of the hour's arrays: the slot of its time, replaced or appended (the oldest dropped). */
export function withPoint(s: Samples, tS: number, v: SampleView): Samples {
  const next: Samples = {
    ...s,
    t: [...s.t],
    connections: [...s.connections],
    connectionsMax: [...s.connectionsMax],
    newConnectionsPerS: [...s.newConnectionsPerS],
    bytesInPerS: [...s.bytesInPerS],
    bytesOutPerS: [...s.bytesOutPerS],
    requestsPerS: [...s.requestsPerS],
    latencyMs: [...s.latencyMs],
    responsesPerS: Object.fromEntries(RESPONSE_CLASSES.map((k) => [k, [...s.responsesPerS[k]]])) as Samples['responsesPerS'],
  };
  const cols: [(number | null)[], number | null][] = [
    [next.connections, v.connections],
    [next.connectionsMax, v.connectionsMax],
    [next.newConnectionsPerS, v.newConnectionsPerS],
    [next.bytesInPerS, v.bytesInPerS],
    [next.bytesOutPerS, v.bytesOutPerS],
    [next.requestsPerS, v.requestsPerS],
    [next.latencyMs, v.latencyMs],
    ...RESPONSE_CLASSES.map((k) => [next.responsesPerS[k], v.responsesPerS[k]] as [(number | null)[], number | null]),
  ];
  let i = next.t.lastIndexOf(tS);
  if (i < 0) {
    if (next.t.length && tS < next.t[next.t.length - 1]) return s; // older than the edge and not a slot: ignore
    for (let gap = (next.t.at(-1) ?? tS) + s.stepS; gap < tS; gap += s.stepS) {
      next.t.push(gap);
      for (const [col] of cols) col.push(null);
    }
    next.t.push(tS);
    for (const [col] of cols) col.push(null);
    i = next.t.length - 1;
  }
  for (const [col, val] of cols) col[i] = val;
  const span = 3600 / s.stepS;
  while (next.t.length > span) {
    next.t.shift();
    for (const [col] of cols) col.shift();
  }
  return next;
}
