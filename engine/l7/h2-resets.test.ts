/**
 * HTTP/2 stream resets in the logs, the way HAProxy logs them: the access log's termination state (C the client,
 * P the proxy; then the step) with the status the client got (-1: none, only the reset), and a proxy log entry with
 * the reason (the RST_STREAM's error code, and the proxy's own reason when it reset). A raw client (h2-raw.ts) sends
 * the exact frames over h2c; the real server holds its answers until the test lets them go.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort, httpService, startBackend, waitFor, within, type Backend } from './test-helpers.ts';
import { setProxyLog, type ProxyLogSink } from './proxy-log.ts';
import { setAccessLog } from './access.ts';
import type { AccessEntry, AccessLog } from '../log/access-log.ts';
import { ERR, FLAG, frame, FRAME, get, hpack, RawH2, rstStream, type Frame } from './h2-raw.ts';

let dp: L7DataPlane;
let hold: Backend;
let port: number;
let previousLog: ProxyLogSink | null;
let previousAccess: AccessLog | null;
const access: AccessEntry[] = [];
const logged: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
const held: http.ServerResponse[] = [];

before(async () => {
  previousLog = setProxyLog((level, msg, fields) => logged.push({ level, msg, fields: fields as Record<string, unknown> }), 1000);
  previousAccess = setAccessLog({ record: (e: AccessEntry) => access.push(e), draw: () => true, skip: () => undefined } as unknown as AccessLog);
  dp = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-h2-resets-${process.pid}`, workers: 0, closeGraceMs: 200 });
  hold = await startBackend('hold', (req, res) => {
    // /partial: the head and part of the body go out, the rest is held.
    if (req.url === '/partial') {
      res.writeHead(200, { 'content-length': '10' });
      res.write('abc');
    }
    held.push(res);
    return true;
  });
  port = await freePort();
  const r = await dp.apply({
    config: config([httpService('resets', port, [hold], { layer7: { http2: { cleartext: true } } })]),
    decisions: new Map(),
  });
  assert.equal(r[0].status, 'programmed', r[0].message);
});

after(async () => {
  setProxyLog(previousLog);
  setAccessLog(previousAccess);
  for (const res of held) res.destroy();
  await dp.close();
  await hold.close();
});

const headers = (stream: number, fields: [string, string][], flags = FLAG.END_HEADERS | FLAG.END_STREAM) => frame(FRAME.HEADERS, flags, stream, hpack(fields));
const onStream = (stream: number, type: number) => (f: Frame) => f.stream === stream && f.type === type;

async function connect(): Promise<RawH2> {
  const c = await RawH2.connect(port);
  assert.ok(
    await within(
      c.until((f) => f.type === FRAME.SETTINGS),
      'the server preface',
    ),
  );
  return c;
}

/** The access entry and proxy log entry of the one reset the test made (waits for both). */
async function resetLogged(what: string, path?: string): Promise<{ entry: AccessEntry; log: (typeof logged)[number] }> {
  const isOurs = (e: AccessEntry) => (path === undefined ? e.path === '-' : e.path === path);
  await waitFor(() => access.some(isOurs) && logged.some((l) => 'by' in l.fields), `${what}: logged`);
  const entry = access.find(isOurs)!;
  const log = logged.find((l) => 'by' in l.fields)!;
  access.length = 0;
  logged.length = 0;
  return { entry, log };
}

test('a client that resets a stream waiting for its response: CH, status -1, the reason CANCEL', async () => {
  const c = await connect();
  try {
    const n = held.length;
    c.send(headers(1, get('/wait')));
    await waitFor(() => held.length === n + 1, 'the request at the real server');
    c.send(rstStream(1, ERR.CANCEL));
    const { entry, log } = await resetLogged('the cancel', '/wait');
    assert.deepEqual([entry.termination, entry.status, entry.method, entry.server], ['CH', -1, 'GET', 'hold']);
    assert.equal(log.level, 'info', 'a browser cancelling is ordinary');
    assert.deepEqual([log.fields.by, log.fields.error, log.fields.stream, log.fields.termination, log.fields.status], ['client', 'CANCEL', 1, 'CH', -1]);
    assert.match(String(log.fields.reason), /client reset the stream \(RST_STREAM CANCEL\)/);
  } finally {
    c.close();
  }
});

test('a client that resets a stream during its response body: CD with the status it was sent', async () => {
  const c = await connect();
  try {
    c.send(headers(1, get('/partial')));
    assert.ok(await within(c.until(onStream(1, FRAME.DATA)), 'the first part of the body'));
    c.send(rstStream(1, ERR.INTERNAL_ERROR));
    const { entry, log } = await resetLogged('the reset during data', '/partial');
    assert.deepEqual([entry.termination, entry.status], ['CD', 200]);
    assert.deepEqual([log.fields.by, log.fields.error, log.fields.status], ['client', 'INTERNAL_ERROR', 200]);
  } finally {
    c.close();
  }
});

test('a reset that comes with its HEADERS: CR, no request, status -1', async () => {
  const c = await connect();
  try {
    const n = held.length;
    c.send(headers(1, get('/gone')), rstStream(1, ERR.CANCEL));
    const { entry, log } = await resetLogged('the reset with its headers');
    assert.deepEqual([entry.termination, entry.status, entry.method], ['CR', -1, '<BADREQ>']);
    assert.deepEqual([log.fields.by, log.fields.error], ['client', 'CANCEL']);
    assert.equal(held.length, n, 'nothing reached the real server');
  } finally {
    c.close();
  }
});

test('a stream nghttp2 resets before announcing it (an upper-case name): PR, status -1, with the reason', async () => {
  const c = await connect();
  try {
    c.send(headers(1, get('/upper', [['X-Upper', 'a']])));
    const rst = await within(c.until(onStream(1, FRAME.RST_STREAM)), 'the reset');
    assert.equal(rst?.payload.readUInt32BE(0), ERR.PROTOCOL_ERROR);
    const { entry, log } = await resetLogged('the reset of nghttp2');
    assert.deepEqual([entry.termination, entry.status], ['PR', -1]);
    assert.equal(log.level, 'warn');
    assert.deepEqual([log.fields.by, log.fields.error, log.fields.stream], ['proxy', 'PROTOCOL_ERROR', 1]);
    assert.match(String(log.fields.reason), /upper-case.*nghttp2 reset the stream \(RST_STREAM PROTOCOL_ERROR\)/);
  } finally {
    c.close();
  }
});

test('nghttp2 resetting an announced stream (more DATA than its Content-Length): P and the step, not the client’s', async () => {
  const c = await connect();
  try {
    const n = held.length;
    const post: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':authority', 'x'],
      [':path', '/long'],
      ['content-length', '2'],
    ];
    c.send(headers(1, post, FLAG.END_HEADERS));
    await waitFor(() => held.length === n + 1, 'the request at the real server');
    c.send(frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('too long')));
    const rst = await within(c.until(onStream(1, FRAME.RST_STREAM)), 'the reset');
    assert.equal(rst?.payload.readUInt32BE(0), ERR.PROTOCOL_ERROR);
    const { entry, log } = await resetLogged('the reset of an announced stream', '/long');
    assert.deepEqual([entry.termination, entry.status, entry.method], ['PD', -1, 'POST']);
    assert.deepEqual([log.fields.by, log.fields.error], ['proxy', 'PROTOCOL_ERROR']);
  } finally {
    c.close();
  }
});

test('nghttp2 resetting a stream whose HEADERS and bad DATA came in one read: logged once, PR', async () => {
  const c = await connect();
  try {
    const post: [string, string][] = [
      [':method', 'POST'],
      [':scheme', 'http'],
      [':authority', 'x'],
      [':path', '/long'],
      ['content-length', '2'],
    ];
    c.send(headers(1, post, FLAG.END_HEADERS), frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('too long')));
    assert.ok(await within(c.until(onStream(1, FRAME.RST_STREAM)), 'the reset'));
    const { entry, log } = await resetLogged('the reset in one read');
    assert.deepEqual([entry.termination, entry.status], ['PR', -1]);
    assert.deepEqual([log.fields.by, log.fields.error], ['proxy', 'PROTOCOL_ERROR']);
    // Another stream after it: once it reached the real server, no second entry of the first has come.
    const n = held.length;
    c.send(headers(3, get('/after')));
    await waitFor(() => held.length === n + 1, 'the next request');
    assert.equal(access.length, 0, 'one access entry');
    assert.equal(logged.filter((l) => 'by' in l.fields).length, 0, 'logged once');
  } finally {
    c.close();
  }
});

test('a request the proxy finds malformed is logged with status -1 (only a reset was sent), not 400', async () => {
  const c = await connect();
  try {
    c.send(headers(1, get('/space', [['x-a', ' leading']])));
    assert.ok(await within(c.until(onStream(1, FRAME.RST_STREAM)), 'the reset'));
    const isOurs = (e: AccessEntry) => e.path === '-';
    await waitFor(() => access.some(isOurs) && logged.some((l) => l.fields.code === 'H2_MALFORMED_FIELD'), 'logged');
    const entry = access.find(isOurs)!;
    assert.deepEqual([entry.termination, entry.status, entry.method], ['PR', -1, '<BADREQ>']);
    const refusal = logged.find((l) => l.fields.code === 'H2_MALFORMED_FIELD')!;
    assert.equal(refusal.fields.status, -1);
    assert.match(refusal.msg, /with a stream reset: /);
    access.length = 0;
    logged.length = 0;
  } finally {
    c.close();
  }
});
