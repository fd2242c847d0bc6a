import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ownership } from './ownership.ts';

test('ownership: recorded in the data directory, owner-only, read back by the next process', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-own-'));
  const a = new Ownership(dir);
  a.save();
  assert.equal(fs.existsSync(a.file), false, 'nothing owned, nothing written');
  a.services.add('tcp|4|192.0.2.10|80');
  a.labels.set('tcp|4|192.0.2.10|80', 'web');
  a.vips = [{ address: '192.0.2.10', prefix: 32, interface: 'eth0' }];
  a.save();
  assert.equal(fs.statSync(a.file).mode & 0o777, 0o600);
  const b = new Ownership(dir);
  assert.deepEqual([...b.services], ['tcp|4|192.0.2.10|80']);
  assert.equal(b.labels.get('tcp|4|192.0.2.10|80'), 'web');
  assert.deepEqual(b.vips, a.vips);
});

test('ownership: an unchanged record is not rewritten; a change is', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-own-'));
  const a = new Ownership(dir);
  a.services.add('fwm|4|7');
  a.save();
  const ino = fs.statSync(a.file).ino;
  const b = new Ownership(dir);
  b.services.add('fwm|4|7');
  b.save();
  assert.equal(fs.statSync(b.file).ino, ino, 'same file: not replaced');
  b.services.delete('fwm|4|7');
  b.save();
  assert.notEqual(fs.statSync(b.file).ino, ino, 'replaced by rename');
  assert.deepEqual(new Ownership(dir).services.size, 0);
});
