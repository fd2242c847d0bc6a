import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { enableDirectReadTls, isReadingPaused, pauseReading, resumeReading, setReader } from './reader.ts';

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
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got.join(''), 'first;second;', 'nothing is read while paused');
  const third = new Promise<void>((r) => (wake = r));
  resumeReading(s);
  await third;
  assert.equal(got.join(''), 'first;second;third;');
  c.destroy();
  server.close();
});
