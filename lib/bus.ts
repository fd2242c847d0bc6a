/**
 * The console's in-process event bus: route handlers publish (a change was staged, an apply finished), the
 * WebSocket feed relays to browsers. Kept on globalThis because Next's bundle and the custom server load separate
 * copies of this module in one process.
 */
import { EventEmitter } from 'node:events';

export type ConsoleEvent =
  | { type: 'candidate-changed'; at: string; by: string }
  | { type: 'audit'; at: string; action: string; actor: string; outcome: string }
  | { type: 'engine'; at: string; event: unknown }
  | { type: 'engine-connection'; at: string; isConnected: boolean }
  /** The HA pair changed (lib/ha/): the peer's status, a sync, pairing or a hand-over; the HA page reads it again. */
  | { type: 'ha'; at: string; what: 'peer' | 'sync' | 'pairing' | 'handover' };

const g = globalThis as unknown as { __fulcrumBus?: EventEmitter };

export function bus(): EventEmitter {
  g.__fulcrumBus ??= new EventEmitter().setMaxListeners(1000);
  return g.__fulcrumBus;
}

export function publish(e: ConsoleEvent): void {
  bus().emit('event', e);
}
