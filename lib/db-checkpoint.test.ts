import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { startCheckpointer } from './db-checkpoint.ts';

test("the worker's checkpoints copy every frame a writer that never checkpoints left in the WAL, and stop() ends it", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-ckpt-'));
  const file = path.join(dir, 'x.db');
  const writer = new Database(file);
  try {
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = writer.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < 8; i++) insert.run('x'.repeat(256 * 1024));
    const c = startCheckpointer(file, { isReporting: true, intervalMs: 10 });
    c.worker.ref(); // unref'd for the console (it must not keep a process alive); this test waits on it
    // Each turn reports { busy, log, checkpointed } (frames in the WAL, frames copied into the database file).
    const done = await new Promise<{ log: number; checkpointed: number }>((resolve, reject) => {
      c.worker.on('message', (r: { log?: number; checkpointed?: number; error?: string }) => {
        if (r.error) reject(new Error(r.error));
        else if (r.log! > 500 && r.checkpointed === r.log) resolve(r as { log: number; checkpointed: number });
      });
    });
    assert.ok(done.log > 500, `the WAL held the 2 MB written (${done.log} frames)`);
    let exited = false;
    c.worker.once('exit', () => (exited = true));
    await c.stop();
    assert.ok(exited, 'stop() resolves once the worker has exited');
    // The writer's own passive checkpoint finds nothing left to copy.
    const [r] = writer.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
    assert.equal(r.checkpointed, r.log);
  } finally {
    writer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
