import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedTracker, HttpParseError, isHopByHopName, isName, isNameIn, parseRequestHead, parseResponseHead, serializeHead } from './http-codec.ts';

const head = (text: string) => {
  const b = Buffer.from(text, 'latin1');
  return parseRequestHead(b, b.indexOf('\r\n\r\n'));
};

test('a request head keeps header order and case, and reads framing', () => {
  const h = head('POST /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Thing:  v \r\nContent-Length: 5\r\nConnection: keep-alive, Upgrade\r\n\r\n');
  assert.equal(h.method, 'POST');
  assert.equal(h.target, '/a?b=1');
  assert.equal(h.minor, 1);
  assert.deepEqual(h.headers, ['Host', 'x', 'X-Thing', 'v', 'Content-Length', '5', 'Connection', 'keep-alive, Upgrade']);
  assert.equal(h.contentLength, 5);
  assert.deepEqual(h.connection, ['keep-alive', 'upgrade']);
});

test('refusals: folding, bad names, two lengths, unknown codings, other versions', () => {
  const cases: [string, number][] = [
    ['GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nBad Name: b\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
    ['GET / HTTP/2.0\r\n\r\n', 505],
    ['GET\r\n\r\n', 400],
  ];
  for (const [text, status] of cases) {
    assert.throws(() => head(text), (e: unknown) => e instanceof HttpParseError && e.status === status, JSON.stringify(text));
  }
});

test('Transfer-Encoding wins over Content-Length (no smuggling)', () => {
  const h = head('POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.equal(h.isChunked, true);
  assert.equal(h.contentLength, -1);
});

test('a response head', () => {
  const b = Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
  const r = parseResponseHead(b, b.indexOf('\r\n\r\n'));
  assert.equal(r.status, 404);
  assert.equal(r.reason, 'Not Found');
  assert.equal(r.contentLength, 0);
  assert.throws(() => parseResponseHead(Buffer.from('SSH-2.0\r\n\r\n'), 7));
});

test('chunked framing is found across any split, trailers included', () => {
  const body = Buffer.from('5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\nNEXT');
  const end = body.indexOf('NEXT');
  for (let split = 1; split < end; split++) {
    const t = new ChunkedTracker();
    assert.equal(t.scan(body.subarray(0, split)), -1);
    const rest = body.subarray(split);
    assert.equal(t.scan(rest), end - split, `split at ${split}`);
    assert.equal(t.dataBytes, 15);
  }
  assert.throws(() => new ChunkedTracker().scan(Buffer.from('zz\r\n')));
  assert.throws(() => new ChunkedTracker().scan(Buffer.from('5\r\nhelloXX')));
});

test('serializeHead writes CRLF lines and the blank line', () => {
  assert.equal(serializeHead('GET / HTTP/1.1', ['A', '1', 'B', '2']), 'GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n');
});

test('a head keeps its text and line offsets: lookups ignore case, values are trimmed, lines slice back as they came', () => {
  const h = head('GET /x HTTP/1.1\r\nHost:  a.example \r\nCookie: a=1\r\ncookie:b=2\r\nX-Empty:\r\n\r\n');
  assert.equal(h.raw, 'GET /x HTTP/1.1\r\nHost:  a.example \r\nCookie: a=1\r\ncookie:b=2\r\nX-Empty:');
  assert.equal(h.raw.slice(0, h.headerStart), 'GET /x HTTP/1.1\r\n');
  assert.equal(h.get('host'), 'a.example');
  assert.deepEqual(h.getAll('cookie'), ['a=1', 'b=2']);
  assert.equal(h.get('x-empty'), '');
  assert.equal(h.get('absent'), undefined);
  assert.equal(h.valueAt(3), 'a=1');
  assert.equal(h.raw.slice(h.lines[3], h.lines[5]), 'Cookie: a=1');
  assert.deepEqual(h.headers, ['Host', 'a.example', 'Cookie', 'a=1', 'cookie', 'b=2', 'X-Empty', '']);
  const bare = head('GET / HTTP/1.0\r\n\r\n');
  assert.equal(bare.minor, 0);
  assert.equal(bare.headerStart, bare.raw.length);
  assert.deepEqual(bare.headers, []);
  const b = Buffer.from('HTTP/1.0 200\r\n\r\n');
  const r = parseResponseHead(b, b.indexOf('\r\n\r\n'));
  assert.equal(r.status, 200);
  assert.equal(r.reason, '');
  assert.equal(r.minor, 0);
  assert.deepEqual(r.lines, []);
  assert.throws(() => head('GET / HTTP/1.1\r\n: novalue\r\n\r\n'), HttpParseError);
  assert.throws(() => head('GET / HTTP/1.1\r\nNoColon\r\n\r\n'), HttpParseError);
  assert.throws(() => head('GET / HTTP/1.10\r\n\r\n'), (e: unknown) => e instanceof HttpParseError && e.status === 505);
});

test('header names are compared in place, ignoring case', () => {
  const raw = 'Keep-Alive|CONNECTION|Content-Length|x-secret|TE|Tf';
  const at = (name: string) => [raw.indexOf(name), raw.indexOf(name) + name.length] as const;
  assert.equal(isHopByHopName(raw, ...at('Keep-Alive')), true);
  assert.equal(isHopByHopName(raw, ...at('CONNECTION')), true);
  assert.equal(isHopByHopName(raw, ...at('TE')), true);
  assert.equal(isHopByHopName(raw, ...at('Tf')), false);
  assert.equal(isHopByHopName(raw, ...at('Content-Length')), false);
  assert.equal(isName(raw, ...at('Content-Length'), 'content-length'), true);
  assert.equal(isName(raw, ...at('Content-Length'), 'content-type'), false);
  assert.equal(isNameIn(raw, ...at('x-secret'), ['close', 'x-secret']), true);
  assert.equal(isNameIn(raw, ...at('x-secret'), []), false);
});
