/**
 * The IPVS connection sync daemon's kernel calls, in a child process of the engine (sync-process.ts forks it).
 *
 * Starting or stopping a sync daemon runs inside the netlink sendmsg (the kernel starts or stops its threads under
 * the RTNL lock before it answers), and the engine's own netlink socket is synchronous: in a busy kernel that took
 * over 3 s (the test kernel, right after a takeover), and the engine's event loop could not answer keepalived's
 * track script meanwhile, so a node that had just become MASTER faulted for nothing. Here the wait blocks only
 * this process.
 *
 * Protocol (IPC): in { id, op: 'daemons' | 'start' | 'stop', daemon?, state? }; out { ready } or { openError } once,
 * then { id, value } or { id, error } per request.
 */
import { IpvsClient } from '../l4/client.ts';
import type { SyncDaemon } from '../l4/model.ts';

export type SyncRequest = { id: number; op: 'daemons' } | { id: number; op: 'start'; daemon: SyncDaemon } | { id: number; op: 'stop'; state: SyncDaemon['state'] };
export type SyncReply = { ready: true } | { openError: { code?: string; message: string } } | { id: number; value: unknown } | { id: number; error: { code?: string; message: string } };

const send = (m: SyncReply) => process.send!(m);
const errorOf = (e: unknown) => ({ code: (e as { code?: string }).code, message: (e as Error).message });

try {
  const ipvs = await IpvsClient.open();
  process.on('message', (m: SyncRequest) => {
    const work = m.op === 'daemons' ? ipvs.daemons() : m.op === 'start' ? ipvs.startDaemon(m.daemon) : ipvs.stopDaemon(m.state);
    work.then(
      // An ExecResult's error is an EngineError: its code and sentence travel, not the object.
      (value) => send({ id: m.id, value: value && typeof value === 'object' && 'error' in value && value.error ? { ...value, error: errorOf(value.error) } : value }),
      (e) => send({ id: m.id, error: errorOf(e) }),
    );
  });
  // The engine going away ends this process too.
  process.on('disconnect', () => process.exit(0));
  send({ ready: true });
} catch (e) {
  send({ openError: errorOf(e) });
  process.exit(0);
}
