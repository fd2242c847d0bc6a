/**
 * HTTP/2's own protections, driven with a raw h2 client (h2-raw.ts) that sends the exact frames of each attack, over
 * h2c to one service with small limits (the TLS path runs the same session code): connection-specific fields
 * (RFC 9113 §8.2.2), rapid reset (CVE-2023-44487), CONTINUATION flood (CVE-2024-27983), concurrent streams,
 * the header list size, SETTINGS entries, and SETTINGS / PING floods. Each asserts what the client got (frame type
 * and error code), that the real server got nothing it should not have, and that the refusal was logged.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort, httpService, startBackend, waitFor, within, type Backend } from './test-helpers.ts';
import { setProxyLog, type ProxyLogSink } from './proxy-log.ts';
import { ERR, FLAG, frame, FRAME, get, hpack, RawH2, rstStream, settings, type Frame } from './h2-raw.ts';

let dp: L7DataPlane;
let a: Backend;
let hold: Backend;
let port: number;
let holdPort: number;
let previousLog: ProxyLogSink | null;
const logged: { code?: string }[] = [];
/** Responses the `hold` real server keeps until the test lets them go. */
const held: http.ServerResponse[] = [];
const LIMITS = { maxResets: 20, maxControlFrames: 20, maxConcurrentStreams: 2 };

before(async () => {
  previousLog = setProxyLog((_l, _m, fields) => logged.push(fields as { code?: string }), 1000);
  dp = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-h2-limits-${process.pid}`, workers: 0, closeGraceMs: 200 });
  a = await startBackend('a');
  hold = await startBackend('hold', (_req, res) => {
    held.push(res);
    return true;
  });
  [port, holdPort] = await Promise.all([freePort(), freePort()]);
  const layer7 = { http2: { cleartext: true, ...LIMITS }, limits: { maxHeaderBytes: 2048 }, timeouts: { clientMs: 1000 } };
  const res = await dp.apply({
    config: config([httpService('limits', port, [a], { layer7 }), httpService('hold', holdPort, [hold], { layer7 })]),
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
  await Promise.all([a.close(), hold.close()]);
});

const headers = (stream: number, fields: [string, string][], flags = FLAG.END_HEADERS | FLAG.END_STREAM) => frame(FRAME.HEADERS, flags, stream, hpack(fields));
const onStream = (stream: number, type: number) => (f: Frame) => f.stream === stream && f.type === type;

async function connect(p = port): Promise<RawH2> {
  const c = await RawH2.connect(p);
  // The proxy's SETTINGS come first (RFC 9113 §3.4): the connection is an h2 one.
  assert.ok(
    await within(
      c.until((f) => f.type === FRAME.SETTINGS),
      'the server preface',
    ),
  );
  return c;
}

test('connection-specific fields make the request malformed: RST_STREAM PROTOCOL_ERROR; TE: trailers passes and is not forwarded', async () => {
  const c = await connect();
  try {
    const before = a.seen.length;
    const bad: [string, string][] = [
      ['connection', 'keep-alive'],
      ['keep-alive', '5'],
      ['proxy-connection', 'keep-alive'],
      ['transfer-encoding', 'chunked'],
      ['upgrade', 'websocket'],
      ['te', 'gzip'],
    ];
    // One at a time: a reset stream counts against the concurrent streams until its RST_STREAM is out.
    for (let i = 0; i < bad.length; i++) {
      c.send(headers(1 + 2 * i, get('/', [bad[i]])));
      const rst = await within(c.until(onStream(1 + 2 * i, FRAME.RST_STREAM)), `the reset of ${bad[i][0]}`);
      assert.equal(rst?.payload.readUInt32BE(0), ERR.PROTOCOL_ERROR, bad[i].join(': '));
    }
    c.send(headers(13, get('/', [['te', 'trailers']])));
    assert.ok(await within(c.until(onStream(13, FRAME.HEADERS)), 'the answer to TE: trailers'));
    assert.equal(a.seen.length, before + 1, 'only the TE: trailers request reached the real server');
    assert.equal(a.seen.at(-1)!.headers.te, undefined, 'TE is hop-by-hop: not forwarded');
    // A value with a control character makes the request malformed too (RFC 9113 §8.2.1): reset, never forwarded
    // (node:http2 alone would drop the field and serve the rest; h2-tap.ts sees it).
    const seen = a.seen.length;
    c.send(
      headers(
        15,
        get('/', [
          ['x-bad', 'a\x01b'],
          ['x-good', 'g'],
        ]),
      ),
    );
    const rst = await within(c.until(onStream(15, FRAME.RST_STREAM)), 'the reset of a control character');
    assert.equal(rst?.payload.readUInt32BE(0), ERR.PROTOCOL_ERROR);
    assert.equal(c.frames.find(onStream(15, FRAME.HEADERS)), undefined, 'no answer but the reset');
    c.send(headers(17, get('/')));
    assert.ok(await within(c.until(onStream(17, FRAME.HEADERS)), 'the connection serves on'));
    assert.equal(a.seen.length, seen + 1, 'only the request after it reached the real server');
  } finally {
    c.close();
  }
});

test('rapid reset (CVE-2023-44487): more than maxResets resets in the window end the connection with GOAWAY ENHANCE_YOUR_CALM', async () => {
  // Up to the limit, resets are a browser's cancellations: the connection serves on.
  const ok = await connect();
  try {
    const burst: Buffer[] = [];
    for (let i = 0; i < LIMITS.maxResets; i++) burst.push(headers(1 + 2 * i, get('/')), rstStream(1 + 2 * i, ERR.CANCEL));
    const next = 1 + 2 * LIMITS.maxResets;
    ok.send(...burst, headers(next, get('/')));
    assert.ok(await within(ok.until(onStream(next, FRAME.HEADERS)), 'the answer after maxResets resets'));
    assert.equal(ok.goawayCode(), undefined);
  } finally {
    ok.close();
  }
  const c = await connect();
  const before = a.seen.length;
  const flood: Buffer[] = [];
  for (let i = 0; i < 500; i++) flood.push(headers(1 + 2 * i, get('/')), rstStream(1 + 2 * i, ERR.CANCEL));
  c.send(...flood);
  assert.ok(
    await within(
      c.until((f) => f.type === FRAME.GOAWAY),
      'GOAWAY',
    ),
  );
  assert.equal(c.goawayCode(), ERR.ENHANCE_YOUR_CALM);
  await within(c.closed(), 'the close');
  assert.ok(a.seen.length - before <= LIMITS.maxResets + 1, `at most maxResets + 1 reset requests reached the real server (${a.seen.length - before})`);
  assert.ok(logged.some((l) => l.code === 'H2_RAPID_RESET'));
});

test('CONTINUATION flood: a header block that never ends is cut with GOAWAY, and nothing is forwarded', async () => {
  for (const withFields of [true, false]) {
    const c = await connect();
    const before = a.seen.length;
    const frames = [frame(FRAME.HEADERS, 0, 1, hpack(get('/')))];
    for (let i = 0; i < 1000; i++) frames.push(frame(FRAME.CONTINUATION, 0, 1, withFields ? hpack([[`x-f${i}`, 'v']]) : Buffer.alloc(0)));
    c.send(...frames);
    assert.ok(
      await within(
        c.until((f) => f.type === FRAME.GOAWAY),
        'GOAWAY',
      ),
    );
    assert.notEqual(c.goawayCode(), ERR.NO_ERROR);
    await within(c.closed(), 'the close');
    assert.equal(a.seen.length, before);
  }
});

test('a header list over limits.maxHeaderBytes is 431, over HTTP/2 as over HTTP/1.1; over 128 fields the stream is reset; neither is forwarded', async () => {
  const before = a.seen.length;
  const big = 'v'.repeat(3000);
  const s = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const status = await within(
      new Promise<number>((resolve, reject) => {
        const req = s.request({ ':path': '/', 'x-big': big });
        req.on('response', (h) => resolve(h[':status']!));
        req.on('error', reject);
        req.resume();
      }),
      'the h2 answer',
    );
    const h1 = await within(
      new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/', headers: { 'x-big': big }, agent: false }, (res) => resolve(res.statusCode!)).on('error', reject);
      }),
      'the HTTP/1.1 answer',
    );
    assert.deepEqual([status, h1], [431, 431]);
    // 140 small fields: over node:http2's maxHeaderListPairs (128); the stream is reset (ENHANCE_YOUR_CALM).
    const many = Object.fromEntries(Array.from({ length: 140 }, (_, i) => [`x-f${i}`, '1']));
    const reset = await within(
      new Promise<string>((resolve) => {
        const req = s.request({ ':path': '/', ...many });
        req.on('response', (h) => resolve(String(h[':status'])));
        req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
        req.resume();
      }),
      'the reset',
    );
    assert.equal(reset, 'ERR_HTTP2_STREAM_ERROR');
    assert.equal(a.seen.length, before);
  } finally {
    s.close();
  }
});

test('SETTINGS_MAX_CONCURRENT_STREAMS: advertised; a client that keeps it waits; one that breaks it loses the connection (GOAWAY)', async () => {
  const c = await connect(holdPort);
  try {
    const settingsFrame = c.frames.find((f) => f.type === FRAME.SETTINGS && f.flags === 0)!;
    const advertised = new Map<number, number>();
    for (let i = 0; i < settingsFrame.payload.length; i += 6) advertised.set(settingsFrame.payload.readUInt16BE(i), settingsFrame.payload.readUInt32BE(i + 2));
    assert.equal(advertised.get(3), LIMITS.maxConcurrentStreams, 'SETTINGS_MAX_CONCURRENT_STREAMS');
    assert.equal(advertised.get(6), 2048, 'SETTINGS_MAX_HEADER_LIST_SIZE is limits.maxHeaderBytes');
    // A third stream once the limit is acknowledged breaks the protocol (RFC 9113 §5.1.2): nghttp2 ends the
    // connection, naming stream 3 as the last it took.
    c.send(headers(1, get('/')), headers(3, get('/')), headers(5, get('/')));
    const goaway = await within(
      c.until((f) => f.type === FRAME.GOAWAY),
      'GOAWAY',
    );
    assert.equal(goaway!.payload.readUInt32BE(0) & 0x7fffffff, 3);
    assert.notEqual(c.goawayCode(), ERR.NO_ERROR);
    await within(c.closed(), 'the close');
    assert.ok(held.length <= 2, 'stream 5 never reached the real server');
  } finally {
    c.close();
  }
  for (const res of held.splice(0)) res.destroy();
  // node:http2 keeps the limit: its third request waits for a free stream and goes once one is answered.
  const s = http2.connect(`http://127.0.0.1:${holdPort}`);
  try {
    await within(new Promise((r) => s.once('remoteSettings', r)), "the proxy's SETTINGS");
    const answers = [1, 2, 3].map(
      (i) =>
        new Promise<number>((resolve, reject) => {
          const req = s.request({ ':path': `/${i}` });
          req.on('response', (h) => resolve(h[':status']!));
          req.on('error', reject);
          req.resume();
        }),
    );
    await waitFor(() => held.length === 2, 'two requests at the real server');
    held.shift()!.end('one');
    await waitFor(() => held.length === 2, 'the third request, once a stream was free');
    for (const res of held.splice(0)) res.end('released');
    assert.deepEqual(await within(Promise.all(answers), 'three answers'), [200, 200, 200]);
  } finally {
    s.close();
  }
});

test('a SETTINGS frame with more than 32 entries is answered GOAWAY ENHANCE_YOUR_CALM; nothing more is served, the idle timeout closes it', async () => {
  const c = await connect();
  c.send(settings(Array.from({ length: 40 }, (): [number, number] => [3, 100])), headers(1, get('/')));
  assert.ok(
    await within(
      c.until((f) => f.type === FRAME.GOAWAY),
      'GOAWAY',
    ),
  );
  assert.equal(c.goawayCode(), ERR.ENHANCE_YOUR_CALM);
  await within(c.closed(), 'the close after timeouts.clientMs');
  assert.equal(
    c.frames.some((f) => f.stream === 1 && f.type === FRAME.HEADERS),
    false,
    'stream 1 was not served',
  );
});

test('SETTINGS and PING floods: more than maxControlFrames in the window end the connection with GOAWAY ENHANCE_YOUR_CALM', async () => {
  // The client preface's SETTINGS counts as one: up to the limit the connection serves on.
  const ok = await connect();
  try {
    ok.send(...Array.from({ length: LIMITS.maxControlFrames - 1 }, () => settings([])), headers(1, get('/')));
    assert.ok(await within(ok.until(onStream(1, FRAME.HEADERS)), 'served at the limit'));
    assert.equal(ok.goawayCode(), undefined);
  } finally {
    ok.close();
  }
  for (const flood of [() => settings([]), () => frame(FRAME.PING, 0, 0, Buffer.alloc(8))]) {
    const c = await connect();
    const n = logged.filter((l) => l.code === 'H2_CONTROL_FLOOD').length;
    c.send(...Array.from({ length: 200 }, flood));
    assert.ok(
      await within(
        c.until((f) => f.type === FRAME.GOAWAY),
        'GOAWAY',
      ),
    );
    assert.equal(c.goawayCode(), ERR.ENHANCE_YOUR_CALM);
    await within(c.closed(), 'the close');
    assert.equal(logged.filter((l) => l.code === 'H2_CONTROL_FLOOD').length, n + 1);
  }
});

test('closing the proxy lets an HTTP/2 stream in flight finish, refuses new streams, then closes the connection', async () => {
  const p = await freePort();
  const dp2 = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-h2-close-${process.pid}`, workers: 0, closeGraceMs: 10_000 });
  await dp2.apply({ config: config([httpService('closing', p, [hold], { layer7: { http2: { cleartext: true } } })]), decisions: new Map() });
  const s = http2.connect(`http://127.0.0.1:${p}`);
  try {
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    const answer = new Promise<string>((resolve, reject) => {
      const req = s.request({ ':path': '/in-flight' });
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => resolve(body));
      req.on('error', reject);
    });
    await waitFor(() => held.length === 1, 'the request at the real server');
    const closing = dp2.close();
    await within(new Promise((r) => s.once('goaway', r)), 'GOAWAY: no new streams');
    held.shift()!.end('finished');
    assert.equal(await within(answer, 'the in-flight answer'), 'finished');
    await within(closed, 'the connection closed after its last stream');
    await within(closing, 'the proxy closed');
  } finally {
    s.destroy();
    for (const res of held.splice(0)) res.destroy();
  }
});
