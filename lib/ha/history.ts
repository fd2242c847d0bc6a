/**
 * Failover history: the engine's HA events (keepalived's notify FIFO lines as VRRP state changes, keepalived
 * starting and exiting, the sync daemon changing side), recorded as this console hears them on the engine's event
 * stream (lib/live.ts relays it on the bus). The engine keeps no log of them to catch up from, so what happens while
 * the console is down is not here; the engine's log (engine.log) has it. Kept: the newest MAX_ROWS.
 */
import { bus, type ConsoleEvent } from '../bus.ts';
import { db } from '../db.ts';
import { log } from '../log.ts';
import type { HaEvent } from '../../engine/api-types.ts';

const MAX_ROWS = 10_000;

export async function recordHaEvent(e: HaEvent): Promise<void> {
  await db().haEventLog.create({
    data: {
      at: new Date(e.at),
      node: e.node ?? null,
      kind: e.kind,
      instance: e.instance ?? null,
      state: e.state,
      previous: e.previous ?? null,
      message: e.message,
    },
  });
  const cut = await db().haEventLog.findFirst({ orderBy: { id: 'desc' }, skip: MAX_ROWS, select: { id: true } });
  if (cut) await db().haEventLog.deleteMany({ where: { id: { lte: cut.id } } });
}

export async function haHistory(opts: { limit: number; before?: number }) {
  return db().haEventLog.findMany({ where: opts.before ? { id: { lt: opts.before } } : {}, orderBy: { id: 'desc' }, take: opts.limit });
}

/** Listens on the bus for the engine's 'ha' events; returns the stop function. */
export function startHaHistory(): () => void {
  const on = (e: ConsoleEvent) => {
    if (e.type !== 'engine' || (e.event as { type?: string })?.type !== 'ha') return;
    recordHaEvent(e.event as HaEvent).catch((err) => log('error', 'could not record an HA event', { error: (err as Error).message }));
  };
  bus().on('event', on);
  return () => bus().off('event', on);
}
