/**
 * The engine log on a real file: the line shape the console's viewer reads (time, level, src, msg, fields), secrets
 * redacted by the shared list, and rotation by size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createEngineLog } from './engine-log.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-engine-log-'));
const lines = (dir: string) =>
  fs
    .readdirSync(dir)
    .sort()
    .flatMap((f) =>
      fs
        .readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );

test('one JSON line per event in the old shape, with secrets redacted', async () => {
  const dir = tmp();
  const e = await createEngineLog({ file: path.join(dir, 'engine.log'), isStdout: false });
  e.log('warn', 'apply failed; previous version restored', { version: 7, reason: 'bind', password: 'hunter2', peer: { apiKey: 'k' } });
  e.log('info', 'applied');
  await e.close();
  const [a, b] = lines(dir);
  assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(
    { ...a, time: 0 },
    {
      time: 0,
      level: 'warn',
      src: 'engine',
      msg: 'apply failed; previous version restored',
      version: 7,
      reason: 'bind',
      password: '[redacted]',
      peer: { apiKey: '[redacted]' },
    },
  );
  assert.deepEqual([b.level, b.msg], ['info', 'applied']);
});

test('rotated by size, keeping the newest lines', async () => {
  const dir = tmp();
  const e = await createEngineLog({ file: path.join(dir, 'engine.log'), size: '1k', keep: 3, isStdout: false });
  for (let i = 0; i < 40; i++) {
    // pino-roll checks the size each time a write completes.
    const written = once(e.stream!, 'write');
    e.log('info', `event ${i} ${'x'.repeat(60)}`);
    await written;
  }
  await e.close();
  const files = fs.readdirSync(dir).filter((f) => /^engine\.\d+\.log$/.test(f));
  assert.ok(files.length >= 2, `rotated: ${files.join(', ')}`);
  // Oldest file first: the lines kept are the newest, in order, ending with the last one.
  const kept = files
    .sort((x, y) => Number(x.split('.')[1]) - Number(y.split('.')[1]))
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => Number(JSON.parse(l).msg.split(' ')[1]));
  assert.equal(kept.at(-1), 39);
  assert.deepEqual(
    kept,
    [...kept].sort((a, b) => a - b),
  );
  assert.ok(!kept.includes(0), 'the oldest lines went with their file (3 rotated files kept)');
  for (const f of files) assert.ok(fs.statSync(path.join(dir, f)).size < 2048, `${f} stays near the 1k limit`);
});
