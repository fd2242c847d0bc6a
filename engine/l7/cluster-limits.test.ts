/**
 * A real server's maximum connections is one number for the whole cluster: two workers, connections dealt to both
 * in turn, a backend that records its peak of concurrent requests. Also the queue bound (the cluster's too), the
 * queue timeout, and a worker killed while it holds a slot (the slot must come back).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import {
  config,
  fetchOnce,
  freePort,
  httpService,
  RawClient,
  startBackend,
  type Backend,
  type RawResponse,
  waitFor,
  within,
  TEST_TIMEOUT,
} from './test-helpers.ts';
import type { VirtualServiceInput } from '../config/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-limits-'));
let dp: L7DataPlane;
const backends: Backend[] = [];

before(() => {
  // Round-robin accept: consecutive connections land on alternate workers, so a per-worker count would show.
  dp = createL7DataPlane({ dataDir: dir, workers: 2, closeGraceMs: 300, acceptMode: 'round-robin' });
});

after(async () => {
  await dp.close();
  await Promise.all(backends.map((x) => x.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A backend that holds every request until `releaseAll` (or answers after `autoMs` once that is set) and records
 * how many requests it had at once. A request counts until the backend answers it or its connection closes.
 */
async function holdingBackend(name: string) {
  const h = { inFlight: 0, peak: 0, autoMs: -1, held: [] as (() => void)[], backend: null as unknown as Backend };
  h.backend = await startBackend(name, (req, res) => {
    let isOver = false;
    const over = () => {
      if (isOver) return false;
      isOver = true;
      h.inFlight--;
      return true;
    };
    h.inFlight++;
    h.peak = Math.max(h.peak, h.inFlight);
    req.resume();
    res.on('close', over);
    // Counted down before the answer leaves, so the proxy can never see the end before the count drops.
    const answer = () => {
      if (over()) res.setHeader('x-server', name).end(name);
    };
    if (h.autoMs >= 0) setTimeout(answer, h.autoMs);
    else h.held.push(answer);
    return true;
  });
  backends.push(h.backend);
  return Object.assign(h, {
    releaseAll(autoMs = 0) {
      h.autoMs = autoMs;
      for (const f of h.held.splice(0)) f();
    },
  });
}

const until = (cond: () => boolean, what: string, ms = 10_000) => waitFor(cond, what, ms);
const TEST = TEST_TIMEOUT;

function limited(name: string, port: number, b: Backend, maxConnections: number, layer7: VirtualServiceInput['layer7'] = {}): VirtualServiceInput {
  return httpService(name, port, [], { realServers: [{ name: b.name, address: '127.0.0.1', port: b.port, maxConnections }], layer7 });
}

async function apply(vs: VirtualServiceInput[]) {
  const res = await dp.apply({ config: config(vs), decisions: new Map() });
  // Services of earlier tests are replaced (reported removed); these must be programmed.
  assert.deepEqual(
    res.filter((r) => vs.some((v) => v.name === r.name)).map((r) => r.status),
    vs.map(() => 'programmed'),
  );
}

test('maxConnections holds across workers: the peak never passes it and every queued request is served', TEST, async () => {
  for (const max of [1, 2]) {
    const h = await holdingBackend(`peak${max}`);
    h.autoMs = 15;
    const port = await freePort();
    await apply([limited(`peak${max}`, port, h.backend, max)]);
    // Fresh connections, dealt to both workers in turn, all at once.
    const results = await within(Promise.all(Array.from({ length: 8 }, (_, i) => fetchOnce(port, 'GET', `/${i}`))), 'eight answers');
    assert.deepEqual(
      results.map((r) => r.status),
      Array(8).fill(200),
    );
    assert.equal(h.backend.seen.length, 8);
    if (max === 1) assert.equal(h.peak, 1, 'one request at a time across both workers');
    else assert.ok(h.peak <= max, `peak ${h.peak} > ${max}`);
  }
});

test("the queue bound is the cluster's: a full queue answers 503 at once, without waiting for a slot", TEST, async () => {
  const h = await holdingBackend('qfull');
  const port = await freePort();
  // One slot and one queue place for the whole cluster; a queue timeout far beyond the test.
  await apply([limited('qfull', port, h.backend, 1, { limits: { maxQueue: 1 }, timeouts: { queueMs: 60_000 } })]);
  // Twice: the second round proves every queue place and slot of the first came back.
  for (let round = 0; round < 2; round++) {
    h.autoMs = -1;
    const done: RawResponse[] = [];
    const all = Array.from({ length: 6 }, (_, i) => fetchOnce(port, 'GET', `/${i}`).then((r) => (done.push(r), r)));
    // Nothing is released yet: every 503 that arrives was answered without waiting for a slot.
    await until(() => done.length === 4 && h.inFlight === 1, 'four answers with one request held and one queued');
    assert.deepEqual(
      done.map((r) => r.status),
      [503, 503, 503, 503],
    );
    for (const r of done) assert.match(r.body, /queue is full/);
    h.releaseAll();
    assert.deepEqual((await within(Promise.all(all), 'the held and the queued request')).map((r) => r.status).sort(), [200, 200, 503, 503, 503, 503]);
  }
  assert.equal(h.peak, 1);
});

test('queued requests get 503 after the queue timeout while the slot stays taken, on both workers', TEST, async () => {
  const h = await holdingBackend('qtime');
  const port = await freePort();
  await apply([limited('qtime', port, h.backend, 1, { limits: { maxQueue: 2 }, timeouts: { queueMs: 200 } })]);
  const first = fetchOnce(port, 'GET', '/held');
  await until(() => h.inFlight === 1, 'the first request at the backend');
  // Twice: a timed-out request gives its queue place back (else the second round would find the queue full).
  for (let round = 0; round < 2; round++) {
    // Two connections: one lands on each worker. The answer's words say which limit ended the wait (a full queue
    // has its own), so nothing here needs a clock.
    const queued = await within(Promise.all([fetchOnce(port, 'GET', '/q1'), fetchOnce(port, 'GET', '/q2')]), 'the queue timeout');
    assert.deepEqual(
      queued.map((r) => r.status),
      [503, 503],
    );
    for (const r of queued) assert.match(r.body, /stayed at its connection limit for the whole queue timeout/);
  }
  assert.equal(h.backend.seen.length, 1, 'no queued request reached the server');
  h.releaseAll();
  assert.equal((await within(first, 'the held request')).status, 200);
});

test('a worker killed while it holds a slot gives the slot back', TEST, async () => {
  const h = await holdingBackend('killed');
  const port = await freePort();
  await apply([limited('killed', port, h.backend, 1, { timeouts: { queueMs: 3000 } })]);
  const holder = await RawClient.connect(port);
  holder.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => h.inFlight === 1, 'the held request at the backend');
  // The worker whose upstream connection carries the held request.
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', 'dst', `127.0.0.1:${h.backend.port}`]).toString();
  const pids = dp.workerPids();
  const victim = pids.find((pid) => out.includes(`pid=${pid},`));
  assert.ok(victim, `the worker holding the slot among ${pids}: ${out}`);
  process.kill(victim, 'SIGKILL');
  await until(() => dp.workerPids().length === 2 && !dp.workerPids().includes(victim), 'the replacement worker');
  holder.close();
  h.releaseAll();
  // Had the slot leaked, these would wait out the queue timeout and get 503.
  for (let i = 0; i < 4; i++) assert.equal((await within(fetchOnce(port, 'GET', `/after${i}`), 'an answer after the kill')).status, 200);
});
