/**
 * The graphs' samples in SQLite (model TrafficSample), in three tiers:
 *
 *   tier │ bucket │ kept     │ made by
 *   ─────┼────────┼──────────┼──────────────────────────────────────────
 *     0  │ 2 s    │ 1 hour   │ the sampler, one row per series per 'stats' event
 *     1  │ 1 min  │ 1 week   │ rollup of tier 0 (INSERT … SELECT … GROUP BY)
 *     2  │ 1 h    │ 1 year   │ rollup of tier 1
 *
 * Every column is a sum (lib/samples/derive.ts), so a rollup is SUM (MAX for connMax) and re-running one is harmless:
 * it replaces the bucket with the same sums. Through Prisma's own connection (raw SQL where Prisma has no words for
 * it: upsert-add, INSERT … SELECT), so the samples never contend with the console's other writes on a second
 * connection. Size is bounded twice: by age per tier, and by `maxRows` over the whole table (the oldest rows of the
 * coarsest tier go first: a year-old hour matters less than the last hour's detail).
 */
import { Prisma } from '../generated/prisma/client.ts';
import { db } from '../db.ts';
import type { SamplePoint, SampleSums } from './derive.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const TIERS = [
  { tier: 0, bucketMs: 2000, keepMs: HOUR },
  { tier: 1, bucketMs: MINUTE, keepMs: 7 * DAY },
  { tier: 2, bucketMs: HOUR, keepMs: 365 * DAY },
] as const;
export type Tier = 0 | 1 | 2;

/** About 100 series (services and servers) with a full year: 20,640 rows each (1,800 + 10,080 + 8,760). */
export const DEFAULT_MAX_ROWS = 2_000_000;

const SUMS = [
  'samples',
  'spanS',
  'connSum',
  'connMax',
  'newConns',
  'bytesIn',
  'bytesOut',
  'requests',
  'r1xx',
  'r2xx',
  'r3xx',
  'r4xx',
  'r5xx',
  'rOther',
  'latencySumMs',
  'latencyWeight',
] as const;
const NULLABLE = new Set<string>(['requests', 'r1xx', 'r2xx', 'r3xx', 'r4xx', 'r5xx', 'rOther', 'latencySumMs', 'latencyWeight']);
const COLS = ['tier', 'virtualService', 'realServer', 'at', ...SUMS].map((c) => `"${c}"`).join(', ');
const KEY = '"tier", "virtualService", "realServer", "at"';

/** How a conflicting row merges: adding (a second sample in one 2 s bucket) or replacing (a re-run rollup). */
const ADD = SUMS.map((c) => {
  if (c === 'connMax') return `"connMax" = MAX("connMax", excluded."connMax")`;
  if (NULLABLE.has(c))
    return `"${c}" = CASE WHEN "${c}" IS NULL AND excluded."${c}" IS NULL THEN NULL ELSE COALESCE("${c}", 0) + COALESCE(excluded."${c}", 0) END`;
  return `"${c}" = "${c}" + excluded."${c}"`;
}).join(', ');
const REPLACE = SUMS.map((c) => `"${c}" = excluded."${c}"`).join(', ');
const AGG = SUMS.map((c) => (c === 'connMax' ? 'MAX("connMax")' : `SUM("${c}")`)).join(', ');

const CHUNK = 500;

/**
 * A whole number written into the SQL text: bucket sizes must divide as integers ("at" / 60000), and a bound JS
 * number may reach SQLite as a REAL, which would make that a fractional division. Only the module's own constants
 * and validated steps come here.
 */
function int(n: number): Prisma.Sql {
  if (!Number.isSafeInteger(n)) throw new Error(`not a whole number: ${n}`);
  return Prisma.raw(String(n));
}

/** Stores 2 s samples (tier 0); a second sample for the same series and bucket adds into it. */
export async function insertSamples(points: readonly SamplePoint[]): Promise<void> {
  for (let i = 0; i < points.length; i += CHUNK) {
    const rows = points
      .slice(i, i + CHUNK)
      .map((p) => Prisma.sql`(0, ${p.virtualService}, ${p.realServer}, ${BigInt(p.at)}, ${Prisma.join(SUMS.map((c) => p[c]))})`);
    await db()
      .$executeRaw`INSERT INTO "TrafficSample" (${Prisma.raw(COLS)}) VALUES ${Prisma.join(rows)} ON CONFLICT (${Prisma.raw(KEY)}) DO UPDATE SET ${Prisma.raw(ADD)}`;
  }
}

/** Makes tier `tier` (1 or 2) buckets in [fromMs, toMs) from the tier below; returns the rows written. */
export async function rollup(tier: 1 | 2, fromMs: number, toMs: number): Promise<number> {
  const b = TIERS[tier].bucketMs;
  if (toMs <= fromMs) return 0;
  return db().$executeRaw`INSERT INTO "TrafficSample" (${Prisma.raw(COLS)})
    SELECT ${int(tier)}, "virtualService", "realServer", ("at" / ${int(b)}) * ${int(b)}, ${Prisma.raw(AGG)}
    FROM "TrafficSample" WHERE "tier" = ${int(tier - 1)} AND "at" >= ${BigInt(fromMs)} AND "at" < ${BigInt(toMs)}
    GROUP BY "virtualService", "realServer", "at" / ${int(b)}
    ON CONFLICT (${Prisma.raw(KEY)}) DO UPDATE SET ${Prisma.raw(REPLACE)}`;
}

/** The newest bucket start of a tier (any series), or undefined when it is empty. */
export async function newestBucket(tier: Tier): Promise<number | undefined> {
  const r = await db().$queryRaw<{ at: bigint | number | null }[]>`SELECT MAX("at") AS at FROM "TrafficSample" WHERE "tier" = ${int(tier)}`;
  return r[0]?.at === null || r[0]?.at === undefined ? undefined : Number(r[0].at);
}

export async function countRows(): Promise<number> {
  const r = await db().$queryRaw<{ n: bigint | number }[]>`SELECT COUNT(*) AS n FROM "TrafficSample"`;
  return Number(r[0].n);
}

/**
 * Retention: each tier's rows older than its `keepMs`, then, while the table holds more than `maxRows`, the oldest
 * rows of tier 2, then 1, then 0. Returns how many went by age and by the bound.
 */
export async function pruneSamples(opts: { nowMs: number; maxRows: number }): Promise<{ byAge: number; byCount: number }> {
  let byAge = 0;
  for (const t of TIERS) byAge += await db().$executeRaw`DELETE FROM "TrafficSample" WHERE "tier" = ${int(t.tier)} AND "at" < ${BigInt(opts.nowMs - t.keepMs)}`;
  let byCount = 0;
  let excess = (await countRows()) - opts.maxRows;
  for (const tier of [2, 1, 0]) {
    if (excess <= 0) break;
    const n = await db()
      .$executeRaw`DELETE FROM "TrafficSample" WHERE rowid IN (SELECT rowid FROM "TrafficSample" WHERE "tier" = ${int(tier)} ORDER BY "at" LIMIT ${int(excess)})`;
    byCount += n;
    excess -= n;
  }
  return { byAge, byCount };
}

export interface BucketSums extends SampleSums {
  /** Bucket start (ms). */
  t: number;
}

/** One series' rows of one tier in [fromMs, toMs), regrouped into `stepMs` buckets (a multiple of the tier's). */
export async function readBuckets(q: {
  tier: Tier;
  virtualService: string;
  realServer: string;
  fromMs: number;
  toMs: number;
  stepMs: number;
}): Promise<BucketSums[]> {
  const rows = await db().$queryRaw<Record<string, bigint | number | null>[]>`
    SELECT ("at" / ${int(q.stepMs)}) * ${int(q.stepMs)} AS t, ${Prisma.raw(SUMS.map((c) => (c === 'connMax' ? 'MAX("connMax") AS "connMax"' : `SUM("${c}") AS "${c}"`)).join(', '))}
    FROM "TrafficSample"
    WHERE "tier" = ${int(q.tier)} AND "virtualService" = ${q.virtualService} AND "realServer" = ${q.realServer} AND "at" >= ${BigInt(q.fromMs)} AND "at" < ${BigInt(q.toMs)}
    GROUP BY "at" / ${int(q.stepMs)} ORDER BY t`;
  return rows.map((r) => {
    const out = { t: Number(r.t) } as BucketSums;
    for (const c of SUMS) (out as unknown as Record<string, number | null>)[c] = r[c] === null ? null : Number(r[c]);
    return out;
  });
}

/** The end of a series' newest bucket in a tier (where the next finer tier takes over), or undefined. */
export async function seriesEnd(tier: Tier, virtualService: string, realServer: string): Promise<number | undefined> {
  const r = await db().$queryRaw<
    { at: bigint | number | null }[]
  >`SELECT MAX("at") AS at FROM "TrafficSample" WHERE "tier" = ${int(tier)} AND "virtualService" = ${virtualService} AND "realServer" = ${realServer}`;
  return r[0]?.at === null || r[0]?.at === undefined ? undefined : Number(r[0].at) + TIERS[tier].bucketMs;
}
