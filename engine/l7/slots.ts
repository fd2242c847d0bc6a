/**
 * Connection slots of real servers that have a maximum, shared by every worker.
 *
 * A worker counts only its own requests, so a per-worker limit cannot be exact. The primary therefore owns one
 * counter per limited server (the ledger) and workers ask it for a slot over the cluster IPC channel:
 *
 *   worker                                   primary (SlotLedger)
 *   ── slot-acquire {id, key, max} ───────►  used < max ? used++, granted : denied
 *   ◄─ slot {id, isGranted} ──────────────
 *   ── slot-release {key} ───────────────►   used--
 *   ◄─ slot-free {key} (to every worker) ──  a waiter anywhere may try again
 *
 * A denied worker marks the server full until the next slot-free for it. The primary answers an acquire before it
 * can send a later slot-free, and one channel keeps its order, so a worker never misses the free that follows its
 * denial. Only servers with a maximum pay for this; the others never leave the worker. The ledger also knows which
 * worker holds which slots, so a worker that dies gives its slots back (SlotLedger.dropWorker).
 *
 * The same counter bounds the wait queue for the cluster: a request that must wait takes a place under the key
 * `<service>\0` (max = limits.maxQueue) and gives it back when its wait ends (dispatch.ts). Only services with a
 * limited server ever queue, so the others pay nothing here either.
 */

/** `<service>\0<server key>`: one counter per real server of one service. */
export function slotKey(service: string, serverKey: string): string {
  return `${service}\u0000${serverKey}`;
}

/** The worker's side: asks the primary and calls back with its answer. */
export class SlotClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (isGranted: boolean) => void>();
  private readonly send: (m: { t: 'slot-acquire'; id: number; key: string; max: number } | { t: 'slot-release'; key: string }) => void;

  constructor(send: SlotClient['send']) {
    this.send = send;
  }

  acquire(key: string, max: number, answer: (isGranted: boolean) => void): void {
    const id = this.nextId++;
    this.waiting.set(id, answer);
    this.send({ t: 'slot-acquire', id, key, max });
  }

  release(key: string): void {
    this.send({ t: 'slot-release', key });
  }

  answered(id: number, isGranted: boolean): void {
    const answer = this.waiting.get(id);
    this.waiting.delete(id);
    answer?.(isGranted);
  }
}

/** The primary's side: slots in use per server, and who holds them. */
export class SlotLedger {
  private readonly used = new Map<string, number>();
  private readonly held = new Map<number, Map<string, number>>(); // by worker id

  /** `max` comes with the request (the worker's plan), so a reload that changes it applies to the next acquire. */
  acquire(worker: number, key: string, max: number): boolean {
    const n = this.used.get(key) ?? 0;
    if (n >= max) return false;
    this.used.set(key, n + 1);
    let h = this.held.get(worker);
    if (!h) this.held.set(worker, (h = new Map()));
    h.set(key, (h.get(key) ?? 0) + 1);
    return true;
  }

  /** False when the worker held no such slot (nothing was freed, nobody needs waking). */
  release(worker: number, key: string): boolean {
    const h = this.held.get(worker);
    const mine = h?.get(key) ?? 0;
    if (mine === 0) return false;
    if (mine === 1) h!.delete(key);
    else h!.set(key, mine - 1);
    const n = (this.used.get(key) ?? 1) - 1;
    if (n <= 0) this.used.delete(key);
    else this.used.set(key, n);
    return true;
  }

  /** A worker is gone: every slot it held is free again. Returns the keys freed. */
  dropWorker(worker: number): string[] {
    const h = this.held.get(worker);
    this.held.delete(worker);
    if (!h) return [];
    for (const [key, mine] of h) {
      const n = (this.used.get(key) ?? 0) - mine;
      if (n <= 0) this.used.delete(key);
      else this.used.set(key, n);
    }
    return [...h.keys()];
  }

  inUse(key: string): number {
    return this.used.get(key) ?? 0;
  }
}
