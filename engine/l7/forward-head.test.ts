import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestHead, parseResponseHead } from './http-codec.ts';
import { forwardedFields, interimFields, keptLines, requestHeadText, type RequestClient } from './forward-head.ts';
import { FWD_APPEND, FWD_OFF, type Forwarding } from './forwarding.ts';

const req = (text: string) => {
  const b = Buffer.from(text, 'latin1');
  return parseRequestHead(b, b.indexOf('\r\n\r\n'));
};
const res = (text: string) => {
  const b = Buffer.from(text, 'latin1');
  return parseResponseHead(b, b.indexOf('\r\n\r\n'));
};
const client: RequestClient = { clientIp: '192.0.2.1', isTls: false, vipHost: () => '10.0.0.1:80' };
const off: Forwarding = { xff: FWD_OFF, xfp: FWD_OFF, forwarded: FWD_OFF };

test('the request goes on as it came, less what the codec replaced, plus the replacements', () => {
  const h = req('POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: Chunked\r\nX: 1\r\n\r\n');
  assert.equal(requestHeadText(h, h.target, off, [], client, undefined), 'POST /p HTTP/1.1\r\nHost: a\r\nX: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
  const abs = req('GET http://a.example/p?q HTTP/1.1\r\nX: 1\r\n\r\n');
  assert.equal(requestHeadText(abs, abs.target, off, [], client, undefined), 'GET /p?q HTTP/1.1\r\nX: 1\r\nHost: a.example\r\n\r\n');
  const none = req('GET / HTTP/1.0\r\n\r\n');
  assert.equal(requestHeadText(none, none.target, off, [], client, undefined), 'GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: 10.0.0.1:80\r\n\r\n');
  const bare = req('GET / HTTP/1.1\r\n\r\n');
  assert.equal(
    requestHeadText(bare, bare.target, { ...off, xff: FWD_APPEND }, [], client, undefined),
    'GET / HTTP/1.1\r\nHost: 10.0.0.1:80\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n',
  );
});

test('header rules see the replacements as fields', () => {
  const h = req('GET http://a.example/ HTTP/1.1\r\nX: 1\r\n\r\n');
  const rules = [{ action: 'set' as const, name: 'Host', value: 'b.example' }];
  assert.equal(requestHeadText(h, h.target, off, rules, client, undefined), 'GET / HTTP/1.1\r\nX: 1\r\nHost: b.example\r\n\r\n');
});

test('a response loses a length next to chunked, and a 1xx its framing fields', () => {
  const r = res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nKeep-Alive: 5\r\nX: 1\r\n\r\n');
  assert.equal(keptLines(r), 'Transfer-Encoding: chunked\r\nX: 1\r\n');
  assert.deepEqual(forwardedFields(r), ['Transfer-Encoding', 'chunked', 'X', '1']);
  const z = res('HTTP/1.1 200 OK\r\nContent-Length: 005\r\n\r\n');
  assert.equal(keptLines(z), 'Content-Length: 5\r\n');
  assert.deepEqual(interimFields(res('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\nContent-Length: 0\r\n\r\n')), ['Link', '</a>']);
});
