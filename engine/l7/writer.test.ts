import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connectDirect, pauseReading } from './reader.ts';
import { hasPendingWrites, writeDirect } from './writer.ts';

/** A server that reads nothing until told to, then collects every byte. */
async function sink(): Promise<{ port: number; start(): void; received: Promise<Buffer>; close(): void }> {
  let peer: net.Socket | null = null;
  let isStarted = false;
  let resolveGot: (b: Buffer) => void = () => undefined;
  const received = new Promise<Buffer>((r) => (resolveGot = r));
  const server = net.createServer((s) => {
    peer = s;
    s.pause();
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => resolveGot(Buffer.concat(chunks)));
    if (isStarted) s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    start() {
      isStarted = true;
      peer?.resume();
    },
    received,
    close: () => server.close(),
  };
}

test('writeDirect: in order across strings, buffers and Writable writes; false while libuv holds bytes, then drain', async () => {
  const k = await sink();
  const s = connectDirect('127.0.0.1', k.port);
  await new Promise((r) => s.once('connect', r));
  const expected: Buffer[] = [];
  const chunk = Buffer.alloc(64 * 1024);
  let i = 0;
  let isOk = true;
  // Fill the kernel's buffers: a write must end up held by libuv.
  while (isOk && i < 10_000) {
    chunk.fill(i % 251);
    const b = Buffer.from(chunk);
    expected.push(b);
    isOk = writeDirect(s, b);
    i++;
  }
  assert.equal(isOk, false, 'a peer that reads nothing makes a write wait');
  assert.equal(hasPendingWrites(s), true);
  // While bytes wait in libuv, more writes queue behind them, direct or through Writable.
  expected.push(Buffer.from('tail-direct;', 'latin1'));
  writeDirect(s, 'tail-direct;');
  s.cork();
  expected.push(Buffer.from('corked;'));
  writeDirect(s, 'corked;');
  s.uncork();
  expected.push(Buffer.from('after'));
  writeDirect(s, 'after');
  const drained = new Promise((r) => s.once('drain', r));
  k.start();
  await drained;
  s.end();
  const got = await k.received;
  assert.equal(got.length, Buffer.concat(expected).length);
  assert.ok(got.equals(Buffer.concat(expected)), 'every byte, in the order written');
  assert.equal(hasPendingWrites(s), false);
  k.close();
});

test('writeDirect: a write that fails destroys the socket with the error', async () => {
  let reset: () => void = () => undefined;
  const wasReset = new Promise<void>((r) => (reset = r));
  // The server resets the connection once the client has stopped reading; its 'close' comes after the RST went out
  // (on loopback the client's kernel has it by then), so no sleep is needed before the write.
  let accepted: net.Socket | undefined;
  const server = net.createServer((c) => (accepted = c));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const s = connectDirect('127.0.0.1', (server.address() as net.AddressInfo).port);
  const errors: string[] = [];
  s.on('error', (e: NodeJS.ErrnoException) => errors.push(e.syscall ?? ''));
  const closed = new Promise((r) => s.once('close', r));
  await new Promise((r) => s.once('connect', r));
  // Not reading: only the write can find out that the peer reset the connection.
  pauseReading(s);
  while (!accepted) await new Promise((r) => setImmediate(r));
  accepted.once('close', () => reset()).resetAndDestroy();
  await wasReset;
  assert.equal(writeDirect(s, 'x'), false);
  await closed;
  assert.deepEqual(errors, ['write']);
  server.close();
});
