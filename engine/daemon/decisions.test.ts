/** decisions.ts: every answer is decideAll's, call after call, while services, health and feedback change. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Config, ConfigSchema, createConfigParser } from '../config/index.ts';
import type { ServerKey } from '../dataplane.ts';
import { decideAll, type Feedback } from '../server-state.ts';
import type { HealthState } from '../config/index.ts';
import { createDecider } from './decisions.ts';
import { seededRandom } from '../testing/seeded-random.ts';

const service = (name: string, i: number, servers: { name: string; weight?: number; state?: string }[], over: Record<string, unknown> = {}) => ({
  name,
  layer: 4,
  mode: 'nat',
  address: `10.1.0.${i}`,
  ports: [80],
  realServers: servers.map((s, k) => ({ address: `10.2.${i}.${k + 1}`, ...s })),
  ...over,
});

/** The same map, entry by entry and in order, and the same answer for every key asked. */
function assertSame(got: ReadonlyMap<ServerKey, unknown>, want: ReadonlyMap<ServerKey, unknown>, what: string) {
  assert.deepEqual([...got], [...want], what);
  assert.equal(got.size, want.size, what);
  for (const k of want.keys()) {
    assert.deepEqual(got.get(k), want.get(k), what);
    assert.equal(got.has(k), true, what);
  }
  assert.equal(got.get('nobody/here'), undefined);
  const each: [ServerKey, unknown][] = [];
  got.forEach((v, k) => {
    each.push([k, v]);
  });
  assert.deepEqual(each, [...want], what);
}

test('over random changes of services, health and feedback, every answer is decideAll’s', () => {
  const { next: rnd, pick } = seededRandom(3);
  const servers = () =>
    Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, k) => ({
      name: pick([`r${k}`, `r${k}`, 'x']),
      weight: pick([0, 1, 100]),
      state: pick(['online', 'drain', 'halt']),
    }));
  const aService = (i: number) =>
    service(pick(['a', 'b', 'c', 'd', 'e']), i, servers(), rnd() < 0.3 ? { persistence: { type: 'source-ip', timeoutSeconds: 60 } } : {});
  let compared = 0;
  for (let run = 0; run < 30; run++) {
    const parser = createConfigParser();
    const decide = createDecider();
    let raw = Array.from({ length: 3 }, (_, i) => aService(i));
    const health = new Map<ServerKey, HealthState>();
    const feedback = new Map<ServerKey, Feedback>();
    const given: { answer: ReadonlyMap<ServerKey, unknown>; want: ReadonlyMap<ServerKey, unknown> }[] = [];
    for (let step = 0; step < 40; step++) {
      const r = rnd();
      raw = raw.slice();
      if (r < 0.25) raw[Math.floor(rnd() * raw.length)] = aService(Math.floor(rnd() * 9));
      else if (r < 0.35 && raw.length > 1) raw.splice(Math.floor(rnd() * raw.length), 1);
      else if (r < 0.45 && raw.length < 6) raw.push(aService(Math.floor(rnd() * 9)));
      else if (r < 0.5) raw.reverse();
      const key = `${pick(['a', 'b', 'c'])}/${pick(['r0', 'r1', 'x'])}` as ServerKey;
      if (rnd() < 0.5) health.set(key, pick(['up', 'down', 'unknown']));
      if (rnd() < 0.3) feedback.set(key, pick([{ admin: 'drain' }, { weightPercent: 50 }, { agentHealth: 'down' }, { dynamicWeight: 3 }] as Feedback[]));
      if (rnd() < 0.1) feedback.delete(key);
      const json = { virtualServices: structuredClone(raw) };
      // Parsed as the daemon parses a body (frozen, remembered services), or whole (not frozen, as on start).
      const parsed = rnd() < 0.8 ? parser.owned(json) : ConfigSchema.safeParse(json);
      if (!parsed.success) continue;
      const config = parsed.data as Config;
      const answer = decide(
        config,
        (k) => health.get(k),
        (k) => feedback.get(k),
      );
      const want = decideAll(
        config,
        (k) => health.get(k),
        (k) => feedback.get(k),
      );
      assertSame(answer, want, `run ${run} step ${step}`);
      given.push({ answer, want });
      compared++;
    }
    // An answer stays what it was when given.
    for (const g of given) assert.deepEqual([...g.answer], [...g.want]);
  }
  assert.ok(compared > 250, `${compared} configurations compared`);
});

test('one weight changed: the other servers’ decisions are those of the last call, and the answer is frozen', () => {
  const parser = createConfigParser();
  const decide = createDecider();
  const body = (w: number) => ({ virtualServices: [service('a', 1, [{ name: 'r1' }, { name: 'r2' }]), service('b', 2, [{ name: 'r1', weight: w }])] });
  const first = parser.owned(body(10));
  const second = parser.owned(body(20));
  assert.ok(first.success && second.success);
  const one = decide(first.data, () => undefined);
  const two = decide(second.data, () => undefined);
  assert.equal(two.get('a/r1'), one.get('a/r1'), 'the same decision object');
  assert.equal(two.get('b/r1')?.weight, 20);
  assert.equal(one.get('b/r1')?.weight, 10);
  assert.throws(() => {
    (two.get('a/r1') as { weight: number }).weight = 0;
  }, TypeError);
  // A health change is decided again.
  const three = decide(second.data, (k) => (k === 'a/r2' ? 'down' : undefined));
  assert.equal(three.get('a/r2')?.disposition, 'quiesce');
  assert.equal(two.get('a/r2')?.disposition, 'serve');
});

test('a service that is not frozen (parsed whole) is decided afresh, even when the same object changed', () => {
  const decide = createDecider();
  const config = ConfigSchema.parse({ virtualServices: [service('a', 1, [{ name: 'r1', weight: 10 }])] });
  assert.equal(decide(config, () => undefined).get('a/r1')?.weight, 10);
  config.virtualServices[0].realServers[0].weight = 30;
  assert.equal(decide(config, () => undefined).get('a/r1')?.weight, 30);
});
