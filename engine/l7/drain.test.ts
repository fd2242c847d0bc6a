/**
 * Graceful close: the grace comes from the daemon's environment (FULCRUM_L7_CLOSE_GRACE_MS); a request in flight
 * completes (its answer says Connection: close), an idle keep-alive client is closed at once, a request whose head
 * was still coming is answered, new connections are refused; what outlives the grace is cut.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createL7DataPlane } from './index.ts';
import { CLOSE_GRACE_ENV } from './lifecycle.ts';
import { config, freePort, httpService, RawClient, startBackend, TEST_TIMEOUT, waitFor, within, type Backend } from './test-helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-drain-'));
let backend: Backend;
/** Answers to requests for /hold, held until the test lets them go. */
const holding: http.ServerResponse[] = [];

before(async () => {
  backend = await startBackend('a', (req, res) => {
    if (req.url !== '/hold') return false;
    holding.push(res);
    return true;
  });
});

after(async () => {
  for (const res of holding) if (!res.writableEnded) res.end();
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });

test('close() in a worker: the request in flight completes, keep-alive clients are closed after their answers', TEST_TIMEOUT, async () => {
  const previous = process.env[CLOSE_GRACE_ENV];
  process.env[CLOSE_GRACE_ENV] = '20000';
  const dp = createL7DataPlane({ dataDir: path.join(dir, 'worker'), workers: 1 });
  if (previous === undefined) delete process.env[CLOSE_GRACE_ENV];
  else process.env[CLOSE_GRACE_ENV] = previous;
  const port = await freePort();
  assert.equal((await dp.apply({ config: config([httpService('drain', port, [backend])]), decisions: new Map() }))[0].status, 'programmed');
  const [pid] = dp.workerPids();

  const inFlight = await RawClient.connect(port);
  const answer = inFlight.request('GET', '/hold');
  await waitFor(() => holding.length === 1, 'the held request at the real server');
  const idle = await RawClient.connect(port);
  assert.equal((await idle.request('GET', '/')).status, 200);
  // A head not yet complete when close() starts: its request is in flight too.
  const late = await RawClient.connect(port);
  const bytesBefore = (await dp.counters()).get('drain')!.service.bytesIn;
  late.write('GET /late HTTP/1.1\r\nHost: a\r\n');
  await waitFor(async () => (await dp.counters()).get('drain')!.service.bytesIn > bytesBefore, 'the partial head in the worker');

  const closing = dp.close();
  await waitFor(() => idle.isClosed, 'the idle keep-alive client to be closed');
  assert.equal(inFlight.isClosed, false, 'the client with a request in flight is still connected');
  await waitFor(() => refused(port), 'new connections to be refused');

  late.write('\r\n');
  const lateAnswer = await within(late.read(), 'the late request to be answered');
  assert.equal(lateAnswer.status, 200);
  assert.equal(lateAnswer.headers.connection, 'close');
  await waitFor(() => late.isClosed, 'the late client to be closed after its answer');

  holding[0].end('held');
  const r = await within(answer, 'the held request to complete');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'held');
  assert.equal(r.headers.connection, 'close', 'the answer tells the client the connection ends');
  await waitFor(() => inFlight.isClosed, 'the in-flight client to be closed after its answer');
  await within(closing, 'close() to finish once nothing is in flight');
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the worker is gone');
});

test('what is still in flight when the grace ends is cut, and close() returns', TEST_TIMEOUT, async () => {
  const dp = createL7DataPlane({ dataDir: path.join(dir, 'grace'), workers: 0, closeGraceMs: 300 });
  const port = await freePort();
  await dp.apply({ config: config([httpService('grace', port, [backend])]), decisions: new Map() });
  const held = holding.length;
  const client = await RawClient.connect(port);
  const answer = client.request('GET', '/hold');
  await waitFor(() => holding.length === held + 1, 'the held request at the real server');
  await within(dp.close(), 'close() to return after the grace');
  await assert.rejects(within(answer, 'the cut'), /connection closed/);
  assert.equal(client.isClosed, true);
});

test('a close grace in the environment that is not a number of milliseconds is logged, and 5 s holds', async () => {
  const previous = process.env[CLOSE_GRACE_ENV];
  process.env[CLOSE_GRACE_ENV] = 'soon';
  const entries: string[] = [];
  const dp = createL7DataPlane({ dataDir: path.join(dir, 'env'), workers: 0, log: (_level, msg) => entries.push(msg) });
  if (previous === undefined) delete process.env[CLOSE_GRACE_ENV];
  else process.env[CLOSE_GRACE_ENV] = previous;
  await dp.close();
  assert.deepEqual(entries, ['layer 7: FULCRUM_L7_CLOSE_GRACE_MS="soon" is not a whole number of milliseconds from 0 to 600000; using 5000 ms']);
});
