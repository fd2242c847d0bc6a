/**
 * Request trailers over HTTP/2 (RFC 9113 §8.1, gRPC's kind of request): a body without Content-Length goes to the real
 * server chunked, and the client's trailers follow its last chunk (RFC 9112 §7.1.2), as HAProxy 2.6 sends them, to a
 * raw real server that records the bytes; framing fields among them are not passed on. A trailer field HTTP/2
 * forbids (RFC 9113 §8.2.1) makes the request malformed: the stream is reset with PROTOCOL_ERROR and the real server
 * never gets a complete request. Response trailers (after a chunked body's last chunk) go to the client as a HEADERS
 * frame after the last DATA, as HAProxy sends them; a response trailer with a control byte never reaches the client.
 * Loopback only.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort, httpService, waitFor, within, type Backend } from './test-helpers.ts';
import { frame as strictFrame, RawServer } from './smuggling-harness.ts';
import { startHaproxyH2, type Peer } from './h2-peers.ts';
import { setProxyLog, type ProxyLogSink } from './proxy-log.ts';
import { ERR, FLAG, frame, FRAME, hpack, RawH2 } from './h2-raw.ts';
import { lastChunk } from './h2-exchange.ts';
import { ResponseBody } from './h2-body.ts';
import { parseResponseHead } from './http-codec.ts';

let dp: L7DataPlane;
let haproxy: Peer;
let haproxyRes: Peer;
const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n';
const GOOD = `${CHUNKED_HEAD}grpc-status: 0\r\ngrpc-message: all  fine\r\nx-many: 1\r\nx-many: 2\r\n\r\n`;
const BAD = `${CHUNKED_HEAD}grpc-status: 0\r\nx-bad: a\x01b\r\n\r\n`;
const servers: Record<string, RawServer> = {};
const ports: Record<string, number> = {};
let previousLog: ProxyLogSink | null;
const logged: { code?: string }[] = [];

before(async () => {
  previousLog = setProxyLog((_l, _m, f) => logged.push(f as { code?: string }), 1000);
  for (const p of ['fulcrum', 'haproxy']) servers[p] = await new RawServer().start();
  servers.good = await new RawServer(GOOD).start();
  servers.bad = await new RawServer(BAD).start();
  [ports.fulcrum, ports.haproxy, ports.fulcrumRes, ports.haproxyRes, ports.fulcrumBad] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  dp = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-h2-trailers-${process.pid}`, workers: 0, closeGraceMs: 200 });
  const res = await dp.apply({
    config: config([
      httpService('trailers', ports.fulcrum, [{ name: 'raw', port: servers.fulcrum.port } as Backend], { layer7: { http2: { cleartext: true } } }),
      httpService('response-trailers', ports.fulcrumRes, [{ name: 'good', port: servers.good.port } as Backend], { layer7: { http2: { cleartext: true } } }),
      httpService('bad-trailers', ports.fulcrumBad, [{ name: 'bad', port: servers.bad.port } as Backend], { layer7: { http2: { cleartext: true } } }),
    ]),
    decisions: new Map(),
  });
  assert.deepEqual(
    res.map((r) => r.status),
    ['programmed', 'programmed', 'programmed'],
  );
  haproxy = await startHaproxyH2(ports.haproxy, servers.haproxy.port);
  haproxyRes = await startHaproxyH2(ports.haproxyRes, servers.good.port);
});

after(async () => {
  setProxyLog(previousLog);
  await dp.close();
  await Promise.all([haproxy?.stop(), haproxyRes?.stop()]);
  await Promise.all(Object.values(servers).map((s) => s.close()));
});

/** A POST with a body and trailers from node:http2's client; the answer's status. */
async function postWithTrailers(port: number, path: string, trailers: Record<string, string>): Promise<number> {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await within(
      new Promise<number>((resolve, reject) => {
        const req = s.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' }, { waitForTrailers: true });
        req.on('wantTrailers', () => req.sendTrailers(trailers));
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.write('hello ');
        req.end('world');
      }),
      `the answer to ${path}`,
    );
  } finally {
    s.close();
  }
}

/** The request for `path` as the raw server got it: its bytes from the request line on, and the strict framing. */
function received(proxy: string, path: string) {
  const server = servers[proxy];
  const conn = server.connections.find((c) => c.bytes.includes(` ${path} HTTP/1.1\r\n`));
  assert.ok(conn, `${proxy}: the request reached its real server`);
  const framing = strictFrame(conn.bytes, 'request', { isClosed: conn.isClosed });
  return { bytes: conn.bytes.toString('latin1'), framing, message: framing.messages.find((m) => m.target === path) };
}

test('request trailers follow the last chunk to the real server, as through HAProxy', async () => {
  const trailers = { 'grpc-status': '0', 'x-checksum': 'abc123' };
  for (const p of ['fulcrum', 'haproxy']) assert.equal(await postWithTrailers(ports[p], '/t', trailers), 200, p);
  const f = received('fulcrum', '/t');
  const h = received('haproxy', '/t');
  assert.deepEqual(f.framing.violations, [], 'one reading only');
  assert.equal(f.message?.framing, 'chunked');
  assert.equal(f.message?.body, 'hello world');
  assert.equal(h.message?.body, 'hello world');
  const tail = (b: string) => b.slice(b.lastIndexOf('\r\n0\r\n') + 2);
  assert.match(tail(f.bytes), /^0\r\ngrpc-status: 0\r\nx-checksum: abc123\r\n\r\n$/);
  // HAProxy sends the same two trailer fields (its own spelling of the last chunk aside).
  assert.match(tail(h.bytes), /grpc-status: 0\r\n/);
  assert.match(tail(h.bytes), /x-checksum: abc123\r\n/);
});

test('framing, routing and connection fields are never written as trailers (RFC 9110 §6.5.1)', () => {
  // nghttp2 already resets a stream whose trailers carry Content-Length or a connection-specific field; the rest:
  assert.equal(lastChunk(['host', 'other.example', 'x-a', '1', 'trailer', 'x-a', 'grpc-message', 'ok']), '0\r\nx-a: 1\r\ngrpc-message: ok\r\n\r\n');
  assert.equal(lastChunk(null), '0\r\n\r\n');
});

test('a trailer field with a byte HTTP/2 forbids: the stream is reset (PROTOCOL_ERROR), the real server never gets a whole request', async () => {
  const c = await RawH2.connect(ports.fulcrum);
  try {
    await within(
      c.until((f) => f.type === FRAME.SETTINGS),
      'the SETTINGS',
    );
    const head: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':path', '/bad-trailer'],
      [':authority', 'www.example'],
    ];
    c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, hpack(head)), frame(FRAME.DATA, 0, 1, Buffer.from('part')));
    await waitFor(() => servers.fulcrum.connections.some((x) => x.bytes.includes(' /bad-trailer HTTP/1.1\r\n')), 'the head at the real server');
    c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, hpack([['x-bad', 'a\r\nx-injected: 1']])));
    const rst = await within(
      c.until((f) => f.stream === 1 && f.type === FRAME.RST_STREAM),
      'the reset',
    );
    assert.equal(rst?.payload.readUInt32BE(0), ERR.PROTOCOL_ERROR);
    const conn = servers.fulcrum.connections.find((x) => x.bytes.includes(' /bad-trailer HTTP/1.1\r\n'))!;
    await waitFor(() => conn.isClosed, 'the server connection cut');
    const framing = strictFrame(conn.bytes, 'request', { isClosed: true });
    assert.equal(
      framing.messages.find((m) => m.target === '/bad-trailer'),
      undefined,
      'no complete request',
    );
    assert.ok(!conn.bytes.includes('x-injected'), 'nothing of the trailer was forwarded');
    assert.ok(logged.some((l) => l.code === 'H2_MALFORMED_FIELD'));
  } finally {
    c.close();
  }
});

/** A GET over h2c: status, body, trailers, and the stream's error (if it was reset). */
async function getWithTrailers(port: number, path: string) {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await within(
      new Promise<{ status: number; body: string; trailers: http2.IncomingHttpHeaders | null; error?: string }>((resolve) => {
        const req = s.request({ ':path': path });
        let status = 0;
        let body = '';
        let trailers: http2.IncomingHttpHeaders | null = null;
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('trailers', (t) => (trailers = t));
        req.on('data', (d: Buffer) => (body += d.toString('latin1')));
        req.on('end', () => resolve({ status, body, trailers }));
        req.on('error', (err: Error) => resolve({ status, body, trailers, error: err.message }));
        req.end();
      }),
      `the answer to ${path}`,
    );
  } finally {
    s.close();
  }
}

test('response trailers follow the last DATA frame to the client, as through HAProxy', async () => {
  const f = await getWithTrailers(ports.fulcrumRes, '/good');
  const h = await getWithTrailers(ports.haproxyRes, '/good');
  for (const [who, r] of [
    ['fulcrum', f],
    ['haproxy', h],
  ] as const) {
    assert.equal(r.status, 200, who);
    assert.equal(r.body, 'hello world', who);
    assert.equal(r.trailers?.['grpc-status'], '0', who);
    assert.equal(r.trailers?.['grpc-message'], 'all  fine', who);
  }
  assert.equal(f.trailers?.['x-many'], h.trailers?.['x-many'], 'a repeated trailer field arrives as HAProxy sends it');
});

test('a response trailer with a control byte never reaches the client', async () => {
  const r = await getWithTrailers(ports.fulcrumBad, '/bad');
  // The codec's chunked framing refuses it (RFC 9112 §7.1.2): a 502 when the whole response came at once, as here,
  // a reset once the head is out; h2-body.ts checks the fields again before they become HTTP/2 trailers.
  assert.ok(r.status === 502 || r.error !== undefined, `refused: ${JSON.stringify(r)}`);
  assert.equal(r.trailers, null, 'no trailers');
  assert.doesNotMatch(r.body, /hello/, 'nothing of the refused response');
});

test('response trailers as HTTP/2 fields: lower case, OWS trimmed, repeats kept, framing fields left out, a control byte refused', () => {
  const trailersOf = (section: string) => {
    const raw = Buffer.from(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n${section}\r\n`, 'latin1');
    const end = raw.indexOf('\r\n\r\n');
    const body = new ResponseBody(parseResponseHead(raw, end), 'GET');
    const rest = raw.subarray(end + 4);
    body.data(rest, body.extent(rest), () => undefined);
    assert.ok(body.isEnded);
    return body.trailers();
  };
  assert.deepEqual(trailersOf('Grpc-Status:  0 \r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 5\r\nTrailer: x\r\n'), {
    fields: { 'grpc-status': '0', 'x-a': ['1', '2'] },
  });
  assert.deepEqual(trailersOf(''), { fields: {} });
  // The codec's chunked framing refuses a control byte in a trailer before any check here (h2-body.ts checks again).
  assert.throws(() => trailersOf('x-del: a\x7fb\r\n'), /trailer/);
});
