/**
 * The SyncPort (sync-daemon.ts) the engine uses: IPVS sync daemon calls made by a child process (sync-child.ts says
 * why), so a slow kernel never stalls the engine's event loop, which answers keepalived's track script. Forked on
 * first use; a child that died is forked again by the next call, and the calls it had not answered fail with their
 * reason (the follower then reports HA_SYNC_FAILED and tries again on the next change).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../errors.ts';
import type { ExecResult } from '../l4/client.ts';
import type { SyncDaemon } from '../l4/model.ts';
import type { SyncReply, SyncRequest } from './sync-child.ts';
import type { SyncPort } from './sync-daemon.ts';

const IS_SOURCE = import.meta.url.endsWith('.ts');
const CHILD_ENTRY = fileURLToPath(new URL(IS_SOURCE ? './sync-child.ts' : './sync-child.js', import.meta.url));

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type Req = { op: 'daemons' } | { op: 'start'; daemon: SyncDaemon } | { op: 'stop'; state: SyncDaemon['state'] };

const asError = (e: { code?: string; message: string }) => Object.assign(new Error(e.message), e.code ? { code: e.code } : {});

/** While a call waits for its answer the child keeps this process alive; idle, it does not (the engine's own work does). */
function busy(c: ChildProcess): void {
  c.ref();
  (c.channel as { ref?: () => void } | undefined)?.ref?.();
}
function idle(c: ChildProcess): void {
  c.unref();
  (c.channel as { unref?: () => void } | undefined)?.unref?.();
}

/** Forks the child and waits until it has opened IPVS; rejects with its reason (IPVS_UNAVAILABLE …) if it cannot. */
export async function openSyncProcess(): Promise<SyncPort> {
  let child: ChildProcess | undefined;
  let ready: Promise<ChildProcess> | undefined;
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const start = () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const hasLoader = process.execArgv.some((a) => a.includes('tsx')) || (process.env.NODE_OPTIONS ?? '').includes('tsx');
      const c = fork(CHILD_ENTRY, [], {
        execArgv: [...process.execArgv.filter((a) => !a.startsWith('--inspect')), ...(IS_SOURCE && !hasLoader ? ['--import', 'tsx'] : [])],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      c.on('message', (m: SyncReply) => {
        if ('ready' in m) {
          idle(c);
          return resolve(c);
        }
        if ('openError' in m) return reject(asError(m.openError));
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (pending.size === 0) idle(c);
        if ('error' in m) p.reject(asError(m.error));
        else p.resolve(m.value);
      });
      // Every time, not once: a send to a child that just died is an 'error' event too, and an unheard one would end
      // the engine. The exit handler below fails the calls still waiting.
      c.on('error', reject);
      c.once('exit', (code, signal) => {
        if (child === c) child = undefined;
        ready = undefined;
        const why = new EngineError('HA_SYNC_FAILED', { state: 'any', reason: `the sync daemon helper process ended (${signal ?? `exit code ${code}`})` });
        reject(why);
        for (const [id, p] of pending) {
          pending.delete(id);
          p.reject(why);
        }
      });
      child = c;
    });
  const call = async (req: Req): Promise<unknown> => {
    const c = await (ready ??= start());
    const id = nextId++;
    busy(c);
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      c.send({ id, ...req } as SyncRequest);
    });
  };
  ready = start();
  await ready;
  return {
    daemons: async () => (await call({ op: 'daemons' })) as SyncDaemon[],
    startDaemon: async (daemon) => (await call({ op: 'start', daemon })) as ExecResult,
    stopDaemon: async (state) => (await call({ op: 'stop', state })) as ExecResult,
    close: () => {
      child?.kill();
      child = undefined;
    },
  };
}
