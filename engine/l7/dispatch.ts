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
 * take a server's last slot; the caller gives it back with `release`.
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
}

export function choose(rt: ServiceRuntime, req: ChooseRequest, isRetryFromQueue = false): void {
  const sticky = rt.persistent(req.persistentName, req.exclude);
  if (sticky && !sticky.isFull) {
    sticky.active++;
    req.done({ server: sticky, isPersistent: true });
    return;
  }
  const pick = sticky ? ({ kind: 'full' } as const) : rt.pick(req.group, req.hashKey, req.exclude);
  if (pick.kind === 'server') {
    pick.server.active++;
    req.done({ server: pick.server, isPersistent: false });
    return;
  }
  if (pick.kind === 'none') {
    const fb = rt.fallback;
    if (fb && !req.exclude?.has(fb)) {
      fb.active++;
      req.done({ server: fb, isPersistent: false });
    } else req.done({ error: 'none' });
    return;
  }
  const queue = rt.state.queue;
  const max = rt.plan.layer7.limits.maxQueue;
  if (!isRetryFromQueue && queue.length >= max) {
    req.done({ error: 'queue-full' });
    return;
  }
  const waiter = {
    retry: () => {
      req.cancel = undefined;
      choose(rt, req, true);
    },
    timer: setTimeout(() => {
      const i = queue.indexOf(waiter);
      if (i !== -1) queue.splice(i, 1);
      req.cancel = undefined;
      req.done({ error: 'queue-timeout' });
    }, rt.plan.layer7.timeouts.queueMs),
  };
  // A waiter that was woken but found everything full again goes back to the front: it has waited longest.
  if (isRetryFromQueue) queue.unshift(waiter);
  else queue.push(waiter);
  req.cancel = () => {
    clearTimeout(waiter.timer);
    const i = queue.indexOf(waiter);
    if (i !== -1) queue.splice(i, 1);
  };
}

/** Gives a server's slot back and lets the longest waiter try again. */
export function release(rt: ServiceRuntime, server: ServerState): void {
  server.active--;
  if (rt.state.queue.length > 0) rt.state.wakeOne();
}
