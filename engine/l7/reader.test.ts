import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import { enableDirectReadTls, isReadingPaused, pauseReading, resumeReading, setReader } from './reader.ts';

/** Bytes waiting in the kernel, not yet read by the process, on the IPv4 TCP socket local:remote (/proc/net/tcp). */
function receiveQueue(localPort: number, remotePort: number): number {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  const row = fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(`:${hex(localPort)}`) && f[2]?.endsWith(`:${hex(remotePort)}`));
  return row ? parseInt(row[4].split(':')[1], 16) : 0;
}

test('switching a socket that already buffered bytes to direct reads hands those bytes over first, in order', async () => {
  let accepted: net.Socket | null = null;
  const server = net.createServer((s) => {
    s.pause();
    accepted = s;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  c.write('first;');
  while (accepted === null || (accepted as net.Socket).readableLength < 6) await new Promise((r) => setTimeout(r, 5));
  const s = accepted as net.Socket;
  const got: string[] = [];
  let wake: () => void = () => undefined;
  setReader(s, (chunk) => {
    got.push(chunk.toString('latin1'));
    wake();
  });
  assert.equal(enableDirectReadTls(s), true);
  assert.deepEqual(got, ['first;'], 'the buffered bytes, at once');
  const more = (text: string) =>
    new Promise<void>((r) => {
      wake = r;
      c.write(text);
    });
  await more('second;');
  pauseReading(s);
  assert.equal(isReadingPaused(s), true);
  c.write('third;');
  // The kernel holds the six bytes unread (its receive queue for this socket, /proc/net/tcp): they have arrived and
  // the paused reader has not taken them. A count to wait for, not a sleep to hope by.
  // A reader that reads anyway ends the wait too, and fails the assertion below.
  const turn = () => new Promise((r) => setImmediate(r));
  while (receiveQueue(s.localPort!, s.remotePort!) < 6 && !got.join('').includes('third')) await turn();
  // Two more turns of the event loop pass its poll phase, where a reader that was not paused would take them.
  await turn();
  await turn();
  assert.deepEqual([got.join(''), receiveQueue(s.localPort!, s.remotePort!)], ['first;second;', 6], 'nothing is read while paused');
  const third = new Promise<void>((r) => (wake = r));
  resumeReading(s);
  await third;
  assert.equal(got.join(''), 'first;second;third;');
  c.destroy();
  server.close();
});
