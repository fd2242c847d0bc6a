/** keepalived's notify FIFO lines, and the reader over a real FIFO: lines split across writes, writers that come and go. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NotifyFifo, parseNotifyLine, type NotifyLine } from './notify.ts';

test('notify: the lines keepalived 2.2.7 writes (seen in the test kernel) and ones that are not state changes', () => {
  const cases: [string, NotifyLine | undefined][] = [
    ['INSTANCE "fulcrum_eth0" MASTER 150', { kind: 'INSTANCE', name: 'fulcrum_eth0', state: 'MASTER', priority: 150 }],
    ['INSTANCE "fulcrum_eth0" BACKUP 100\n', { kind: 'INSTANCE', name: 'fulcrum_eth0', state: 'BACKUP', priority: 100 }],
    ['INSTANCE "fulcrum_eth1" FAULT 0', { kind: 'INSTANCE', name: 'fulcrum_eth1', state: 'FAULT', priority: 0 }],
    ['INSTANCE "fulcrum_eth0" STOP 150', { kind: 'INSTANCE', name: 'fulcrum_eth0', state: 'STOP', priority: 150 }],
    ['INSTANCE "fulcrum_eth0" DELETED 150', { kind: 'INSTANCE', name: 'fulcrum_eth0', state: 'DELETED', priority: 150 }],
    ['GROUP "fulcrum" MASTER', { kind: 'GROUP', name: 'fulcrum', state: 'MASTER' }],
    ['INSTANCE "fulcrum_eth0" MASTER_RX_LOWER_PRI 150', undefined],
    ['INSTANCE "fulcrum_eth0" MASTER_PRIORITY 140', undefined],
    ['VS [10.0.0.10]:tcp:80 UP', undefined],
    ['', undefined],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseNotifyLine(line), want, line);
});

test('notify: reads a real FIFO it creates, across partial writes and writers that close, until closed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-fifo-'));
  const file = path.join(dir, 'notify.fifo');
  const got: string[] = [];
  const other: string[] = [];
  const fifo = new NotifyFifo(
    file,
    (l) => got.push(`${l.name} ${l.state}`),
    (t) => other.push(t),
  );
  fifo.open();
  fifo.open(); // idempotent
  assert.equal(fs.statSync(file).isFIFO(), true);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  // Each append opens, writes and closes: keepalived restarting looks like this.
  fs.appendFileSync(file, 'INSTANCE "a" BACK');
  fs.appendFileSync(file, 'UP 100\nINSTANCE "a" MASTER 100\nsomething else\n');
  fs.appendFileSync(file, 'INSTANCE "b" FAULT 0\n');
  for (let i = 0; i < 100 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, ['a BACKUP', 'a MASTER', 'b FAULT']);
  assert.deepEqual(other, ['something else']);
  fifo.close();
  // A plain file where the FIFO belongs is replaced.
  fs.rmSync(file);
  fs.writeFileSync(file, 'stale');
  fifo.open();
  assert.equal(fs.statSync(file).isFIFO(), true);
  fifo.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
