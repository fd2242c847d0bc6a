/**
 * Choosing a real server for one request (http) or connection (tcp), with the wait queue:
 *
 *   persistent server usable and not full ─► it
 *   scheduler picks among open servers     ─► that one
 *   every candidate at its maximum         ─► wait in the service's queue (bounded; queue timeout → 503)
 *   no candidate at all                    ─► the fallback server, else `none` (the caller answers 503 or the
 *                                             maintenance page)
 *
 * The chosen server's in-flight count is raised here, before the callback, so two requests in one tick cannot both
 * take a server's last slot; the caller gives it back with `release`. In a cluster worker a server with a maximum
 * also needs a slot from the primary (slots.ts), so `done` may come later, after an IPC round trip; servers without a
 * maximum never wait for it.
 */
import type { ServerState, ServiceRuntime } from './service.ts';

export type Choice = { server: ServerState; isPersistent: boolean } | { error: 'none' | 'queue-full' | 'queue-timeout' };

export interface ChooseRequest {
  group: string;
  hashKey: string;
  /** The server persistence points at, if any. */
  persistentName?: string;
  /** Servers that already failed this request. */
  exclude: Set<ServerState> | null;
  /** Called when the choice is made (maybe synchronously). */
  done(choice: Choice): void;
  /** Set while queued, so a client that goes away can leave the queue. */
  cancel?: () => void;
  /**
   * True once the client went away. Read after an answer from the primary (slots.ts), when no cancel was set: a
   * request that is gone must not queue, or it would hold a queue place for nobody.
   */
  readonly isGone?: boolean;
}

/**
 * `deadline` is when a queued request gives up (Date.now() ms), set the first time it queues and kept when a woken
 * waiter finds every server full again: the queue timeout counts from the first queueing, not from the last wake.
 * `isFront`: such a woken waiter goes back to the front of the queue, it has waited longest.
 *
 * In a cluster worker the queue bound is the cluster's too: a request takes a queue place from the primary before
 * it queues (slots.ts, key `<service>\0`) and gives it back when its wait ends, however it ends (settle, cancel).
 */
export function choose(rt: ServiceRuntime, req: ChooseRequest, deadline?: number, isFront = deadline !== undefined): void {
  const sticky = rt.persistent(req.persistentName, req.exclude);
  if (sticky && !sticky.isFull) return take(rt, req, sticky, true, deadline);
  const pick = sticky ? ({ kind: 'full' } as const) : rt.pick(req.group, req.hashKey, req.exclude);
  if (pick.kind === 'server') return take(rt, req, pick.server, false, deadline);
  if (pick.kind === 'none') {
    const fb = rt.fallback;
    if (fb && !req.exclude?.has(fb)) {
      fb.active++;
      settle(rt, req, { server: fb, isPersistent: false }, deadline);
    } else settle(rt, req, { error: 'none' }, deadline);
    return;
  }
  const queue = rt.state.queue;
  const max = rt.plan.layer7.limits.maxQueue;
  const slots = rt.state.slots;
  if (deadline === undefined) {
    if (queue.length >= max) return req.done({ error: 'queue-full' });
    if (slots !== undefined) {
      // Choose again once the place is granted: a slot may have been freed while the primary answered.
      slots.acquire(queueKey(rt), max, (isGranted) => {
        if (!isGranted) return req.done({ error: 'queue-full' });
        const until = Date.now() + rt.plan.layer7.timeouts.queueMs;
        if (req.isGone) return settle(rt, req, { error: 'queue-timeout' }, until);
        choose(rt, req, until, false);
      });
      return;
    }
  }
  const until = deadline ?? Date.now() + rt.plan.layer7.timeouts.queueMs;
  const waiter = {
    retry: () => {
      req.cancel = undefined;
      choose(rt, req, until);
    },
    timer: setTimeout(
      () => {
        const i = queue.indexOf(waiter);
        if (i !== -1) queue.splice(i, 1);
        req.cancel = undefined;
        settle(rt, req, { error: 'queue-timeout' }, until);
      },
      Math.max(0, until - Date.now()),
    ),
  };
  if (isFront) queue.unshift(waiter);
  else queue.push(waiter);
  req.cancel = () => {
    clearTimeout(waiter.timer);
    const i = queue.indexOf(waiter);
    if (i !== -1) queue.splice(i, 1);
    if (slots !== undefined) slots.release(queueKey(rt));
  };
}

/** The primary's queue place of a service: a slot key with no server. */
const queueKey = (rt: ServiceRuntime) => `${rt.state.name}\u0000`;

/** Delivers the choice; a request that had queued (deadline set) gives its cluster queue place back first. */
function settle(rt: ServiceRuntime, req: ChooseRequest, choice: Choice, deadline: number | undefined): void {
  if (deadline !== undefined && rt.state.slots !== undefined) rt.state.slots.release(queueKey(rt));
  req.done(choice);
}

/**
 * Takes a slot of `server` for the request. A limited server in a cluster worker also needs the primary's slot
 * (slots.ts): the local count is raised at once (so this worker cannot over-ask), and a denial marks the server full
 * and chooses again, which queues the request if every server is full.
 */
function take(rt: ServiceRuntime, req: ChooseRequest, server: ServerState, isPersistent: boolean, deadline: number | undefined): void {
  server.active++;
  const slots = rt.state.slots;
  if (slots === undefined || server.plan.maxConnections === 0) return settle(rt, req, { server, isPersistent }, deadline);
  slots.acquire(rt.state.slotKey(server), server.plan.maxConnections, (isGranted) => {
    if (isGranted) {
      server.clusterSlots++;
      settle(rt, req, { server, isPersistent }, deadline);
      return;
    }
    server.active--;
    server.isClusterFull = true;
    if (req.isGone) return settle(rt, req, { error: 'none' }, deadline);
    choose(rt, req, deadline);
  });
}

/** Gives a server's slot back and lets the longest waiter try again. */
export function release(rt: ServiceRuntime, server: ServerState): void {
  server.active--;
  if (server.clusterSlots > 0) {
    // The primary's slot-free wakes a waiter here and in every other worker.
    server.clusterSlots--;
    rt.state.slots!.release(rt.state.slotKey(server));
  }
  if (rt.state.queue.length > 0) rt.state.wakeOne();
}
