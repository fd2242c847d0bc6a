/**
 * The sampler against a real SQLite file (the harness's data directory), fed 'stats' events directly with a fake
 * clock: a minute of 2 s samples rolls into one 1 min row with the same sums, an hour of minutes into one 1 h row,
 * a late sample is counted on the next pass, a new sampler rolls up what a stopped one left, and retention keeps
 * each tier to its age and the whole table to its row bound (oldest of the coarsest tier first). No sleeps.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineEvent } from '../../engine/api-types.ts';
import { startHarness, type Harness } from '../testing/harness.ts';
import { db } from '../db.ts';
import { createSampler } from './sampler.ts';
import { countRows, insertSamples, pruneSamples, rollup, TIERS } from './store.ts';
import { readSeries } from './series.ts';
import type { SamplePoint } from './derive.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ withEngine: false });
});
after(async () => {
  await h.close();
});
beforeEach(async () => {
  await db().$executeRaw`DELETE FROM "TrafficSample"`;
});

const T0 = Date.parse('2026-12-01T09:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** A 'stats' event at `atMs` whose counters are `n` times one request step: 10 requests (9 × 2xx, 1 × 5xx). */
function stats(atMs: number, n: number): EngineEvent {
  const c = (k: number) => ({
    activeConnections: 2 * k,
    totalConnections: n * k,
    bytesIn: 100 * n * k,
    bytesOut: 1000 * n * k,
    requests: 10 * n * k,
    responses: { '1xx': 0, '2xx': 9 * n * k, '3xx': 0, '4xx': 0, '5xx': n * k, other: 0 },
    latencyMs: 4,
  });
  return {
    type: 'stats',
    at: new Date(atMs).toISOString(),
    services: [
      {
        name: 'symphony-web',
        layer: 7,
        status: 'programmed',
        message: '',
        counters: c(2),
        realServers: [
          { name: 'sym-app-1', operator: 'online', health: 'up', decision: { disposition: 'serve', weight: 1 }, counters: c(1) },
          { name: 'sym-app-2', operator: 'online', health: 'up', decision: { disposition: 'serve', weight: 1 }, counters: c(1) },
        ],
      },
    ],
  } as unknown as EngineEvent;
}

const rows = (tier: number, realServer = '') =>
  db().$queryRaw<
    { at: bigint; samples: number; spanS: number; requests: number; r5xx: number; connMax: number; latencySumMs: number; latencyWeight: number }[]
  >`
    SELECT * FROM "TrafficSample" WHERE "tier" = ${tier} AND "virtualService" = 'symphony-web' AND "realServer" = ${realServer} ORDER BY "at"`;

/** Feeds one event every 2 s from `fromMs` (inclusive) to `toMs` (exclusive), with the clock at each event. */
async function feed(clock: { ms: number }, sampler: ReturnType<typeof createSampler>, fromMs: number, toMs: number, n0: number): Promise<number> {
  let n = n0;
  for (let t = fromMs; t < toMs; t += 2000) {
    clock.ms = t;
    sampler.handleEngineEvent(stats(t, n++));
    await sampler.idle();
  }
  return n;
}

test('a minute of 2 s samples is one 1 min row with their sums; an hour of minutes one 1 h row', async () => {
  const clock = { ms: T0 };
  const s = createSampler({ now: () => clock.ms });
  await feed(clock, s, T0, T0 + 2 * MIN, 0);
  // 5 s of grace after the first minute ended: the clock is now at 09:01:58, so minute 09:00 is rolled, 09:01 not.
  const m = await rows(1);
  assert.equal(m.length, 1);
  assert.equal(Number(m[0].at), T0);
  assert.equal(m[0].samples, 30);
  assert.equal(m[0].spanS, 58, 'the first sample has no previous reading');
  assert.equal(m[0].requests, 29 * 20, 'the service is both servers: 20 requests per 2 s');
  assert.equal(m[0].r5xx, 29 * 2);
  assert.equal(m[0].connMax, 4);
  const tier0 = await rows(0);
  assert.equal(tier0.length, 60);
  assert.equal(
    tier0.slice(0, 30).reduce((a, r) => a + r.requests, 0),
    m[0].requests,
    'the rollup is the sum of its samples',
  );
  const server = await rows(1, 'sym-app-1');
  assert.equal(server[0].requests, 29 * 10, 'each real server has its own rows');

  // 10 s after the hour ends, with minute 09:01 rolled on the way: one hour row, the two minutes' sums.
  clock.ms = T0 + HOUR + 10_000;
  await s.maintain();
  const mins = await rows(1);
  assert.equal(mins.length, 2);
  const hr = await rows(2);
  assert.equal(hr.length, 1);
  assert.equal(Number(hr[0].at), T0);
  assert.equal(hr[0].samples, 60);
  assert.equal(hr[0].requests, mins[0].requests + mins[1].requests);
  assert.equal(hr[0].latencySumMs / hr[0].latencyWeight, 4);

  // The series the graphs read: per second and per step.
  const day = await readSeries({ virtualService: 'symphony-web', range: 'day', nowMs: clock.ms });
  const i = day.t.indexOf(T0 / 1000);
  assert.equal(day.requestsPerS[i], 10);
  assert.equal(day.responsesPerS['5xx'][i], 1);
  assert.equal(day.connections[i], 4);
  assert.equal(day.t.length, 1440);
  const year = await readSeries({ virtualService: 'symphony-web', range: 'year', nowMs: clock.ms });
  const d = year.t.indexOf((Math.floor(T0 / DAY) * DAY) / 1000);
  assert.equal(year.requestsPerS[d], (mins[0].requests + mins[1].requests) / 118);
  await s.close();
});

test('a sample that arrives after its minute was rolled is counted on the next pass', async () => {
  const clock = { ms: T0 };
  const s = createSampler({ now: () => clock.ms });
  await feed(clock, s, T0, T0 + 34_000, 0); // 09:00:00 … 09:00:32
  clock.ms = T0 + MIN + 6000;
  await s.maintain();
  const before = (await rows(1))[0];
  assert.equal(before.samples, 17);
  // A late event stamped 09:00:58 (the engine's clock), then the next minute ends.
  const late: SamplePoint = {
    virtualService: 'symphony-web',
    realServer: '',
    at: T0 + 58_000,
    samples: 1,
    spanS: 2,
    connSum: 4,
    connMax: 4,
    newConns: 0,
    bytesIn: 0,
    bytesOut: 0,
    requests: 7,
    r1xx: 0,
    r2xx: 7,
    r3xx: 0,
    r4xx: 0,
    r5xx: 0,
    rOther: 0,
    latencySumMs: 0,
    latencyWeight: 0,
  };
  await insertSamples([late]);
  clock.ms = T0 + 2 * MIN + 6000;
  await s.maintain();
  const after = (await rows(1))[0];
  assert.equal(after.samples, 18);
  assert.equal(after.requests, before.requests + 7);
  await s.close();
});

test('two samples in one 2 s bucket add up; re-running a rollup changes nothing', async () => {
  const clock = { ms: T0 };
  const s = createSampler({ now: () => clock.ms });
  s.handleEngineEvent(stats(T0, 0));
  s.handleEngineEvent(stats(T0 + 1000, 1)); // same 2 s bucket, 1 s later
  await s.idle();
  const b = await rows(0);
  assert.equal(b.length, 1);
  assert.equal(b[0].samples, 2);
  assert.equal(b[0].requests, 20);
  assert.equal(await rollup(1, T0, T0 + MIN), 3, 'the service and its two servers');
  const once = await rows(1);
  await rollup(1, T0, T0 + MIN);
  assert.deepEqual(await rows(1), once);
  await s.close();
});

test('a new sampler rolls up what a stopped one left unrolled', async () => {
  const clock = { ms: T0 };
  const a = createSampler({ now: () => clock.ms });
  await feed(clock, a, T0, T0 + MIN, 0);
  await a.close();
  assert.equal((await rows(1)).length, 0, 'the minute ended inside its grace: not rolled yet');
  clock.ms = T0 + 20 * MIN;
  const b = createSampler({ now: () => clock.ms });
  await b.maintain();
  const m = await rows(1);
  assert.equal(m.length, 1);
  assert.equal(m[0].samples, 30);
  await b.close();
});

/** One sample row per series of tier 0 at each time, rolled into tiers 1 and 2 as the sampler would. */
async function seed(times: number[]): Promise<void> {
  const p = (at: number, rs: string): SamplePoint => ({
    virtualService: 'symphony-web',
    realServer: rs,
    at,
    samples: 1,
    spanS: 2,
    connSum: 1,
    connMax: 1,
    newConns: 1,
    bytesIn: 1,
    bytesOut: 1,
    requests: 1,
    r1xx: 0,
    r2xx: 1,
    r3xx: 0,
    r4xx: 0,
    r5xx: 0,
    rOther: 0,
    latencySumMs: 1,
    latencyWeight: 1,
  });
  await insertSamples(times.flatMap((t) => [p(t, ''), p(t, 'sym-app-1')]));
  const lo = Math.min(...times);
  const hi = Math.max(...times) + HOUR;
  await rollup(1, lo - HOUR, hi);
  await rollup(2, lo - HOUR, hi);
}

test('retention: each tier keeps its age (2 s an hour, 1 min a week, 1 h a year)', async () => {
  const now = T0 + 400 * DAY;
  const ages = [30 * MIN, 2 * HOUR, 6 * DAY, 8 * DAY, 300 * DAY, 370 * DAY];
  await seed(ages.map((a) => Math.floor((now - a) / HOUR) * HOUR + 2 * MIN));
  const r = await pruneSamples({ nowMs: now, maxRows: 1_000_000 });
  assert.ok(r.byAge > 0);
  assert.equal(r.byCount, 0);
  for (const t of TIERS) {
    const left = await db().$queryRaw<{ at: bigint }[]>`SELECT "at" FROM "TrafficSample" WHERE "tier" = ${t.tier}`;
    assert.ok(left.length > 0, `tier ${t.tier} keeps its recent rows`);
    for (const x of left) assert.ok(Number(x.at) >= now - t.keepMs, `tier ${t.tier} keeps nothing older than ${t.keepMs} ms`);
  }
  // What survived, by tier: tier 0 only the 30 min old sample; tier 1 up to 6 days; tier 2 up to 300 days.
  const per = await db().$queryRaw<{ tier: number; n: bigint }[]>`SELECT "tier", COUNT(*) AS n FROM "TrafficSample" GROUP BY "tier" ORDER BY "tier"`;
  assert.deepEqual(
    per.map((x) => [Number(x.tier), Number(x.n)]),
    [
      [0, 2],
      [1, 6],
      [2, 10],
    ],
  );
});

test('the row bound: the table never exceeds maxRows after a prune, and the oldest hours go first', async () => {
  const now = T0 + 10 * DAY;
  await seed([now - 30 * MIN, now - 2 * DAY, now - 5 * DAY]);
  assert.equal(await countRows(), 2 * 3 * 3, 'two series, three samples, three tiers');
  const r = await pruneSamples({ nowMs: now, maxRows: 10 });
  assert.deepEqual(r, { byAge: 4, byCount: 4 }, 'the two old 2 s samples by age, then four hours by the bound');
  assert.equal(await countRows(), 10);
  const hours = await db().$queryRaw<{ at: bigint }[]>`SELECT "at" FROM "TrafficSample" WHERE "tier" = 2 ORDER BY "at"`;
  assert.equal(hours.length, 2, 'only the newest hour of tier 2 is left (two series)');
  assert.ok(hours.every((x) => Number(x.at) > now - DAY));
  assert.equal((await rows(1)).length, 3, 'the minutes are kept while the hours can pay');
  await pruneSamples({ nowMs: now, maxRows: 3 });
  assert.equal(await countRows(), 3);
  assert.equal(
    (await db().$queryRaw<{ n: bigint }[]>`SELECT COUNT(*) AS n FROM "TrafficSample" WHERE "tier" = 0`)[0].n,
    2n,
    "the last hour's detail goes last",
  );
});

test('the sampler drops events while the database is behind, and says so once', async () => {
  const clock = { ms: T0 };
  const s = createSampler({ now: () => clock.ms, maxPending: 2 });
  for (let i = 0; i < 5; i++) s.handleEngineEvent(stats(T0 + i * 2000, i));
  await s.idle();
  assert.equal((await rows(0)).length, 2);
  await s.close();
});
