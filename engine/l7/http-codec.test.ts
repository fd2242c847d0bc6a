import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  ChunkedTracker,
  HttpParseError,
  isHopByHopName,
  isName,
  isNameIn,
  leadingEmptyLines,
  parseRequestHead,
  parseResponseHead,
  partialHeadError,
  requestBody,
  responseBody,
  serializeHead,
} from './http-codec.ts';
import { valueEnd } from './http-syntax.ts';

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
    assert.throws(
      () => head(text),
      (e: unknown) => e instanceof HttpParseError && e.status === status,
      JSON.stringify(text),
    );
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
  assert.throws(
    () => head('GET / HTTP/1.10\r\n\r\n'),
    (e: unknown) => e instanceof HttpParseError && e.status === 505,
  );
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

// ───── framing and validation (RFC 9112); the differential cases against HAProxy are in smuggling.test.ts ─────

const refusal = (text: string) => {
  try {
    head(text);
  } catch (e) {
    assert.ok(e instanceof HttpParseError, String(e));
    return `${e.status} ${e.code}`;
  }
  return 'accepted';
};

const response = (text: string) => {
  const b = Buffer.from(text, 'latin1');
  return parseResponseHead(b, b.indexOf('\r\n\r\n'));
};

test('each refusal has its code and status, for requests', () => {
  const cases: [string, string][] = [
    ['GET / HTTP/1.1\r\nX: a\rb\r\n\r\n', '400 H1_BARE_CR'],
    ['GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n', '400 H1_BARE_LF'],
    ['GET / HTTP/1.1\nHost: a\r\n\r\n', '400 H1_BARE_LF'],
    ['GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n', '400 H1_CONTROL'],
    ['GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n', '400 H1_CONTROL'],
    ['GET / HTTP/1.1\r\n X: a\r\n\r\n', '400 H1_OBS_FOLD'],
    ['GET / HTTP/1.1\r\nX : a\r\n\r\n', '400 H1_FIELD_NAME'],
    ['GET / HTTP/1.1\r\nX\r\n\r\n', '400 H1_NO_COLON'],
    ['GET / HTTP/1.1\r\nContent_Length: 1\r\n\r\n', '400 H1_FRAMING_NAME'],
    ['GET / HTTP/1.1\r\ntransfer_encoding: chunked\r\n\r\n', '400 H1_FRAMING_NAME'],
    ['POST / HTTP/1.1\r\nContent-Length: 5\r\nConnection: Content-Length\r\n\r\n', '400 H1_CONNECTION_FRAMING'],
    ['POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n', '400 H1_CONTENT_LENGTH_REPEATED'],
    ['POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n', '400 H1_CONTENT_LENGTH_REPEATED'],
    ['POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n', '400 H1_CONTENT_LENGTH'],
    ['POST / HTTP/1.1\r\nContent-Length:\r\n\r\n', '400 H1_CONTENT_LENGTH'],
    ['POST / HTTP/1.1\r\nContent-Length: 1234567890123456\r\n\r\n', '400 H1_CONTENT_LENGTH'],
    ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', '400 H1_TE_HTTP10'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n', '400 H1_TE_INVALID'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', '400 H1_TE_INVALID'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: , chunked\r\n\r\n', '400 H1_TE_INVALID'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: "chunked"\r\n\r\n', '400 H1_TE_INVALID'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', '501 H1_TE_UNSUPPORTED'],
    ['POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n', '501 H1_TE_UNSUPPORTED'],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', '400 H1_HOST_REPEATED'],
    ['GET / HTTP/1.1\r\nHost: a, b\r\n\r\n', '400 H1_HOST_INVALID'],
    ['GET / HTTP/1.1\r\nHost: u@a\r\n\r\n', '400 H1_HOST_INVALID'],
    ['GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n', '400 H1_HOST_INVALID'],
    ['GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n', '400 H1_HOST_MISMATCH'],
    ['GET http://u@a/ HTTP/1.1\r\n\r\n', '400 H1_USERINFO'],
    ['GET ftp://a/ HTTP/1.1\r\n\r\n', '400 H1_TARGET'],
    ['GET http:///x HTTP/1.1\r\n\r\n', '400 H1_TARGET'],
    ['GET * HTTP/1.1\r\n\r\n', '400 H1_TARGET'],
    ['GET x HTTP/1.1\r\n\r\n', '400 H1_TARGET'],
    ['GET /a#b HTTP/1.1\r\n\r\n', '400 H1_TARGET_CHAR'],
    ['GET /\xe9 HTTP/1.1\r\n\r\n', '400 H1_TARGET_CHAR'],
    ['GET  / HTTP/1.1\r\n\r\n', '400 H1_REQUEST_LINE'],
    ['GET\t/ HTTP/1.1\r\n\r\n', '400 H1_REQUEST_LINE'],
    ['GET / http/1.1\r\n\r\n', '400 H1_REQUEST_LINE'],
    ['GET / HTTP/1.1 \r\n\r\n', '400 H1_REQUEST_LINE'],
    ['GET / HTTP/1.2\r\n\r\n', '505 H1_VERSION'],
    ['CONNECT a:443 HTTP/1.1\r\n\r\n', '501 H1_CONNECT'],
  ];
  for (const [text, want] of cases) assert.equal(refusal(text), want, JSON.stringify(text));
});

test('accepted framing: chunked wins and is sent on canonical; odd but valid fields are normalised', () => {
  const both = head('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.equal(both.isAmbiguous, true, 'CL with TE: the connection closes after');
  assert.deepEqual(both.skip, [3], 'the Content-Length line is not forwarded');
  assert.equal(both.added, null, 'Transfer-Encoding was already canonical');
  const odd = head('POST / HTTP/1.1\r\nTransfer-Encoding:\tCHUNKED \r\n\r\n');
  assert.equal(odd.isChunked, true);
  assert.deepEqual([odd.skip, odd.added], [[0], ['Transfer-Encoding', 'chunked']]);
  const zeros = head('POST / HTTP/1.1\r\nContent-Length: 0005\r\n\r\n');
  assert.deepEqual([zeros.contentLength, zeros.skip, zeros.added], [5, [0], ['Content-Length', '5']]);
  const zerosAndTe = head('POST / HTTP/1.1\r\nContent-Length: 007\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.deepEqual([zerosAndTe.contentLength, zerosAndTe.skip, zerosAndTe.added], [-1, [0, 0], []], 'the length goes, rewritten or not');
  assert.equal(head('GET / HTTP/1.1\r\nHost: [::1]:8080\r\nX: caf\xe9\r\n\r\n').host, '[::1]:8080', 'IP literal; obs-text in a value');
  assert.equal(head('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').target, '*');
  assert.equal(refusal('GET /a|b[]{}?q=^ HTTP/1.1\r\n\r\n'), 'accepted', 'what browsers send raw passes, as with HAProxy');
});

test('absolute-form becomes origin-form; the host comes from the target', () => {
  const a = head('GET HTTP://A.example:8080?q=1 HTTP/1.1\r\nHost: a.EXAMPLE:8080\r\n\r\n');
  assert.deepEqual([a.target, a.host, a.isAbsoluteForm, a.added], ['/?q=1', 'a.EXAMPLE:8080', true, null]);
  const b = head('GET https://b.example/p/q HTTP/1.1\r\n\r\n');
  assert.deepEqual([b.target, b.host, b.added], ['/p/q', 'b.example', ['Host', 'b.example']]);
  assert.equal(head('GET / HTTP/1.0\r\n\r\n').host, undefined, 'no Host at all: the proxy names the VIP');
});

test('each refusal has its code, and 502, for responses; 204 loses a stray length', () => {
  const cases: [string, string][] = [
    ['HTTP/1.1 200 OK\rX: y\r\n\r\n', 'H1_BARE_CR'],
    ['HTTP/1.1 200 O\x01K\r\n\r\n', 'H1_CONTROL'],
    ['HTTP/1.1 20 OK\r\n\r\n', 'H1_STATUS_LINE'],
    ['HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n', 'H1_OBS_FOLD'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 'H1_CONTENT_LENGTH_REPEATED'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'H1_TE_UNSUPPORTED'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 'H1_TE_INVALID'],
    ['HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'H1_TE_HTTP10'],
    ['HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\n\r\n', 'H1_CONNECTION_FRAMING'],
  ];
  for (const [text, code] of cases) {
    assert.throws(
      () => response(text),
      (e: unknown) => e instanceof HttpParseError && e.status === 502 && e.code === code,
      JSON.stringify(text),
    );
  }
  const r204 = response('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nX: y\r\n\r\n');
  assert.deepEqual([r204.skip, r204.isAmbiguous], [[0], true]);
  const both = response('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.deepEqual([both.isChunked, both.contentLength, both.skip, both.isAmbiguous], [true, -1, [0], true]);
  assert.equal(response('HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\n\r\n').status, 200, 'Host is a request field');
});

test('body modes, and the checks for heads that have not ended', () => {
  const r = (text: string) => response(text);
  assert.equal(requestBody(head('POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n')), BODY_NONE);
  assert.equal(requestBody(head('POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n')), BODY_LENGTH);
  assert.equal(requestBody(head('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n')), BODY_CHUNKED);
  assert.equal(responseBody(r('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'), 'HEAD'), BODY_NONE);
  assert.equal(responseBody(r('HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\n'), 'GET'), BODY_NONE);
  assert.equal(responseBody(r('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'), 'GET'), BODY_LENGTH);
  assert.equal(responseBody(r('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), 'GET'), BODY_CHUNKED);
  assert.equal(responseBody(r('HTTP/1.1 200 OK\r\nX: y\r\n\r\n'), 'GET'), BODY_UNTIL_CLOSE);
  assert.equal(partialHeadError(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n')), undefined);
  assert.equal(partialHeadError(Buffer.from('GET / HTTP/1.1\nHost')), 'H1_BARE_LF');
  assert.equal(partialHeadError(Buffer.from('\n')), 'H1_BARE_LF');
  assert.equal(leadingEmptyLines(Buffer.from('\r\n\r\nGET')), 4);
  assert.equal(leadingEmptyLines(Buffer.from('\rGET')), 0);
});

test('chunked framing refuses what two receivers could split differently', () => {
  const refuse = (body: string) => {
    try {
      new ChunkedTracker().scan(Buffer.from(body, 'latin1'));
    } catch (e) {
      return (e as HttpParseError).code;
    }
    return 'accepted';
  };
  assert.equal(refuse('1000000000005\r\n'), 'H1_CHUNK_SIZE', '13 significant digits');
  assert.equal(refuse('00000000000000000005\r\nhello\r\n0\r\n\r\n'), 'accepted', 'leading zeros are not significant');
  assert.equal(refuse('0x5\r\n'), 'H1_CHUNK_SIZE');
  assert.equal(refuse('5 x\r\n'), 'H1_CHUNK_SIZE');
  assert.equal(refuse('5 ;a=1\r\nhello\r\n0\r\n\r\n'), 'accepted', 'whitespace before an extension');
  assert.equal(refuse('5\nhello'), 'H1_CHUNK_SIZE');
  assert.equal(refuse('5;a\nb\r\n'), 'H1_CHUNK_EXT');
  assert.equal(refuse(`5;${'x'.repeat(4097)}\r\n`), 'H1_CHUNK_EXT');
  assert.equal(refuse('5\rx'), 'H1_CHUNK_CRLF');
  assert.equal(refuse('5\r\nhelloX'), 'H1_CHUNK_CRLF');
  assert.equal(refuse('0\r\nX: 1\n\r\n'), 'H1_TRAILER');
  assert.equal(refuse('0\r\n X: 1\r\n\r\n'), 'H1_TRAILER', 'folded trailer');
  assert.equal(refuse('0\r\n: 1\r\n\r\n'), 'H1_TRAILER', 'empty trailer name');
  assert.equal(refuse(`0\r\nX: ${'y'.repeat(16_400)}\r\n\r\n`), 'H1_TRAILER', 'trailer section too large');
  const t = new ChunkedTracker(true);
  assert.throws(
    () => t.scan(Buffer.from('zz')),
    (e: unknown) => e instanceof HttpParseError && e.status === 502,
    "a response's chunks: the server's fault",
  );
});

test('the word-at-a-time value scan finds exactly the bytes a field value may not hold, at any offset', () => {
  const isBad = (c: number) => (c < 32 && c !== 9) || c === 127;
  const backing = Buffer.alloc(64, 0x61);
  for (let offset = 0; offset < 4; offset++) {
    for (let len = 0; len <= 19; len++) {
      for (let at = 0; at < len; at++) {
        for (let c = 0; c < 256; c++) {
          backing.fill(0x61);
          const b = backing.subarray(offset, offset + len + 2);
          b[at] = c;
          const want = isBad(c) ? at : len;
          assert.equal(valueEnd(b, 0, len), want, `offset ${offset} len ${len} byte 0x${c.toString(16)} at ${at}`);
        }
      }
    }
  }
});
