/**
 * Health history against a real SQLite file (the harness's data directory) and a fake engine fed events directly:
 * the same transition twice is one row; a reconnect fetches only what is missing; a restarted engine is caught up
 * from its own seq 1; retention by count and by age with an injected clock (no sleeps).
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineEvent, HealthTransitionEvent, HealthTransitionsResponse } from '../engine/api-types.ts';
import { startHarness, type Harness } from './testing/harness.ts';
import { createHealthHistory, healthHistoryOf, lastSeq, pruneHealthHistory, recordTransitions, type HealthHistoryEngine } from './health-history.ts';
import { db } from './db.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ withEngine: false });
});
after(async () => {
  await h.close();
});
beforeEach(async () => {
  await db().healthTransition.deleteMany({});
});

const T0 = Date.parse('2026-12-01T09:00:00.000Z');

function transition(seq: number, over: Partial<HealthTransitionEvent> = {}): HealthTransitionEvent {
  const isDown = seq % 2 === 1;
  return {
    type: 'health',
    seq,
    at: new Date(T0 + seq * 1000).toISOString(),
    virtualService: 'symphony-web',
    realServer: 'sym-app-1',
    previous: isDown ? 'up' : 'down',
    health: isDown ? 'down' : 'up',
    code: isDown ? 'L4CON' : 'L7OK',
    message: isDown ? 'TCP connect to 127.0.0.1:8081 failed: connection refused (nothing listens on that port)' : 'HTTP 200 from / on 127.0.0.1:8081',
    durationMs: 1.5,
    check: 'http',
    target: '127.0.0.1:8081',
    ...over,
  };
}

/** An engine whose bounded log is `log`; records every `since` it was asked for. */
function fakeEngine(startedAt: string, log: HealthTransitionEvent[]) {
  const asked: number[] = [];
  const e: HealthHistoryEngine & { asked: number[]; startedAt: string; log: HealthTransitionEvent[] } = {
    asked,
    startedAt,
    log,
    async healthTransitions(since = 0): Promise<HealthTransitionsResponse> {
      asked.push(since);
      return { engineStartedAt: e.startedAt, transitions: e.log.filter((t) => t.seq > since) };
    },
    async status() {
      return { startedAt: e.startedAt };
    },
  };
  return e;
}

/** The stream's first event; `startedAt` names the engine process. Without it (an older engine) the catch-up names it. */
const hello = (startedAt?: string) =>
  ({ type: 'hello' as const, at: new Date(T0).toISOString(), running: null, ...(startedAt ? { startedAt } : {}) }) as EngineEvent;
const seqs = async (startedAt: string) =>
  (await db().healthTransition.findMany({ where: { engineStartedAt: startedAt }, orderBy: { seq: 'asc' } })).map((r) => r.seq);

test('the same transition twice is stored once', async () => {
  assert.equal(await recordTransitions('E1', [transition(1)]), 1);
  assert.equal(await recordTransitions('E1', [transition(1)]), 0);
  assert.equal(await recordTransitions('E1', [transition(1), transition(1), transition(2)]), 1);
  assert.deepEqual(await seqs('E1'), [1, 2]);
  // The same seq from another engine process is another transition.
  assert.equal(await recordTransitions('E2', [transition(1)]), 1);
  const [row] = await healthHistoryOf('symphony-web', 'sym-app-1', 1);
  assert.deepEqual(
    { ...row, id: 0 },
    {
      id: 0,
      at: transition(2).at,
      previous: 'down',
      health: 'up',
      code: 'L7OK',
      message: 'HTTP 200 from / on 127.0.0.1:8081',
      durationMs: 1.5,
      check: 'http',
      target: '127.0.0.1:8081',
    },
  );
});

test('a reconnect catches up only what is missing, and a live event already caught up is not stored again', async () => {
  await recordTransitions(
    'E1',
    [1, 2, 3].map((n) => transition(n)),
  );
  const eng = fakeEngine(
    'E1',
    [1, 2, 3, 4, 5, 6].map((n) => transition(n)),
  );
  const rec = createHealthHistory({ engine: eng, pruneEveryMs: 0 });
  rec.handleEngineEvent(hello('E1'));
  rec.handleEngineEvent(transition(6)); // on the stream while the catch-up call is out, and in its answer too
  await rec.idle();
  assert.deepEqual(eng.asked, [3], 'asked only for seq > 3');
  assert.deepEqual(await seqs('E1'), [1, 2, 3, 4, 5, 6]);
  rec.handleEngineEvent(transition(7));
  rec.handleEngineEvent(transition(7));
  await rec.idle();
  assert.deepEqual(await seqs('E1'), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(await lastSeq('E1'), 7);
  rec.close();
});

test('a restarted engine is caught up from its own first transition; the old one keeps its rows', async () => {
  const eng = fakeEngine(
    'E1',
    [1, 2, 3, 4].map((n) => transition(n)),
  );
  const rec = createHealthHistory({ engine: eng, pruneEveryMs: 0 });
  rec.handleEngineEvent(hello('E1'));
  await rec.idle();
  rec.handleConnection(false);
  eng.startedAt = 'E2';
  eng.log = [1, 2].map((n) => transition(n, { at: new Date(T0 + 60_000 + n).toISOString() }));
  rec.handleEngineEvent(hello('E2'));
  rec.handleEngineEvent(transition(3, { at: new Date(T0 + 60_003).toISOString() }));
  await rec.idle();
  assert.deepEqual(eng.asked, [0, 0]);
  assert.deepEqual(await seqs('E1'), [1, 2, 3, 4]);
  assert.deepEqual(await seqs('E2'), [1, 2, 3]);
  rec.close();
});

test('a console restart under a running engine fetches only what it missed', async () => {
  await recordTransitions(
    'E1',
    [1, 2].map((n) => transition(n)),
  );
  const eng = fakeEngine(
    'E1',
    [1, 2, 3].map((n) => transition(n)),
  );
  const rec = createHealthHistory({ engine: eng, pruneEveryMs: 0 });
  rec.handleEngineEvent(hello('E1'));
  await rec.idle();
  assert.deepEqual(eng.asked, [2]);
  assert.deepEqual(await seqs('E1'), [1, 2, 3]);
  rec.close();
});

test('an engine without the transition log: live transitions are still stored; events without seq are not', async () => {
  const eng = fakeEngine('E1', []);
  eng.healthTransitions = async () => {
    throw Object.assign(new Error('GET /v1/health/transitions is not in the running configuration.'), { code: 'ENGINE_NOT_FOUND' });
  };
  const rec = createHealthHistory({ engine: eng, pruneEveryMs: 0 });
  rec.handleEngineEvent(hello());
  rec.handleEngineEvent(transition(1));
  await rec.idle();
  rec.handleEngineEvent(transition(2));
  rec.handleEngineEvent({ type: 'health', at: transition(3).at, virtualService: 'x', realServer: 'y', health: 'down' } as never);
  await rec.idle();
  assert.deepEqual(await seqs('E1'), [1, 2]);
  rec.close();
});

test('a hello without startedAt: the answer names the engine, a wrong guess is asked again from the right seq', async () => {
  await recordTransitions(
    'E1',
    [1, 2, 3, 4].map((n) => transition(n)),
  );
  const eng = fakeEngine(
    'E2',
    [1, 2].map((n) => transition(n)),
  );
  const rec = createHealthHistory({ engine: eng, pruneEveryMs: 0 });
  rec.handleEngineEvent(hello());
  rec.handleEngineEvent(transition(3)); // held until the engine is named
  await rec.idle();
  assert.deepEqual(eng.asked, [4, 0], "first from the newest stored engine's last seq, then from E2's");
  assert.deepEqual(await seqs('E2'), [1, 2, 3]);
  rec.close();
});

test('a hello without startedAt whose connection closes before the answer keeps the answer, not what it held', async () => {
  const eng = fakeEngine('E1', [transition(1)]);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const inner = eng.healthTransitions;
  eng.healthTransitions = async (since) => {
    await gate;
    return inner(since);
  };
  const rec = createHealthHistory({ engine: eng, pruneEveryMs: 0 });
  rec.handleEngineEvent(hello());
  rec.handleEngineEvent(transition(2));
  rec.handleConnection(false);
  release();
  await rec.idle();
  assert.deepEqual(await seqs('E1'), [1], "the answer names its engine; the held seq 2 could be another engine's");
  rec.close();
});

test('retention by count keeps the newest rows', async () => {
  await recordTransitions(
    'E1',
    Array.from({ length: 10 }, (_, i) => transition(i + 1)),
  );
  const r = await pruneHealthHistory({ now: new Date(T0 + 20_000), maxAgeDays: 30, maxRows: 4 });
  assert.deepEqual(r, { byAge: 0, byCount: 6 });
  assert.deepEqual(await seqs('E1'), [7, 8, 9, 10]);
  assert.deepEqual(await pruneHealthHistory({ now: new Date(T0 + 20_000), maxAgeDays: 30, maxRows: 4 }), { byAge: 0, byCount: 0 });
});

test('retention by age drops what is older than the limit, by the injected clock', async () => {
  const day = 24 * 60 * 60 * 1000;
  const now = T0 + 100 * day;
  const ages = [45, 31, 30.5, 29, 1, 0];
  await recordTransitions(
    'E1',
    ages.map((d, i) => transition(i + 1, { at: new Date(now - d * day).toISOString() })),
  );
  let clock = new Date(now);
  const rec = createHealthHistory({ engine: fakeEngine('E1', []), now: () => clock, maxAgeDays: 30, maxRows: 1000, pruneEveryMs: 0 });
  assert.deepEqual(await rec.prune(), { byAge: 3, byCount: 0 });
  assert.deepEqual(await seqs('E1'), [4, 5, 6]);
  clock = new Date(now + 1.5 * day); // a day and a half later, the 29-day-old row is past 30 days
  assert.deepEqual(await rec.prune(), { byAge: 1, byCount: 0 });
  assert.deepEqual(await seqs('E1'), [5, 6]);
  rec.close();
});

test('history of one server is newest first and limited', async () => {
  await recordTransitions(
    'E1',
    [1, 2, 3, 4, 5].map((n) => transition(n)),
  );
  await recordTransitions('E1', [transition(6, { realServer: 'sym-app-2' })]);
  const rows = await healthHistoryOf('symphony-web', 'sym-app-1', 3);
  assert.deepEqual(
    rows.map((r) => r.at),
    [5, 4, 3].map((n) => transition(n).at),
  );
  assert.equal((await healthHistoryOf('symphony-web', 'sym-app-2', 50)).length, 1);
});
