/**
 * A graph's series: one service or real server over a range, read from the tier that covers it and regrouped to the
 * range's step. The coarse tiers lag (a minute is rolled a few seconds after it ends, an hour after that), so the
 * newest part of a range is read from the next finer tier, from where the coarser one stops: tier 2, then 1, then 0,
 * never overlapping. Every step of the range has a slot; a slot without samples is null (a gap in the graph).
 *
 *   range │ tier read │ step   │ points
 *   ──────┼───────────┼────────┼───────
 *   hour  │ 0 (2 s)   │ 2 s    │ 1,800
 *   day   │ 1 (1 min) │ 1 min  │ 1,440
 *   week  │ 1 (1 min) │ 10 min │ 1,008
 *   year  │ 2 (1 h)   │ 1 day  │   365
 */
import { db } from '../db.ts';
import { addSums, RESPONSE_CLASSES, viewOf, type ResponseClass, type SampleSums } from './derive.ts';
import { readBuckets, seriesEnd, type Tier } from './store.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const RANGES = {
  hour: { spanMs: HOUR, tier: 0, stepMs: 2000 },
  day: { spanMs: DAY, tier: 1, stepMs: MINUTE },
  week: { spanMs: 7 * DAY, tier: 1, stepMs: 10 * MINUTE },
  year: { spanMs: 365 * DAY, tier: 2, stepMs: DAY },
} as const satisfies Record<string, { spanMs: number; tier: Tier; stepMs: number }>;
export type RangeName = keyof typeof RANGES;
export const RANGE_NAMES = Object.keys(RANGES) as RangeName[];

export const MAX_TRANSITIONS = 500;

/** Column-wise, as a chart takes it: `t` in seconds since the epoch, every other array aligned with it. */
export interface SeriesView {
  virtualService: string;
  /** null: the service as a whole. */
  realServer: string | null;
  range: RangeName;
  stepS: number;
  from: string;
  to: string;
  t: number[];
  connections: (number | null)[];
  connectionsMax: (number | null)[];
  newConnectionsPerS: (number | null)[];
  bytesInPerS: (number | null)[];
  bytesOutPerS: (number | null)[];
  requestsPerS: (number | null)[];
  responsesPerS: Record<ResponseClass, (number | null)[]>;
  latencyMs: (number | null)[];
  /** Health transitions in the range, oldest first (of the one server, or of every server of the service). */
  transitions: { at: string; realServer: string; previous: string; health: string; message: string }[];
}

/** The sums of one series over [fromMs, toMs) by step, finest tier last for the part the coarser ones lack. */
async function collect(virtualService: string, realServer: string, tier: Tier, fromMs: number, toMs: number, stepMs: number): Promise<Map<number, SampleSums>> {
  const out = new Map<number, SampleSums>();
  let start = fromMs;
  for (let t = tier; t >= 0 && start < toMs; t--) {
    const rows = await readBuckets({ tier: t as Tier, virtualService, realServer, fromMs: start, toMs, stepMs });
    for (const r of rows) {
      const { t: at, ...sums } = r;
      const have = out.get(at);
      out.set(at, have ? addSums(have, sums) : sums);
    }
    if (t > 0) start = Math.max(start, (await seriesEnd(t as Tier, virtualService, realServer)) ?? start);
  }
  return out;
}

export async function readSeries(q: { virtualService: string; realServer?: string; range: RangeName; nowMs: number }): Promise<SeriesView> {
  const r = RANGES[q.range];
  const toMs = Math.floor(q.nowMs / r.stepMs) * r.stepMs + r.stepMs;
  const fromMs = toMs - r.spanMs;
  const sums = await collect(q.virtualService, q.realServer ?? '', r.tier, fromMs, toMs, r.stepMs);
  const view: SeriesView = {
    virtualService: q.virtualService,
    realServer: q.realServer ?? null,
    range: q.range,
    stepS: r.stepMs / 1000,
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    t: [],
    connections: [],
    connectionsMax: [],
    newConnectionsPerS: [],
    bytesInPerS: [],
    bytesOutPerS: [],
    requestsPerS: [],
    responsesPerS: Object.fromEntries(RESPONSE_CLASSES.map((k) => [k, []])) as unknown as SeriesView['responsesPerS'],
    latencyMs: [],
    transitions: [],
  };
  for (let at = fromMs; at < toMs; at += r.stepMs) {
    view.t.push(at / 1000);
    const s = sums.get(at);
    const v = s ? viewOf(s) : undefined;
    view.connections.push(v?.connections ?? null);
    view.connectionsMax.push(v?.connectionsMax ?? null);
    view.newConnectionsPerS.push(v?.newConnectionsPerS ?? null);
    view.bytesInPerS.push(v?.bytesInPerS ?? null);
    view.bytesOutPerS.push(v?.bytesOutPerS ?? null);
    view.requestsPerS.push(v?.requestsPerS ?? null);
    for (const k of RESPONSE_CLASSES) view.responsesPerS[k].push(v?.responsesPerS[k] ?? null);
    view.latencyMs.push(v?.latencyMs ?? null);
  }
  const rows = await db().healthTransition.findMany({
    where: { virtualService: q.virtualService, ...(q.realServer ? { realServer: q.realServer } : {}), at: { gte: new Date(fromMs), lt: new Date(toMs) } },
    orderBy: [{ at: 'desc' }, { id: 'desc' }],
    take: MAX_TRANSITIONS,
    select: { at: true, realServer: true, previous: true, health: true, message: true },
  });
  view.transitions = rows.reverse().map((t) => ({ ...t, at: t.at.toISOString() }));
  return view;
}
