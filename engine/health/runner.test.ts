/**
 * The check runner alone (what the monitor's child process runs), with fake timers and checkers whose verdicts the
 * test sets: a replacement check takes the health its predecessor really has when the monitor's copy was behind
 * (a verdict crossing a new configuration on the way), results and schedule stats are handed out once each.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from '../config/index.ts';
import { CheckRunner, type CheckSpec } from './runner.ts';
import { result } from './status.ts';
import type { CheckKind } from './monitor.ts';
import type { Checker } from './types.ts';

const check = (intervalMs: number) =>
  ConfigSchema.parse({
    virtualServices: [
      {
        name: 'web',
        layer: 7,
        mode: 'http',
        address: '127.0.0.1',
        ports: [80],
        realServers: [{ name: 'a', address: '127.0.0.2', port: 80 }],
        healthCheck: { type: 'connect', intervalMs, timeoutMs: 200, fall: 1, rise: 1 },
      },
    ],
  }).virtualServices[0].healthCheck;

function harness(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let isPass = true;
  const checker: Checker = async (target) =>
    isPass
      ? result('L4OK', { target: `${target.address}:${target.port}` }, 1)
      : result('L4CON', { target: `${target.address}:${target.port}`, reason: 'connection refused' }, 1);
  const transitions: string[] = [];
  const r = new CheckRunner({
    checkers: Object.fromEntries(['connect', 'send-expect', 'http', 'https', 'external', 'ping', 'dicom-echo'].map((k) => [k, checker])) as Record<
      CheckKind,
      Checker
    >,
    random: () => 0,
    events: {
      onTransition: (id, previous, health, res) => transitions.push(`${id} ${previous}→${health} ${res.code}`),
      onWeight: () => undefined,
      onAgent: () => undefined,
    },
  });
  t.after(() => r.close());
  const tick = async (ms: number) => {
    t.mock.timers.tick(ms);
    for (let i = 0; i < 3; i++) await new Promise((res) => setImmediate(res));
  };
  return { r, transitions, tick, fail: () => (isPass = false) };
}

const spec = (id: string, intervalMs: number, over: Partial<CheckSpec> = {}): CheckSpec => ({
  id,
  kind: 'connect',
  target: { address: '127.0.0.2', port: 80, vip: '127.0.0.1', vipPort: 80, check: check(intervalMs) },
  health: 'unknown',
  isWaitingFirstPass: false,
  ...over,
});

test("a replacement check takes its predecessor's real health when the monitor's copy was behind", async (t) => {
  const h = harness(t);
  h.r.set({ add: [spec('old', 1000)], remove: [], addAgents: [], removeAgents: [] });
  await h.tick(0);
  h.fail();
  await h.tick(1000);
  assert.deepEqual(h.transitions, ['old unknown→up L4OK', 'old up→down L4CON']);
  // The monitor had not yet heard of the down when it replaced the check (interval changed): it hands over 'up'.
  h.r.set({ add: [spec('new', 2000, { health: 'up', carryFrom: 'old' })], remove: ['old'], addAgents: [], removeAgents: [] });
  assert.deepEqual(h.transitions.at(-1), 'new up→down L4CON', 'the replacement says at once what its predecessor knew');
  assert.equal(h.r.lastOf('old'), undefined, 'the old check is gone');
  assert.equal(h.r.lastOf('new')?.result.code, undefined, 'the replacement has not run yet');
});

test('results and schedule stats are handed out once each', async (t) => {
  const h = harness(t);
  h.r.set({
    add: [spec('a', 1000), spec('b', 1000, { target: { address: '127.0.0.3', port: 80, vip: '127.0.0.1', vipPort: 80, check: check(1000) } })],
    remove: [],
    addAgents: [],
    removeAgents: [],
  });
  await h.tick(0);
  assert.deepEqual(
    h.r
      .takeResults()
      .map((x) => [x.id, x.result.code])
      .sort(),
    [
      ['a', 'L4OK'],
      ['b', 'L4OK'],
    ],
  );
  assert.deepEqual(h.r.takeResults(), [], 'nothing new since');
  assert.equal((await h.r.refresh())?.runs, 2);
  assert.equal((await h.r.refresh())?.runs, 0, 'counted again from the last ask');
  await h.tick(1000);
  assert.equal(h.r.takeResults().length, 2);
});
