/**
 * Entry of a layer 7 worker process (node:cluster). It runs one Runtime and does what the primary says; it never
 * reads the configuration itself. It exits when the primary says close, or when the IPC channel goes (the primary
 * died: a worker without its primary would keep serving a configuration nobody can change).
 */
import { Runtime } from './runtime.ts';
import type { FromWorker, ToWorker } from './messages.ts';
import { SlotClient } from './slots.ts';
import { setAccessLog } from './access.ts';
import { openAccessLog, type AccessFile } from './access-file.ts';

const send = (m: FromWorker) => {
  if (process.connected) process.send!(m);
};

let runtime: Runtime | null = null;
/** This worker's access log (access.ts), opened before 'ready'; flushed before the worker exits. */
let accessLog: AccessFile | null = null;
const flushed = () => accessLog?.close() ?? Promise.resolve();
const slots = new SlotClient(send);
let queue: Promise<unknown> = Promise.resolve();

process.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'init':
      runtime = new Runtime(Buffer.from(m.ticketKeys, 'base64'), (table, key, entry) => send({ t: 'stick', table, key, entry }), slots);
      for (const [table, key, entry] of m.stick) runtime.mergeStick(table, key, entry);
      break;
    case 'apply':
      // Applies run one after another, in the order the primary sent them.
      queue = queue.then(async () => {
        const reports = await runtime!.apply(m.plans, m.same);
        send({ t: 'applied', id: m.id, reports });
      });
      break;
    case 'servers':
      // In order with applies: a change computed after an apply must not land before it.
      queue = queue.then(() => {
        runtime?.updateServers(m.changes);
        send({ t: 'applied', id: m.id, reports: [] });
      });
      break;
    case 'stats':
      send({ t: 'stats', id: m.id, snapshot: runtime ? runtime.snapshot() : {} });
      break;
    case 'stick':
      runtime?.mergeStick(m.table, m.key, m.entry);
      break;
    case 'slot':
      slots.answered(m.id, m.isGranted);
      break;
    case 'slot-free':
      runtime?.slotFreed(m.key);
      break;
    case 'close':
      void queue.then(async () => {
        await runtime?.close(m.graceMs);
        await flushed();
        process.exit(0);
      });
      break;
  }
});

process.on('disconnect', () => {
  void (runtime?.close(1000) ?? Promise.resolve()).then(flushed).then(() => process.exit(0));
});

process.on('uncaughtException', (err) => {
  send({ t: 'log', level: 'error', msg: `layer 7 worker ${process.pid}: ${err.stack ?? err.message}` });
});

const file = process.env.FULCRUM_L7_ACCESS_LOG;
if (file) {
  try {
    // A full disk costs lines, never the worker: beyond 64 KiB waiting they are dropped, and the engine log says so
    // at most once a minute (access-file.ts).
    accessLog = await openAccessLog({
      file,
      size: process.env.FULCRUM_L7_ACCESS_LOG_SIZE ?? '10m',
      keep: Number(process.env.FULCRUM_L7_ACCESS_LOG_KEEP ?? 5),
      onError: (msg) => send({ t: 'log', level: 'error', msg: `layer 7 worker ${process.pid}: ${msg}` }),
      onResume: (msg) => send({ t: 'log', level: 'info', msg: `layer 7 worker ${process.pid}: ${msg}` }),
    });
    setAccessLog(accessLog);
  } catch (err) {
    // Serving without an access log beats not serving; the engine log says why.
    send({ t: 'log', level: 'error', msg: `layer 7 worker ${process.pid}: no access log (${(err as Error).message})` });
  }
}
send({ t: 'ready' });
