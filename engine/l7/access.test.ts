/**
 * The access log from real requests through the real proxy, on loopback: one line per exchange with the client's
 * address and port, the service, the server, the status, the bytes each way, the timings and HAProxy's termination
 * code — for a normal answer (HTTP/1.1 and HTTP/2), a real server that refuses the connection (alone, and retried on
 * the next server), a client that goes
 * away while waiting, and a real server that never answers; the sample rate by counting; a cluster worker's own
 * file in the data directory; and a full disk (/dev/full), which costs lines but never an exception, more than
 * PENDING_CAP bytes of memory or more than one report a minute, and after which lines are written again.
 */
import { test, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { once } from 'node:events';
import { config, freePort, httpService, RawClient, startBackend, TEST_TIMEOUT, waitFor, type Backend } from './test-helpers.ts';
import { logAccess, setAccessLog } from './access.ts';
import type { ServiceRuntime } from './service.ts';
import { createAccessLog, type AccessEntry, type AccessLog } from '../log/access-log.ts';
import { openAccessLog, PENDING_CAP, type AccessFile } from './access-file.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-access-'));
const planes: L7DataPlane[] = [];
const backends: Backend[] = [];
after(async () => {
  setAccessLog(null);
  for (const dp of planes) await dp.close();
  for (const b of backends) await b.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

type Line = Record<string, any>;
const linesOf = (file: string): Line[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

/** An in-process proxy for `services`, logging to a fresh file; `random` draws the samples. */
async function proxy(
  name: string,
  services: Parameters<typeof config>[0],
  random?: () => number,
): Promise<{ file: string; log: AccessFile; lines: () => Line[] }> {
  const file = path.join(dir, `${name}.log`);
  // As a worker opens its log (worker.ts); a failure here fails the test.
  const log = await openAccessLog({ file, size: '10m', keep: 1, random, onError: (msg) => assert.fail(msg) });
  setAccessLog(log);
  const dp = createL7DataPlane({ dataDir: path.join(dir, name), workers: 0, closeGraceMs: 100 });
  planes.push(dp);
  const [r] = await dp.apply({ config: config(services), decisions: new Map() });
  assert.equal(r.status, 'programmed', r.message);
  // pino-roll names its active file access.1.log beside the one given.
  return {
    file,
    log,
    lines: () =>
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith(`${name}.`) && f.endsWith('.log'))
        .flatMap((f) => linesOf(path.join(dir, f))),
  };
}

/** One request with Connection: close on a fresh connection: the status, every byte received, the client's port. */
async function oneShot(port: number, request: string): Promise<{ status: number; bytes: number; localPort: number }> {
  const s = net.connect({ port, host: '127.0.0.1' });
  await once(s, 'connect');
  const localPort = s.localPort!;
  const chunks: Buffer[] = [];
  s.on('data', (d) => chunks.push(d));
  s.write(request);
  await once(s, 'close');
  const all = Buffer.concat(chunks);
  return { status: Number(all.toString('latin1', 9, 12)), bytes: all.length, localPort };
}

async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(name, handler);
  backends.push(b);
  return b;
}

test('a normal answer: one line with the client, service, server, status, bytes, timings and "--"', TEST_TIMEOUT, async () => {
  const a = await backend('a');
  const port = await freePort();
  const p = await proxy('normal', [httpService('web', port, [a])]);
  const request = 'GET /ed/triage?bed=4 HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n';
  const res = await oneShot(port, request);
  assert.equal(res.status, 200);
  await waitFor(() => p.lines().length === 1, 'the line');
  const [l] = p.lines();
  assert.equal(l.client, `127.0.0.1:${res.localPort}`);
  assert.deepEqual([l.service, l.server, l.method, l.path, l.status, l.termination, l.msg], ['web', 'a', 'GET', '/ed/triage?bed=4', 200, '--', 'access']);
  assert.equal(l.bytesIn, request.length);
  assert.equal(l.bytesOut, res.bytes, 'what the client received, head and body');
  for (const k of ['requestMs', 'queueMs', 'connectMs', 'responseMs', 'totalMs']) assert.ok(l.timings[k] >= 0, `${k} was reached: ${l.timings[k]}`);
  assert.ok(l.timings.totalMs >= l.timings.responseMs);
});

test('HTTP/2 (h2c): the same line for a stream', TEST_TIMEOUT, async () => {
  const a = await backend('h2a');
  const port = await freePort();
  const p = await proxy('h2', [httpService('web2', port, [a], { layer7: { http2: { cleartext: true } } })]);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const localPort = await new Promise<number>((r) => session.once('connect', () => r((session.socket as net.Socket).localPort!)));
  const stream = session.request({ ':path': '/h2/path', ':method': 'GET' });
  let body = '';
  stream.on('data', (d) => (body += d));
  await new Promise((r) => stream.on('end', r));
  session.close();
  assert.equal(body, 'h2a');
  await waitFor(() => p.lines().length === 1, 'the line');
  const [l] = p.lines();
  assert.deepEqual([l.client, l.service, l.server, l.path, l.status, l.termination], [`127.0.0.1:${localPort}`, 'web2', 'h2a', '/h2/path', 200, '--']);
  assert.ok(l.bytesOut > 0);
});

test('a real server that refuses the connection: 502 and "SC", naming the server tried', TEST_TIMEOUT, async () => {
  const port = await freePort();
  const closed = await freePort();
  const p = await proxy('refused', [{ ...httpService('web3', port, []), realServers: [{ name: 'gone', address: '127.0.0.1', port: closed }] }]);
  assert.equal((await oneShot(port, 'GET / HTTP/1.1\r\nHost: web3\r\n\r\n')).status, 502);
  await waitFor(() => p.lines().length === 1, 'the line');
  const [l] = p.lines();
  assert.deepEqual([l.server, l.status, l.termination, l.timings.responseMs], ['gone', 502, 'SC', -1]);
});

test('a connect refused by one server is retried on the next: the line names the server that answered, retries 1', TEST_TIMEOUT, async () => {
  const port = await freePort();
  const closed = await freePort();
  const a = await backend('a');
  const p = await proxy('retried', [
    {
      ...httpService('web-retry', port, []),
      scheduler: 'rr',
      realServers: [
        { name: 'gone', address: '127.0.0.1', port: closed },
        { name: 'a', address: '127.0.0.1', port: a.port },
      ],
    },
  ]);
  // rr over [gone, a]: the first request is chosen for gone, refused, and goes to a.
  assert.equal((await oneShot(port, 'GET / HTTP/1.1\r\nHost: web-retry\r\nConnection: close\r\n\r\n')).status, 200);
  await waitFor(() => p.lines().length === 1, 'the line');
  const [l] = p.lines();
  assert.deepEqual([l.server, l.status, l.termination, l.retries], ['a', 200, '--', 1]);
});

test('a client that resets its connection while the server thinks: status -1 and "CH"', TEST_TIMEOUT, async () => {
  const silent = await backend('silent', () => true);
  const port = await freePort();
  const p = await proxy('abort', [httpService('web4', port, [silent])]);
  const c = net.connect({ port, host: '127.0.0.1' });
  await once(c, 'connect');
  c.write('GET /slow HTTP/1.1\r\nHost: web4\r\n\r\n');
  await waitFor(() => silent.seen.length === 1, 'the request at the server');
  // A reset, as a closed browser tab does. (A FIN alone is a half-close: the proxy still waits for the answer.)
  c.resetAndDestroy();
  await waitFor(() => p.lines().length === 1, 'the line');
  const [l] = p.lines();
  assert.deepEqual([l.server, l.status, l.termination, l.bytesOut], ['silent', -1, 'CH', 0]);
});

test('a real server that never answers: 504 and "sH"', TEST_TIMEOUT, async () => {
  const silent = await backend('mute', () => true);
  const port = await freePort();
  const p = await proxy('timeout', [httpService('web5', port, [silent], { layer7: { timeouts: { serverMs: 100 } } })]);
  assert.equal((await oneShot(port, 'GET /never HTTP/1.1\r\nHost: web5\r\n\r\n')).status, 504);
  await waitFor(() => p.lines().length === 1, 'the line');
  const [l] = p.lines();
  assert.deepEqual([l.server, l.status, l.termination], ['mute', 504, 'sH']);
});

test("the service's sample rate keeps the drawn share of normal exchanges, and every error", TEST_TIMEOUT, async () => {
  const a = await backend('s');
  const port = await freePort();
  const closed = await freePort();
  // Draws of 0.1 are under the rate (kept), 0.9 over it (left out): two in eight.
  const draws = [0.1, 0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9];
  let i = 0;
  const p = await proxy('sampled', [httpService('web6', port, [a], { layer7: { accessLog: { sampleRate: 0.25 } } })], () => draws[i++ % draws.length]);
  const c = await RawClient.connect(port);
  for (let n = 0; n < 8; n++) assert.equal((await c.request('GET', `/n/${n}`)).status, 200);
  c.close();
  const errorPort = await freePort();
  const q = await proxy('sampled-errors', [
    {
      ...httpService('web7', errorPort, [], { layer7: { accessLog: { sampleRate: 0 } } }),
      realServers: [{ name: 'gone', address: '127.0.0.1', port: closed }],
    },
  ]);
  assert.equal((await oneShot(errorPort, 'GET /err HTTP/1.1\r\nHost: web7\r\n\r\n')).status, 502);
  await waitFor(() => q.lines().length === 1, 'the error line at sample rate 0');
  await p.log.close();
  assert.deepEqual(
    p.lines().map((l) => l.path),
    ['/n/0', '/n/4'],
  );
  assert.deepEqual(p.log.counts(), { written: 2, skipped: 6, dropped: 0 });
});

test("a cluster worker writes its own file in the data directory's logs/", TEST_TIMEOUT, async () => {
  const a = await backend('w');
  const port = await freePort();
  const dataDir = path.join(dir, 'cluster');
  const dp = createL7DataPlane({ dataDir, workers: 1, closeGraceMs: 100 });
  planes.push(dp);
  const [r] = await dp.apply({ config: config([httpService('webc', port, [a])]), decisions: new Map() });
  assert.equal(r.status, 'programmed', r.message);
  assert.equal((await oneShot(port, 'GET /from-a-worker HTTP/1.1\r\nHost: webc\r\nConnection: close\r\n\r\n')).status, 200);
  const logs = path.join(dataDir, 'logs');
  const read = () => (fs.existsSync(logs) ? fs.readdirSync(logs).flatMap((f) => linesOf(path.join(logs, f))) : []);
  await waitFor(() => read().some((l) => l.path === '/from-a-worker'), "the worker's line");
  assert.ok(
    fs.readdirSync(logs).every((f) => /^access-0\.\d+\.log$/.test(f)),
    fs.readdirSync(logs).join(', '),
  );
});

/** An entry as logAccess makes one; `n` numbers its path, so the file shows which lines reached it. */
const entry = (n: number): AccessEntry => ({
  client: '127.0.0.1:40000',
  service: 'web',
  server: 'a',
  method: 'GET',
  path: `/full/${n}`,
  status: 200,
  bytesIn: 60,
  bytesOut: 120,
  timings: { requestMs: 0.1, queueMs: 0, connectMs: 0.2, responseMs: 1.5, totalMs: 1.9 },
  termination: '--',
  retries: 0,
});

/**
 * A log whose active file is /dev/full, every write to which fails with ENOSPC: pino-roll writes to <base>.<n>.log,
 * n = 1 in an empty directory, so a link of that name is opened. Timers are node:test's (`tick`) from before the log
 * is opened, so its flush and retry timers run only when the test says.
 */
async function fullDisk(name: string, size = '10m') {
  const full = path.join(dir, name);
  fs.mkdirSync(full);
  const active = path.join(full, 'access.1.log');
  fs.symlinkSync('/dev/full', active);
  const errors: string[] = [];
  const resumed: string[] = [];
  const log = await openAccessLog({
    file: path.join(full, 'access.log'),
    size,
    keep: 1,
    onError: (m) => errors.push(m),
    onResume: (m) => resumed.push(m),
  });
  let offered = 0;
  let mostHeld = 0;
  /** Records `n` entries as the proxy does (record() must not throw), noting the most bytes held. */
  const offer = (n: number) => {
    for (let i = 0; i < n; i++) {
      log.record(entry(offered++), 1);
      mostHeld = Math.max(mostHeld, log.heldBytes());
    }
  };
  /** `ms` of fake time in the timers' own 500 ms steps. */
  const tick = (ms: number) => {
    for (let t = 0; t < ms; t += 500) mock.timers.tick(500);
  };
  return { active, log, errors, resumed, offer, tick, offered: () => offered, mostHeld: () => mostHeld };
}

test('a full disk: record() never throws, at most 64 KiB waits, one report a minute, and lines are written again once the file takes them', async () => {
  mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  try {
    const d = await fullDisk('full');
    d.offer(5000);
    assert.equal(d.errors.length, 1, 'the outage is reported as it begins');
    assert.match(d.errors[0], /ENOSPC/);
    assert.ok(d.mostHeld() > 0 && d.mostHeld() <= PENDING_CAP, `held at most ${d.mostHeld()} bytes`);
    let c = d.log.counts();
    assert.equal(c.written + c.dropped, d.offered(), 'every entry is written (or waiting) or dropped');
    assert.ok(c.dropped > 4000, `dropped ${c.dropped}`);

    // A minute of retries every 500 ms, and thousands of records more, make one report more.
    d.tick(59_500);
    d.offer(3000);
    assert.equal(d.errors.length, 1);
    d.tick(500);
    assert.equal(d.errors.length, 2, 'the second report a minute after the first');
    d.tick(60_000);
    assert.equal(d.errors.length, 3);
    assert.match(d.errors[2], /\(\d+ so far\)/);
    assert.ok(d.mostHeld() <= PENDING_CAP, `held at most ${d.mostHeld()} bytes`);
    assert.deepEqual(d.resumed, []);

    // Room again: the link becomes a real file, and the next retry writes what waited.
    fs.rmSync(d.active);
    fs.writeFileSync(d.active, '', { mode: 0o600 });
    d.tick(500);
    assert.equal(d.log.heldBytes(), 0);
    assert.equal(d.resumed.length, 1);
    c = d.log.counts();
    assert.match(d.resumed[0], new RegExp(`writing again; ${c.dropped} lines were dropped`));
    d.offer(100);
    await d.log.close();

    c = d.log.counts();
    const paths = linesOf(d.active).map((l) => Number(l.path.slice('/full/'.length)));
    assert.equal(paths.length, c.written, 'the file has every line counted written');
    assert.equal(c.written + c.dropped, d.offered());
    assert.equal(c.skipped, 0);
    assert.deepEqual(
      paths.slice(-100),
      Array.from({ length: 100 }, (_, i) => d.offered() - 100 + i),
      'the lines after the outage',
    );
    assert.ok(paths.length > 100, 'what waited was written too');
    assert.ok(
      paths.every((p, i) => i === 0 || p > paths[i - 1]),
      'in the order recorded',
    );
    assert.equal(d.errors.length, 3, 'no report after the outage');
  } finally {
    mock.timers.reset();
  }
});

test("sonic-boom's own state that access-file.ts reads is there, of the types it reads (package.json pins sonic-boom exactly)", async () => {
  const full = path.join(dir, 'held-shape');
  fs.mkdirSync(full);
  const log = await createAccessLog({ file: path.join(full, 'access.log'), size: '10m', keep: 1 });
  try {
    const s = log.stream as unknown as Record<string, unknown>;
    assert.deepEqual(
      { _len: typeof s._len, _writing: typeof s._writing, _writingBuf: Buffer.isBuffer(s._writingBuf), _bufs: Array.isArray(s._bufs) },
      { _len: 'number', _writing: 'boolean', _writingBuf: true, _bufs: true },
      'a new sonic-boom changed what access-file.ts reads: read its source again before moving the pin',
    );
  } finally {
    await log.close();
  }
});

test('a full disk and light traffic: the few lines each flush holds keep no chunk-sized buffer alive', async () => {
  mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  try {
    const d = await fullDisk('full-light');
    // Two lines a flush, 60 flushes: every chunk the timer hands on fails and waits (60 x 2 lines is under the cap).
    for (let k = 0; k < 60; k++) {
      d.offer(2);
      d.tick(500);
    }
    const s = d.log.stream as unknown as { _writingBuf: Buffer; _bufs: Buffer[][] };
    const held = [s._writingBuf, ...s._bufs.flat()];
    // Small buffers share Node's pool: the memory kept is that of the distinct ArrayBuffers under them.
    const kept = [...new Set(held.map((b) => b.buffer))];
    const bytes = kept.reduce((n, a) => n + a.byteLength, 0);
    assert.ok(d.log.heldBytes() > 50 * 2 * 100, `the lines wait: ${d.log.heldBytes()} bytes`);
    assert.ok(bytes <= 2 * PENDING_CAP, `${kept.length} buffers of ${bytes} bytes kept for ${d.log.heldBytes()} bytes of lines`);
    await d.log.close();
  } finally {
    mock.timers.reset();
  }
});

test('closing on a full disk resolves, and what still waited is counted dropped', async () => {
  mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  try {
    const d = await fullDisk('full-close');
    d.offer(1000);
    assert.ok(d.log.heldBytes() > 0);
    await d.log.close();
    assert.deepEqual(d.log.counts(), { written: 0, skipped: 0, dropped: 1000 });
  } finally {
    mock.timers.reset();
  }
});

test('after the file takes lines again, the next outage is reported at once, not a minute after the last report', async () => {
  mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  try {
    const d = await fullDisk('full-again', '1k');
    d.offer(1000);
    assert.equal(d.errors.length, 1);
    // The next file pino-roll rotates to (size 1k) is /dev/full too.
    fs.symlinkSync('/dev/full', d.active.replace('.1.log', '.2.log'));
    fs.rmSync(d.active);
    fs.writeFileSync(d.active, '', { mode: 0o600 });
    d.tick(500);
    assert.equal(d.resumed.length, 1);
    // The rotation follows the write's 'drain' (next tick); then the next chunk fails on the new file.
    await new Promise((r) => setImmediate(r));
    d.offer(1000);
    assert.equal(d.errors.length, 2, 'reported 0.5 s after the first report, as the new outage began');
    assert.match(d.errors[1], /access\.2\.log: ENOSPC/);
    await d.log.close();
    const c = d.log.counts();
    assert.equal(c.written + c.dropped, d.offered());
    assert.equal(linesOf(d.active).length, c.written);
  } finally {
    mock.timers.reset();
  }
});

test('the client field names the address and port of each entry, also when a port comes again from another address', () => {
  const clients: string[] = [];
  const sink = { draw: () => true, skip: () => undefined, record: (e: AccessEntry) => clients.push(e.client) > 0 } as unknown as AccessLog;
  const previous = setAccessLog(sink);
  const rt = { plan: { name: 'web', layer7: { accessLog: { sampleRate: 1 } } } } as unknown as ServiceRuntime;
  const marks = { headAt: 1, startAt: 2, chosenAt: 3, sentAt: 4, resAt: 5 };
  const sent: [string, number | undefined][] = [
    ['10.0.0.1', 40000],
    ['10.0.0.1', 40000],
    ['10.0.0.2', 40000],
    ['2001:db8::1', 40000],
    ['10.0.0.1', 40000],
    ['10.0.0.1', undefined],
    ['10.0.0.3', 0],
    ['2001:db8::1', 65535],
    ['10.0.0.1', 70000],
  ];
  try {
    for (const [address, port] of sent) logAccess(rt, address, port, null, undefined, 200, 0, 0, marks, '--');
  } finally {
    setAccessLog(previous);
  }
  assert.deepEqual(clients, [
    '10.0.0.1:40000',
    '10.0.0.1:40000',
    '10.0.0.2:40000',
    '[2001:db8::1]:40000',
    '10.0.0.1:40000',
    '10.0.0.1:0',
    '10.0.0.3:0',
    '[2001:db8::1]:65535',
    '10.0.0.1:70000',
  ]);
});
