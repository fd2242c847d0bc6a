/**
 * connect and send-expect over real sockets on loopback: every verdict the checker can give. No test times
 * anything: timeouts are provoked with a peer that never answers and a short timeoutMs, and only the code is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { HealthCheckSchema, type HealthCheck } from '../config/index.ts';
import { connectCheck } from './connect.ts';
import type { CheckTarget } from './types.ts';
import { startBlackhole } from '../l7/test-helpers.ts';

async function server(onSocket: (s: net.Socket) => void): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    onSocket(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = await server(() => undefined);
  s.close();
  return s.port;
}

const target = (port: number, check: Partial<HealthCheck>): CheckTarget => ({
  address: '127.0.0.1',
  port,
  vip: '127.0.0.1',
  vipPort: 80,
  check: HealthCheckSchema.parse({ type: 'connect', timeoutMs: 300, intervalMs: 1000, ...check }),
});

test('connect: a listening port passes (L4OK) and the connection is reset, not left in TIME_WAIT', async (t) => {
  const closes: boolean[] = [];
  const s = await server((sock) => sock.on('close', (hadError) => closes.push(hadError)).on('error', () => undefined));
  t.after(() => s.close());
  const r = await connectCheck(target(s.port, {}));
  assert.equal(r.code, 'L4OK');
  assert.equal(r.isPass, true);
  assert.equal(r.message, `TCP connect to 127.0.0.1:${s.port} succeeded`);
  for (let i = 0; i < 100 && closes.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(closes, [true], 'the server saw a reset');
});

test('connect: a closed port is L4CON with the reason in words', async () => {
  const port = await closedPort();
  const r = await connectCheck(target(port, {}));
  assert.equal(r.code, 'L4CON');
  assert.equal(r.isPass, false);
  assert.match(r.message, new RegExp(`TCP connect to 127\\.0\\.0\\.1:${port} failed: connection refused`));
});

test('connect: a listener whose accept queue is full never completes the handshake: L4TOUT', async (t) => {
  const hole = await startBlackhole();
  t.after(() => hole.close());
  const r = await connectCheck(target(hole.port, { timeoutMs: 200 }));
  assert.equal(r.code, 'L4TOUT');
  assert.match(r.message, /No answer to a TCP connect to 127\.0\.0\.1:\d+ within 200 ms/);
});

test('send-expect: the expected text arriving in pieces passes (L7OK)', async (t) => {
  const s = await server((sock) =>
    sock.once('data', (d) => {
      assert.equal(d.toString(), 'PING\r\n');
      sock.write('+PO');
      setImmediate(() => sock.write('NG\r\n'));
    }),
  );
  t.after(() => s.close());
  const r = await connectCheck(target(s.port, { type: 'send-expect', sendExpect: { send: 'PING\r\n', expect: '+PONG', isRegex: false } }));
  assert.equal(r.code, 'L7OK');
  assert.match(r.message, /answered with the expected text "\+PONG"/);
});

test('send-expect: a banner matched by a regular expression, nothing sent', async (t) => {
  const s = await server((sock) => sock.write('220 smtp.example ESMTP ready\r\n'));
  t.after(() => s.close());
  const r = await connectCheck(target(s.port, { type: 'connect', sendExpect: { send: '', expect: '^220 ', isRegex: true } }));
  assert.equal(r.code, 'L7OK');
});

test('send-expect: the wrong answer then a close is L7RSP saying what came', async (t) => {
  const s = await server((sock) => sock.once('data', () => sock.end('-ERR unknown\r\n')));
  t.after(() => s.close());
  const r = await connectCheck(target(s.port, { type: 'send-expect', sendExpect: { send: 'PING\r\n', expect: '+PONG', isRegex: false } }));
  assert.equal(r.code, 'L7RSP');
  assert.match(r.message, /closed the connection after sending "-ERR unknown\\r\\n", without the expected text "\+PONG"/);
});

test('send-expect: connected but silent is L7TOUT', async (t) => {
  const s = await server(() => undefined);
  t.after(() => s.close());
  const r = await connectCheck(target(s.port, { type: 'send-expect', timeoutMs: 200, sendExpect: { send: 'PING\r\n', expect: '+PONG', isRegex: false } }));
  assert.equal(r.code, 'L7TOUT');
  assert.match(r.message, /Connected to 127\.0\.0\.1:\d+ but no answer within 200 ms/);
});

test('an aborted check settles at once', async (t) => {
  const s = await server(() => undefined);
  t.after(() => s.close());
  const ac = new AbortController();
  const pending = connectCheck({
    ...target(s.port, { type: 'send-expect', timeoutMs: 5000, intervalMs: 10_000, sendExpect: { send: 'x', expect: 'y', isRegex: false } }),
    signal: ac.signal,
  });
  ac.abort();
  const r = await pending;
  assert.equal(r.isPass, false);
  assert.match(r.message, /stopped/);
});
