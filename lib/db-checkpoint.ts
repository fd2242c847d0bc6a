/**
 * WAL checkpoints off the console's event loop.
 *
 * SQLite checkpoints on the commit that takes the WAL past `wal_autocheckpoint` pages (1,000 by default), on the
 * committing connection, synchronously: on the console's one connection that stalls whichever request commits then
 * for the copy into the database file and its fsyncs. A 1,000-service apply writes about a megabyte (its snapshot,
 * and the row again when its outcome is recorded), so every few applies a PUT, an apply's version row or its outcome
 * waited 30-80 ms here (bench:apply). A worker thread with its own connection runs a PASSIVE checkpoint every
 * INTERVAL_MS instead: it neither waits for nor blocks a writer or a reader, and one with nothing to copy costs about
 * 0.1 ms. The console's connection keeps an automatic checkpoint at BACKSTOP_PAGES, so the WAL stays bounded if the
 * worker cannot keep up or is gone.
 *
 * The worker only checkpoints: it never writes a row, and an error (the disk full, the file locked by another
 * process) is left for the next turn, as SQLite's own automatic checkpoint ignores its failure.
 */
import { Worker } from 'node:worker_threads';

export const INTERVAL_MS = 200;
/** About 40 MB of WAL (4 KiB pages): tens of 1,000-service applies. */
export const BACKSTOP_PAGES = 10_000;

// CommonJS, evaluated by the worker: better-sqlite3 is found from the working directory, like prisma/migrations.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');
let db;
function turn() {
  try {
    db ??= new Database(workerData.file, { fileMustExist: true, timeout: 0 });
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (workerData.isReporting) parentPort.postMessage(r);
  } catch (e) {
    if (workerData.isReporting) parentPort.postMessage({ error: String(e && e.code || e) });
  }
}
const timer = setInterval(turn, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  clearInterval(timer);
  try { db?.close(); } catch {}
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the worker (its connection closed); resolves once it has exited. */
  stop(): Promise<void>;
  /** The worker's thread, for the tests: with `isReporting` it posts each turn's { busy, log, checkpointed }. */
  readonly worker: Worker;
}

/** Starts checkpointing `file` (a database in WAL mode) every INTERVAL_MS; the worker never keeps the process alive. */
export function startCheckpointer(file: string, opts: { isReporting?: boolean; intervalMs?: number } = {}): Checkpointer {
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { file, intervalMs: opts.intervalMs ?? INTERVAL_MS, isReporting: opts.isReporting === true },
  });
  // A worker that failed (better-sqlite3 not loadable) leaves the backstop checkpoint doing the work.
  worker.on('error', () => undefined);
  worker.unref();
  let isExited = false;
  worker.once('exit', () => (isExited = true));
  return {
    worker,
    stop: () =>
      new Promise<void>((resolve) => {
        if (isExited) return resolve();
        worker.once('exit', () => resolve());
        // Held until it has exited: a caller awaiting stop() as its last work (a test's after hook) must see it end.
        worker.ref();
        worker.postMessage('close');
        // A worker that does not exit by itself soon (it cannot: its thread is stuck) is ended.
        setTimeout(() => void worker.terminate(), 1000).unref();
      }),
  };
}
