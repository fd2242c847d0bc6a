/** framing.ts in-process: response heads across chunks, body extents, request bodies, server-connection reuse. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, parseRequestHead, parseResponseHead } from './http-codec.ts';
import { HttpParseError } from './http-refusals.ts';
import { BodyFraming, keepsServerConnection, RequestBody, ResponseHeadReader, SMALL_RESPONSE } from './framing.ts';

const b = (s: string) => Buffer.from(s, 'latin1');
const res = (text: string) => parseResponseHead(b(text), text.indexOf('\r\n\r\n'));
const req = (text: string) => parseRequestHead(b(text), text.indexOf('\r\n\r\n'));
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HttpParseError, String(err));
    return err.code;
  }
  assert.fail('no refusal');
};

test('a response head split over chunks is read once complete; the bytes after it are rest', () => {
  const r = new ResponseHeadReader();
  assert.equal(r.read(b('HTTP/1.1 200 OK\r\nContent-Le')), null);
  assert.equal(r.isPartial, true, 'a started head makes a retry unsafe');
  assert.equal(r.read(b('ngth: 5\r\n\r')), null);
  const head = r.read(b('\nhelloHTTP/1.1'))!;
  assert.equal(head.status, 200);
  assert.equal(head.contentLength, 5);
  assert.equal(r.isPartial, false);
  assert.equal(r.rest.toString('latin1'), 'helloHTTP/1.1');
  assert.equal(r.text!.slice(r.bodyAt), 'helloHTTP/1.1', 'a small chunk is kept as text, its body at bodyAt');
  r.clear();
  assert.equal(r.rest.length, 0);
  assert.equal(r.text, null);
});

test('the chunk a head is read from is borrowed: a partial head is copied', () => {
  const r = new ResponseHeadReader();
  const chunk = b('HTTP/1.1 204 No');
  assert.equal(r.read(chunk), null);
  chunk.fill(0x41);
  assert.equal(r.read(b(' Content\r\n\r\n'))!.reason, 'No Content');
});

test('a large chunk is searched as bytes and gives the same head as a small one', () => {
  const body = 'x'.repeat(SMALL_RESPONSE);
  const text = `HTTP/1.0 200 OK\r\nX-A: 1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const r = new ResponseHeadReader();
  const big = r.read(b(text))!;
  assert.equal(r.text, null);
  const small = new ResponseHeadReader().read(b(text.slice(0, text.indexOf('\r\n\r\n') + 4)))!;
  assert.deepEqual([big.status, big.minor, big.contentLength, big.raw], [small.status, small.minor, small.contentLength, small.raw]);
  assert.equal(r.rest.length, body.length);
});

test('a head that can never end, or grows without end, is refused at once', () => {
  assert.equal(
    code(() => new ResponseHeadReader().read(b('HTTP/1.1 200 OK\nX: 1\r\n'))),
    'H1_BARE_LF',
  );
  const r = new ResponseHeadReader();
  r.read(b(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(40_000)}`));
  assert.equal(
    code(() => r.read(b('a'.repeat(30_000)))),
    'H1_RESPONSE_HEAD_TOO_LARGE',
  );
  assert.equal(new HttpParseError('H1_RESPONSE_HEAD_TOO_LARGE', true).status, 502);
});

test('a response body ends by its length, its last chunk, the method, its status, or the close', () => {
  const len = new BodyFraming(res('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n'), 'GET');
  assert.equal(len.mode, BODY_LENGTH);
  assert.equal(len.extent(b('abcd')), 4);
  assert.equal(len.isEnded, false);
  assert.equal(len.extent(b('efGARBAGE')), 2, 'bytes after the end are not the body');
  assert.equal(len.isEnded, true);

  const ch = new BodyFraming(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), 'GET');
  assert.equal(ch.mode, BODY_CHUNKED);
  assert.equal(ch.extent(b('3\r\nabc\r\n')), 8);
  assert.equal(ch.extent(b('0\r\n\r\nextra')), 5);
  assert.equal(ch.isEnded, true);
  assert.equal(
    code(() => new BodyFraming(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'), 'GET').extent(b('zz\r\n'))),
    'H1_CHUNK_SIZE',
  );

  for (const [text, method] of [
    ['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n', 'HEAD'],
    ['HTTP/1.1 204 No Content\r\n\r\n', 'GET'],
    ['HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n', 'GET'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 'GET'],
  ]) {
    const f = new BodyFraming(res(text), method);
    assert.equal(f.mode, BODY_NONE, text);
    assert.equal(f.isEnded, true);
  }
  const close = new BodyFraming(res('HTTP/1.0 200 OK\r\n\r\n'), 'GET');
  assert.equal(close.mode, BODY_UNTIL_CLOSE);
  assert.equal(close.extent(b('anything')), 8);
  assert.equal(close.isEnded, false);
});

test('a request body: its length, its chunks, the next pipelined request after it, and the size limit', () => {
  const none = new RequestBody(req('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), 100);
  assert.equal(none.isDone, true);
  const len = new RequestBody(req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n'), 100);
  assert.equal(len.isDone, false);
  assert.equal(len.take(b('ab')), 2);
  assert.equal(len.take(b('cdGET / HTTP/1.1')), 2);
  assert.equal(len.isDone, true);
  assert.equal(len.bytes, 4);

  const big = new RequestBody(req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n'), 100);
  assert.equal(big.isTooLarge, true);
  assert.equal(big.isDone, true, 'refused before any of it is read');

  const ch = new RequestBody(req('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'), 100);
  assert.equal(ch.take(b('2\r\nab\r\n0\r\n\r\nGET /next')), 12);
  assert.equal(ch.isDone, true);
  const over = new RequestBody(req('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'), 100);
  over.take(b(`40\r\n${'a'.repeat(64)}\r\n`));
  assert.equal(
    code(() => over.take(b(`40\r\n${'a'.repeat(64)}\r\n`))),
    'H1_BODY_TOO_LARGE',
  );
});

test('a server connection stays open by version and Connection (RFC 9112 §9.3)', () => {
  assert.equal(keepsServerConnection(res('HTTP/1.1 200 OK\r\n\r\n')), true);
  assert.equal(keepsServerConnection(res('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n')), false);
  assert.equal(keepsServerConnection(res('HTTP/1.0 200 OK\r\n\r\n')), false);
  assert.equal(keepsServerConnection(res('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n')), true);
});
