/**
 * The sampler: in the console process, fed the engine's 'stats' events (every 2 s while the console listens: the
 * live feed's one subscription, lib/live.ts) and its connection changes. Each event becomes one tier-0 row per
 * series (lib/samples/derive.ts), then every complete bucket of the coarser tiers is rolled up and, hourly, the
 * table is pruned (lib/samples/store.ts).
 *
 *   stats event ─► derivePoints ─► insertSamples (tier 0)
 *               └► minutes ended more than 5 s ago ─► rollup tier 1 ─► hours ended more than 10 s ago ─► tier 2
 *               └► an hour since the last prune ─► pruneSamples (age per tier, then the row bound)
 *
 * A rollup starts one bucket before its watermark, so a sample that arrived after its minute was first rolled is
 * counted on the next pass (re-rolling replaces the bucket with the same sums). On start the watermark is the newest
 * stored bucket of each tier (or, on an empty table, as far back as the tier below still reaches), so a console that
 * was away rolls up what it missed. Work is serialised; when the database falls behind by `maxPending` events, the
 * newer ones are dropped and said so once (a graph with a gap rather than an unbounded queue). It never throws into
 * its caller. The clock is injected (`now`), so tests drive rollups and retention without waiting.
 */
import type { EngineEvent } from '../../engine/api-types.ts';
import { log } from '../log.ts';
import { derivePoints, type Readings, type SamplePoint, type StatsService } from './derive.ts';
import { DEFAULT_MAX_ROWS, insertSamples, newestBucket, pruneSamples, rollup, TIERS } from './store.ts';

const PRUNE_EVERY_MS = 60 * 60 * 1000;
/** How long after a bucket's end its rollup waits for late samples: the event's clock is the engine's. */
const GRACE_MS = { 1: 5_000, 2: 10_000 } as const;

export interface SamplerOptions {
  now?: () => number;
  maxRows?: number;
  pruneEveryMs?: number;
  maxPending?: number;
  /** Told of each event's points once they are stored (tests; a future live push). */
  onStored?: (points: SamplePoint[]) => void;
}

export function createSampler(opts: SamplerOptions = {}) {
  const now = opts.now ?? Date.now;
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  const pruneEveryMs = opts.pruneEveryMs ?? PRUNE_EVERY_MS;
  const maxPending = opts.maxPending ?? 5;
  const readings: Readings = new Map();
  /** Per tier: the start of the first bucket not rolled yet (undefined until read from the table). */
  const rolled: Record<1 | 2, number | undefined> = { 1: undefined, 2: undefined };
  let isInitialised = false;
  let lastPruneMs = -Infinity;
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  let isClosed = false;
  let hasWarnedBehind = false;
  let timer: NodeJS.Timeout | undefined;

  const enqueue = (task: () => Promise<void>) => {
    pending++;
    chain = chain
      .then(task)
      .catch((e) => log('warn', 'samples: a write failed', { error: (e as Error).message }))
      .finally(() => pending--);
  };

  async function init(): Promise<void> {
    if (isInitialised) return;
    for (const tier of [1, 2] as const) {
      const newest = await newestBucket(tier);
      if (newest !== undefined) rolled[tier] = newest + TIERS[tier].bucketMs;
    }
    isInitialised = true;
  }

  async function rollDue(tier: 1 | 2, nowMs: number): Promise<void> {
    const { bucketMs } = TIERS[tier];
    const end = Math.floor((nowMs - GRACE_MS[tier]) / bucketMs) * bucketMs;
    const from = rolled[tier] !== undefined ? rolled[tier]! - bucketMs : Math.floor((nowMs - TIERS[tier - 1].keepMs) / bucketMs) * bucketMs;
    if (end <= from + (rolled[tier] !== undefined ? bucketMs : 0)) return;
    await rollup(tier, from, end);
    rolled[tier] = end;
  }

  /** Rollups that are due, then retention when it is time; what every stored event ends with. */
  async function maintain(): Promise<void> {
    await init();
    const nowMs = now();
    await rollDue(1, nowMs);
    await rollDue(2, nowMs);
    if (nowMs - lastPruneMs >= pruneEveryMs) {
      lastPruneMs = nowMs;
      const r = await pruneSamples({ nowMs, maxRows });
      if (r.byAge || r.byCount) log('info', 'samples pruned', { ...r, maxRows });
    }
  }

  async function record(services: StatsService[], atMs: number): Promise<void> {
    const points = derivePoints(readings, services, atMs);
    if (points.length) await insertSamples(points);
    await maintain();
    opts.onStored?.(points);
  }

  return {
    /** Hourly maintenance even when no samples come (an engine that is away must not stop retention). */
    start(): void {
      timer ??= setInterval(() => enqueue(maintain), pruneEveryMs);
      timer.unref?.();
    },
    handleEngineEvent(e: EngineEvent): void {
      if (isClosed || e.type !== 'stats') return;
      const atMs = Date.parse(e.at);
      if (!Number.isFinite(atMs) || !Array.isArray(e.services)) return;
      if (pending >= maxPending) {
        if (!hasWarnedBehind) log('warn', 'samples: the database is behind; dropping samples until it catches up (the graphs show a gap)', { pending });
        hasWarnedBehind = true;
        return;
      }
      hasWarnedBehind = false;
      enqueue(() => record(e.services as StatsService[], atMs));
    },
    /** A lost engine connection ends every series' run of readings: the next one after it starts without a rate. */
    handleConnection(isConnected: boolean): void {
      if (!isConnected) enqueue(async () => readings.clear());
    },
    /** Rollups and retention without a new sample (tests; a console whose engine is away still prunes). */
    maintain(): Promise<void> {
      enqueue(maintain);
      return chain;
    },
    /** Resolves once the work queued so far is done. */
    idle(): Promise<void> {
      return chain;
    },
    close(): Promise<void> {
      isClosed = true;
      if (timer) clearInterval(timer);
      return chain;
    },
  };
}
