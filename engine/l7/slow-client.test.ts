/**
 * Slow clients: a body below the minimum rate and a head past its deadline are cut with 408 and logged, over real
 * sockets, while clients that are slow but keep the rate (or are held back by a slow real server) are served. The
 * window logic itself is driven by hand, without timers.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort, httpService, startBackend, within, type Backend } from './test-helpers.ts';
import { BodyRateGuard, judgeWindow } from './slow-client.ts';
import { setProxyLog, type ProxyLogSink } from './proxy-log.ts';

let dp: L7DataPlane;
let a: Backend;
let held: Backend;
let previousLog: ProxyLogSink | null;
const logged: { msg: string; fields?: object }[] = [];
/** Service port: 100 B/s over 1 s windows, and a 1 s head deadline. */
let port: number;
let heldPort: number;

/** How long the `held` real server leaves a body unread: longer than two rate windows. */
const HOLD_MS = 2500;

before(async () => {
  previousLog = setProxyLog((_level, msg, fields) => logged.push({ msg, fields }), 1000);
  dp = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-slow-${process.pid}`, workers: 0, closeGraceMs: 200 });
  a = await startBackend('a');
  held = await startBackend('held', (req, res) => {
    req.pause();
    setTimeout(() => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.setHeader('x-body-bytes', String(n)).end('held'));
      req.resume();
    }, HOLD_MS);
    return true;
  });
  [port, heldPort] = await Promise.all([freePort(), freePort()]);
  const layer7 = { limits: { minBodyBytesPerSecond: 100 }, timeouts: { bodyRateWindowMs: 1000, httpRequestMs: 1000 } };
  const res = await dp.apply({
    config: config([httpService('rate', port, [a], { layer7 }), httpService('held', heldPort, [held], { layer7 })]),
    decisions: new Map(),
  });
  assert.deepEqual(
    res.map((r) => r.status),
    ['programmed', 'programmed'],
  );
});

after(async () => {
  setProxyLog(previousLog);
  await dp.close();
  await Promise.all([a.close(), held.close()]);
});

/**
 * Connects, writes `head`, then each of `parts` `everyMs` apart (the last one repeated until the connection closes
 * when `isEndless`), and returns everything that came back once the connection closed (a served request asks for
 * Connection: close).
 */
function trickle(head: string, parts: string[], everyMs: number, isEndless = false): Promise<string> {
  return within(
    new Promise<string>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      let got = '';
      let i = 0;
      const timer = setInterval(() => {
        if (i < parts.length) s.write(parts[i++]);
        else if (isEndless) s.write(parts.at(-1)!);
      }, everyMs);
      s.write(head);
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('end', () => clearInterval(timer));
      s.on('close', () => {
        clearInterval(timer);
        resolve(got);
      });
      // A write racing the proxy's close fails; 'close' follows and tells what came back.
      s.on('error', () => undefined);
    }),
    'the trickling client to finish',
  );
}

const refusedWith = (code: string) => logged.filter((e) => (e.fields as { code?: string } | undefined)?.code === code);

test('a slow-loris body (one byte every 100 ms, below 100 B/s) is cut with 408 and logged; a slow but steady body is served', async () => {
  const [loris, steady] = await Promise.all([
    trickle('POST /loris HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n', ['x'], 100, true),
    // 100 bytes every 50 ms: 2000 B/s, slow for a computer, well above the floor.
    trickle(
      'POST /steady HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n',
      Array.from({ length: 40 }, () => 'y'.repeat(100)),
      50,
    ),
  ]);
  assert.match(loris, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(loris, /Connection: close\r\n/);
  assert.match(loris, /The request body came slower than this service accepts \(limits\.minBodyBytesPerSecond\)/);
  assert.match(steady, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(steady, /x-body-bytes: 4000\r\n/i);
  const [entry] = refusedWith('H1_BODY_TOO_SLOW');
  assert.ok(entry, 'the cut is in the proxy log');
  assert.match(entry.msg, /^layer 7 service rate refused a request from 127\.0\.0\.1 with 408: The request body came slower/);
});

test('a slow-loris head, and CRLFs before one, are cut with 408 at the head deadline; a head in a few pieces is served', async () => {
  const before = refusedWith('H1_HEAD_TIMEOUT').length;
  const [loris, crlf, steady] = await Promise.all([
    trickle('G', [...'ET / HTTP/1.1\r\nHost: a\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n'], 100),
    // Empty lines before a request line are allowed (RFC 9112 §2.2), but not forever.
    trickle('\r\n', ['\r\n'], 100, true),
    trickle('GET /steady HTTP/1.1\r\n', ['Host: a\r\n', 'Connection: close\r\n', '\r\n'], 100),
  ]);
  assert.match(loris, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(loris, /The request head did not arrive in time/);
  assert.match(crlf, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(steady, /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal(refusedWith('H1_HEAD_TIMEOUT').length - before, 2, 'both cuts are logged');
});

test('a body the proxy holds back for a slow real server is not judged: a fast client waiting on it is served', async () => {
  // 32 MiB sent as fast as loopback goes, into a real server that reads nothing for more than two windows: the
  // proxy stops reading the client (backpressure), and those windows are not the client's.
  const body = Buffer.alloc(32 * 1024 * 1024, 0x7a);
  const answer = await within(
    new Promise<string>((resolve, reject) => {
      const s = net.connect({ port: heldPort, host: '127.0.0.1' });
      let got = '';
      s.write(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      s.write(body);
      s.on('data', (d) => (got += d.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    }),
    'the held body to be answered',
  );
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(answer, new RegExp(`x-body-bytes: ${body.length}\\r\\n`, 'i'));
});

test('windows: judged on their bytes, never while the proxy held the body back', () => {
  const table: [number, number, boolean, string][] = [
    [200, 200, false, 'ok'],
    [199, 200, false, 'slow'],
    [0, 200, true, 'held'],
    [0, 0, false, 'ok'],
  ];
  for (const [bytes, need, wasHeld, verdict] of table) assert.equal(judgeWindow(bytes, need, wasHeld), verdict, `${bytes}/${need} held=${wasHeld}`);

  // Ticked by hand; the window is long enough (10 min) that its own interval never runs in this test.
  let isPaused = false;
  let slow = 0;
  const guard = new BodyRateGuard(
    100,
    600_000,
    () => isPaused,
    () => slow++,
  );
  assert.equal(guard.need, 60_000, '100 B/s over 600 s');
  const steps: [string, () => void, number][] = [
    ['a full window', () => (guard.add(60_000), guard.tick()), 0],
    ['a window held back once', () => (guard.hold(), guard.tick()), 0],
    ['a window ending while still paused', () => ((isPaused = true), guard.tick()), 0],
    ['the next one starts held too', () => ((isPaused = false), guard.tick()), 0],
    ['a window one byte short', () => (guard.add(59_999), guard.tick()), 1],
  ];
  for (const [what, step, expected] of steps) {
    step();
    assert.equal(slow, expected, what);
  }
  guard.stop();
});
