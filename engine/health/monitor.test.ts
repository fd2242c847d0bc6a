/**
 * The monitor's schedule and state machine with fake timers and checkers whose verdicts the test sets: rise and
 * fall, starting down, shared checks, the random start offset, health carried over a settings change, allowed
 * networks, feedback from agents and dynamic weights, and one batch for results that land together.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema, type ConfigInput, type VirtualServiceInput } from '../config/index.ts';
import { HealthMonitor, type CheckKind, type MonitorTransition } from './monitor.ts';
import { result, type CheckResult } from './status.ts';
import type { AgentReport, Checker, CheckTarget } from './types.ts';
import type { ServerKey } from '../dataplane.ts';

const PASS = (t: CheckTarget) => result('L4OK', { target: `${t.address}:${t.port}` }, 1);
const FAIL = (t: CheckTarget) => result('L4CON', { target: `${t.address}:${t.port}`, reason: 'connection refused' }, 1);

/** A monitor whose checks answer from `verdicts` by address (default pass), counting calls per address. */
function harness(t: TestContext, opts: { allowedNetworks?: string[]; random?: () => number; agent?: (address: string) => AgentReport | null } = {}) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const verdicts = new Map<string, (t: CheckTarget) => CheckResult>();
  const calls = new Map<string, number>();
  const targets: CheckTarget[] = [];
  const checker: Checker = async (target) => {
    calls.set(target.address, (calls.get(target.address) ?? 0) + 1);
    targets.push(target);
    return (verdicts.get(target.address) ?? PASS)(target);
  };
  const batches: MonitorTransition[][] = [];
  const feedback: ServerKey[][] = [];
  const kinds: CheckKind[] = ['connect', 'send-expect', 'http', 'https', 'external', 'ping', 'dicom-echo'];
  const m = new HealthMonitor({
    checkers: Object.fromEntries(kinds.map((k) => [k, checker])) as Record<CheckKind, Checker>,
    agentChecker: async (a) => opts.agent?.(a.address) ?? null,
    allowedNetworks: opts.allowedNetworks,
    random: opts.random ?? (() => 0),
    onTransitions: (b) => batches.push(b),
    onFeedback: (k) => feedback.push(k),
  });
  t.after(() => m.close());
  /** Moves the fake clock, then lets the checks' promises and the monitor's batch (setImmediate) settle. */
  const tick = async (ms: number) => {
    t.mock.timers.tick(ms);
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  return { m, verdicts, calls, targets, batches, feedback, tick };
}

const svc = (name: string, over: Partial<VirtualServiceInput> = {}, servers = [{ name: 'a', address: '127.0.0.2', port: 8080 }]): VirtualServiceInput => ({
  name,
  layer: 7,
  mode: 'http',
  address: '127.0.0.1',
  ports: [80],
  realServers: servers,
  healthCheck: { type: 'connect', intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3 },
  ...over,
});
const cfg = (...services: VirtualServiceInput[]) => ConfigSchema.parse({ virtualServices: services } as ConfigInput);

test('fall consecutive failures take a server down, rise consecutive passes bring it back; a pass resets the count', async (t) => {
  const h = harness(t);
  h.m.update(cfg(svc('web')));
  assert.equal(h.m.healthOf('web/a'), 'unknown', 'unknown before the first check');
  await h.tick(0);
  assert.equal(h.m.healthOf('web/a'), 'up');
  assert.deepEqual(
    h.batches.flat().map((x) => [x.previous, x.health]),
    [['unknown', 'up']],
  );
  h.verdicts.set('127.0.0.2', FAIL);
  await h.tick(1000);
  await h.tick(1000);
  assert.equal(h.m.healthOf('web/a'), 'up', 'two failures of three');
  h.verdicts.delete('127.0.0.2');
  await h.tick(1000);
  h.verdicts.set('127.0.0.2', FAIL);
  await h.tick(1000);
  await h.tick(1000);
  assert.equal(h.m.healthOf('web/a'), 'up', 'the pass in between reset the count');
  await h.tick(1000);
  assert.equal(h.m.healthOf('web/a'), 'down');
  const down = h.batches.flat().at(-1)!;
  assert.deepEqual([down.key, down.previous, down.health, down.code, down.check, down.target], ['web/a', 'up', 'down', 'L4CON', 'connect', '127.0.0.2:8080']);
  assert.equal(down.message, 'TCP connect to 127.0.0.2:8080 failed: connection refused');
  h.verdicts.delete('127.0.0.2');
  await h.tick(1000);
  assert.equal(h.m.healthOf('web/a'), 'down', 'one pass of two');
  await h.tick(1000);
  assert.equal(h.m.healthOf('web/a'), 'up');
  assert.equal(h.calls.get('127.0.0.2'), 9, 'one check per interval, no more');
  const st = h.m.statusOf('web/a')!;
  assert.equal(st.health, 'up');
  assert.equal(st.code, 'L4OK');
  assert.equal(st.target, '127.0.0.2:8080');
});

test('a service that starts down holds its servers down until the first pass, which alone brings them up', async (t) => {
  const h = harness(t);
  h.verdicts.set('127.0.0.2', FAIL);
  h.m.update(cfg(svc('web', { healthCheck: { type: 'connect', intervalMs: 1000, timeoutMs: 500, rise: 3, fall: 1, startsDown: true } })));
  assert.equal(h.m.healthOf('web/a'), 'down');
  assert.match(h.m.statusOf('web/a')!.message!, /Waiting for the first check to pass/);
  await h.tick(0);
  assert.equal(h.m.healthOf('web/a'), 'down');
  assert.equal(h.batches.length, 0, 'down to down is no transition');
  h.verdicts.delete('127.0.0.2');
  await h.tick(1000);
  assert.equal(h.m.healthOf('web/a'), 'up', 'the first pass, not rise (3)');
});

test('one check per target and settings, shared by every service that points at it; its transition reaches each', async (t) => {
  const h = harness(t);
  const same = [{ name: 'a', address: '127.0.0.2', port: 8080 }];
  h.m.update(
    cfg(
      svc('web', {}, same),
      svc('api', { ports: [81] }, same),
      svc('other', { ports: [82], healthCheck: { type: 'connect', intervalMs: 2000, timeoutMs: 500 } }, same),
    ),
  );
  assert.deepEqual(h.m.size, { checks: 2, agents: 0 });
  await h.tick(0);
  assert.equal(h.calls.get('127.0.0.2'), 2, 'two distinct checks ran once each');
  h.verdicts.set('127.0.0.2', FAIL);
  await h.tick(1000);
  await h.tick(1000);
  await h.tick(1000);
  const downs = h.batches
    .flat()
    .filter((x) => x.health === 'down')
    .map((x) => x.key)
    .sort();
  assert.deepEqual(downs, ['api/a', 'web/a'], 'the 2 s check has failed only twice');
});

test('each check starts at a random offset within its interval', async (t) => {
  const offsets = [0.25, 0.75];
  const h = harness(t, { random: () => offsets.shift() ?? 0 });
  h.m.update(
    cfg(
      svc('web', { healthCheck: { type: 'connect', intervalMs: 4000, timeoutMs: 500 } }, [
        { name: 'a', address: '127.0.0.2', port: 1 },
        { name: 'b', address: '127.0.0.3', port: 1 },
      ]),
    ),
  );
  await h.tick(999);
  assert.equal(h.calls.size, 0);
  await h.tick(1);
  assert.deepEqual([...h.calls.keys()], ['127.0.0.2']);
  await h.tick(1999);
  assert.equal(h.calls.has('127.0.0.3'), false);
  await h.tick(1);
  assert.equal(h.calls.get('127.0.0.3'), 1);
});

test('a new configuration keeps shared checks running and a down server down when only its settings change', async (t) => {
  const h = harness(t);
  h.verdicts.set('127.0.0.2', FAIL);
  h.m.update(cfg(svc('web', { healthCheck: { type: 'connect', intervalMs: 1000, timeoutMs: 500, fall: 1 } })));
  await h.tick(0);
  assert.equal(h.m.healthOf('web/a'), 'down');
  h.m.update(cfg(svc('web', { healthCheck: { type: 'connect', intervalMs: 2000, timeoutMs: 500, fall: 1 } })));
  assert.equal(h.m.healthOf('web/a'), 'down', 'carried over: a dead server does not come back because its interval changed');
  h.m.update(
    cfg(svc('web', { healthCheck: { type: 'connect', intervalMs: 2000, timeoutMs: 500, fall: 1 } }, [{ name: 'a', address: '127.0.0.2', port: 9090 }])),
  );
  assert.equal(h.m.healthOf('web/a'), 'unknown', 'a new target starts unknown');
  const before = h.calls.get('127.0.0.2')!;
  h.m.update(cfg(svc('web', { healthCheck: { type: 'none' } })));
  for (let i = 0; i < 5; i++) await h.tick(2000);
  assert.equal(h.calls.get('127.0.0.2'), before, 'checks stop when the configuration drops them');
  assert.equal(h.m.statusOf('web/a')!.message, 'Health checks are off for this service.');
});

test("per real server timing and port override the service's check", async (t) => {
  const h = harness(t);
  h.m.update(cfg(svc('web', {}, [{ name: 'a', address: '127.0.0.2', port: 8080, healthCheck: { port: 8081, fall: 1 } } as never])));
  await h.tick(0);
  assert.equal(h.targets[0].port, 8081);
  assert.equal(h.targets[0].check.fall, 1);
  h.verdicts.set('127.0.0.2', FAIL);
  await h.tick(1000);
  assert.equal(h.m.healthOf('web/a'), 'down', 'fall 1 from the server');
});

test('targets outside the allowed networks are never probed and say why', async (t) => {
  const h = harness(t, { allowedNetworks: ['127.0.0.0/8', '::1/128'] });
  h.m.update(
    cfg(
      svc('web', {}, [
        { name: 'far', address: '192.168.10.61', port: 80 },
        { name: 'near', address: '127.0.0.2', port: 80 },
      ]),
    ),
  );
  for (let i = 0; i <= 5; i++) await h.tick(i === 0 ? 0 : 1000);
  assert.equal(h.calls.has('192.168.10.61'), false);
  assert.equal(h.calls.get('127.0.0.2'), 6);
  const st = h.m.statusOf('web/far')!;
  assert.equal(st.code, 'NOCHK');
  assert.match(st.message!, /192\.168\.10\.61 is outside the networks this engine may probe \(127\.0\.0\.0\/8, ::1\/128\)/);
  assert.equal(h.m.healthOf('web/far'), undefined);
});

test('results that land together reach the engine as one batch', async (t) => {
  const h = harness(t);
  h.verdicts.set('127.0.0.2', FAIL);
  h.verdicts.set('127.0.0.3', FAIL);
  h.m.update(
    cfg(
      svc('web', { healthCheck: { type: 'connect', intervalMs: 1000, timeoutMs: 500, fall: 1 } }, [
        { name: 'a', address: '127.0.0.2', port: 1 },
        { name: 'b', address: '127.0.0.3', port: 1 },
      ]),
    ),
  );
  await h.tick(0);
  assert.equal(h.batches.length, 1);
  assert.deepEqual(h.batches[0].map((x) => x.key).sort(), ['web/a', 'web/b']);
});

test('agent feedback lasts until the agent says otherwise; an unreachable agent changes nothing', async (t) => {
  const replies: (AgentReport | null)[] = [
    { weightPercent: 50, message: '50%' },
    { admin: 'drain', message: 'drain' },
    null,
    { admin: 'ready', health: 'down', message: 'ready down' },
    { health: 'up', message: 'up' },
  ];
  const h = harness(t, { agent: () => replies.shift() ?? null });
  h.m.update(cfg(svc('web', { healthCheck: { type: 'none', agent: { port: 3333, intervalMs: 1000, timeoutMs: 500 } } })));
  assert.deepEqual(h.m.size, { checks: 0, agents: 1 });
  await h.tick(0);
  assert.deepEqual(h.m.feedbackOf('web/a'), { weightPercent: 50 });
  await h.tick(1000);
  assert.deepEqual(h.m.feedbackOf('web/a'), { weightPercent: 50, admin: 'drain' });
  await h.tick(1000);
  assert.deepEqual(h.m.feedbackOf('web/a'), { weightPercent: 50, admin: 'drain' }, 'unreachable: unchanged');
  await h.tick(1000);
  assert.deepEqual(h.m.feedbackOf('web/a'), { weightPercent: 50, agentHealth: 'down' });
  await h.tick(1000);
  assert.deepEqual(h.m.feedbackOf('web/a'), { weightPercent: 50 });
  assert.equal(h.m.statusOf('web/a')!.agent!.message, 'up');
  assert.equal(h.feedback.length, 4, 'one feedback batch per change, none for the unreachable round');
  h.m.update(cfg(svc('web', { healthCheck: { type: 'none' } })));
  assert.equal(h.m.feedbackOf('web/a'), undefined, 'the agent gone, its words go too');
});

test('an external check with dynamic weights sets the weight from its exit code; a failure or plain pass clears it', async (t) => {
  const h = harness(t);
  const weights = [50, 0, undefined];
  h.verdicts.set('127.0.0.2', (target) => {
    const w = weights.shift();
    return result('PROCOK', { command: 'check', exitCode: w === undefined ? 0 : w + 2 }, 1, w === undefined ? {} : { weight: w });
  });
  h.m.update(
    cfg(svc('web', { healthCheck: { type: 'external', intervalMs: 1000, timeoutMs: 500, external: { command: '/bin/true', isDynamicWeight: true } } })),
  );
  await h.tick(0);
  assert.deepEqual(h.m.feedbackOf('web/a'), { dynamicWeight: 50 });
  await h.tick(1000);
  assert.deepEqual(h.m.feedbackOf('web/a'), { dynamicWeight: 0 });
  await h.tick(1000);
  assert.equal(h.m.feedbackOf('web/a'), undefined);
  assert.equal(h.targets[0].vip, '127.0.0.1');
  assert.equal(h.targets[0].vipPort, 80);
});
