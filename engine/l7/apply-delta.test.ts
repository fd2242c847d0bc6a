/**
 * An apply sends each worker only the plans that changed (index.ts applyTo, Runtime.apply's `same`): what crosses
 * the IPC channel, counted on the real cluster workers, and that what the workers run is still the whole
 * configuration — kept services keep serving, a removed one stops, a changed one forwards by its new plan, a health
 * change in place makes the next apply send that service whole, and a replacement worker gets everything.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, fetchOnce, freePort, httpService, startBackend, type Backend, waitFor, TEST_TIMEOUT } from './test-helpers.ts';
import type { VirtualServiceInput } from '../config/index.ts';
import type { ToWorker } from './messages.ts';
import type { ServerKey } from '../dataplane.ts';
import { decideServer } from '../server-state.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-delta-'));
let dp: L7DataPlane;
let a: Backend, b: Backend;
let ports: number[];
/** The 'apply' messages each worker was sent since the last take(), by worker pid. */
const sent = new Map<number, { plans: string[]; same: string[] }[]>();
const watched = new WeakSet<Worker>();

function watch(): void {
  for (const w of Object.values(cluster.workers ?? {})) {
    if (!w || watched.has(w)) continue;
    watched.add(w);
    const send = w.send.bind(w) as (m: ToWorker) => boolean;
    (w as { send: (m: ToWorker) => boolean }).send = (m: ToWorker) => {
      if (m.t === 'apply') {
        const list = sent.get(w.process.pid!) ?? [];
        list.push({ plans: m.plans.map((p) => p.name), same: [...(m.same ?? [])].sort() });
        sent.set(w.process.pid!, list);
      }
      return send(m);
    };
  }
}
const take = () => {
  const all = [...sent.values()].flat();
  sent.clear();
  return all;
};

before(async () => {
  dp = createL7DataPlane({ dataDir: dir, workers: 2, closeGraceMs: 200 });
  [a, b] = await Promise.all(['a', 'b'].map((n) => startBackend(n)));
  ports = await Promise.all([freePort(), freePort(), freePort()]);
});

after(async () => {
  await dp.close();
  await Promise.all([a, b].map((x) => x.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

const services = (weightOfB: number): VirtualServiceInput[] => [
  httpService('one', ports[0], [a]),
  httpService('two', ports[1], [a, b], {
    realServers: [
      { name: 'a', address: '127.0.0.1', port: a.port },
      { name: 'b', address: '127.0.0.1', port: b.port, weight: weightOfB },
    ],
  }),
  httpService('three', ports[2], [b]),
];
const apply = (vs: VirtualServiceInput[]) => dp.apply({ config: config(vs), decisions: new Map() });
const serversOf = async (port: number, n: number) => {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await fetchOnce(port, 'GET', '/')).headers['x-server']);
  return [...seen].sort();
};

test('one changed service crosses to each worker alone; the others are named as kept and keep serving', TEST_TIMEOUT, async () => {
  const first = await apply(services(100));
  assert.deepEqual(
    first.map((r) => r.status),
    ['programmed', 'programmed', 'programmed'],
  );
  watch();
  assert.equal(Object.keys(cluster.workers ?? {}).length, 2);

  const changed = await apply(services(0));
  assert.deepEqual(
    changed.map((r) => [r.name, r.status]),
    [
      ['one', 'programmed'],
      ['two', 'programmed'],
      ['three', 'programmed'],
    ],
  );
  assert.deepEqual(take(), [
    { plans: ['two'], same: ['one', 'three'] },
    { plans: ['two'], same: ['one', 'three'] },
  ]);
  // Weight 0 on b: "two" forwards to a alone, on both workers; the kept services still answer.
  assert.deepEqual(await serversOf(ports[1], 8), ['a']);
  assert.deepEqual(await serversOf(ports[0], 2), ['a']);
  assert.deepEqual(await serversOf(ports[2], 2), ['b']);

  await apply(services(0));
  assert.deepEqual(take(), [
    { plans: [], same: ['one', 'three', 'two'] },
    { plans: [], same: ['one', 'three', 'two'] },
  ]);
});

test('a service left out is stopped on every worker, though nothing was sent for it', TEST_TIMEOUT, async () => {
  const results = await apply(services(0).filter((s) => s.name !== 'three'));
  assert.deepEqual(
    results.map((r) => [r.name, r.status]),
    [
      ['one', 'programmed'],
      ['two', 'programmed'],
      ['three', 'removed'],
    ],
  );
  assert.deepEqual(take(), [
    { plans: [], same: ['one', 'two'] },
    { plans: [], same: ['one', 'two'] },
  ]);
  await assert.rejects(fetchOnce(ports[2], 'GET', '/'), /ECONNREFUSED/);
  assert.deepEqual(await serversOf(ports[0], 2), ['a']);
});

test('a health change made in place sends that service whole at the next apply', TEST_TIMEOUT, async () => {
  const vs = services(100).slice(0, 2);
  await apply(vs);
  take();
  const key = 'two/a' as ServerKey;
  const input = { config: config(vs), decisions: new Map([[key, decideServer('online', 'down', 100)]]) };
  assert.ok(dp.updateServers);
  await dp.updateServers(input, [key]);
  assert.deepEqual(await serversOf(ports[1], 6), ['b'], 'a is down in every worker');
  // The next apply decides a up again (no decision: up). Its plan is the one the workers last reported, but they
  // run a changed copy now, so it is sent whole.
  await apply(vs);
  assert.deepEqual(take(), [
    { plans: ['two'], same: ['one'] },
    { plans: ['two'], same: ['one'] },
  ]);
  assert.deepEqual(await serversOf(ports[1], 6), ['a', 'b']);
});

test('a replacement worker is given every plan', TEST_TIMEOUT, async () => {
  await apply(services(100).slice(0, 2));
  take();
  const [victim] = dp.workerPids();
  process.kill(victim, 'SIGKILL');
  // Watched from the moment it is forked: its first message is the whole running configuration.
  let replacement = 0;
  await waitFor(
    () => {
      watch();
      replacement = dp.workerPids().find((pid) => pid !== victim && sent.has(pid)) ?? 0;
      return replacement !== 0;
    },
    'the replacement worker given its plans',
    15_000,
  );
  assert.deepEqual(sent.get(replacement), [{ plans: ['one', 'two'], same: [] }]);
  take();
  await waitFor(async () => (await serversOf(ports[0], 4)).join() === 'a', 'service one on both workers', 15_000);
  // And from then on it too is sent only what changed.
  await apply(services(100).slice(0, 2));
  assert.deepEqual(take(), [
    { plans: [], same: ['one', 'two'] },
    { plans: [], same: ['one', 'two'] },
  ]);
});
