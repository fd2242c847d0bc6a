/**
 * decideAll (engine/server-state.ts) for a daemon that decides every server again on each apply, health change and
 * status read, in work proportional to what changed: at 1,000 services × 4 servers decideAll made ~0.9 MiB a call (a
 * key string, an options object and a decision per server, and a 4,000-entry Map, 0.37 MiB of it), all garbage the
 * next call made again.
 *
 * Same answers as decideAll, by construction: a server's decision is decideServer's on its operator state, configured
 * weight and its service's onDown (all from the service, which memo-parse.ts deep-freezes: a frozen service that is
 * the same object has the same fields) and on its health and feedback (asked afresh each call, and compared with
 * those it was last decided on: the monitor replaces a server's feedback object, never changes one). A service that
 * is not frozen (a configuration parsed whole, as on start) is decided afresh. Decisions are frozen, since they are
 * handed out again.
 *
 * The answer is a read-only map over one array of decisions, in the configuration's order, and an index from key to
 * place that is kept while the configuration's servers are the same ones in the same order (a weight or health
 * change), so a call makes one array. Each answer stays as it was given (a later call makes a new one).
 */
import type { Config, HealthState, VirtualService } from '../config/index.ts';
import { type ServerKey, serverKey } from '../dataplane.ts';
import { decideServer, type Feedback, onDownFor, type ServerDecision } from '../server-state.ts';

export type Decide = (
  config: Config,
  health: (key: ServerKey) => HealthState | undefined,
  feedback?: (key: ServerKey) => Feedback | undefined,
) => ReadonlyMap<ServerKey, ServerDecision>;

/** A service's servers as last decided: keys, the health and feedback each was decided on, and the decisions. */
interface Entry {
  keys: ServerKey[];
  health: (HealthState | undefined)[];
  feedback: (Feedback | undefined)[];
  decisions: ServerDecision[];
  pass: number;
}

/** A ReadonlyMap over `index` (key → place in `values`), as a Map filled in `values`' order would answer. */
class Decisions implements ReadonlyMap<ServerKey, ServerDecision> {
  constructor(
    private readonly index: ReadonlyMap<ServerKey, number>,
    private readonly list: readonly ServerDecision[],
  ) {}
  get size(): number {
    return this.index.size;
  }
  get(key: ServerKey): ServerDecision | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.list[i];
  }
  has(key: ServerKey): boolean {
    return this.index.has(key);
  }
  forEach(fn: (value: ServerDecision, key: ServerKey, map: ReadonlyMap<ServerKey, ServerDecision>) => void, thisArg?: unknown): void {
    this.index.forEach((i, key) => {
      fn.call(thisArg, this.list[i], key, this);
    });
  }
  keys() {
    return this.index.keys();
  }
  /** The rest iterate a Map made for the purpose (tests and logs iterate; the data planes look keys up). */
  private asMap(): Map<ServerKey, ServerDecision> {
    const out = new Map<ServerKey, ServerDecision>();
    this.index.forEach((i, key) => {
      out.set(key, this.list[i]);
    });
    return out;
  }
  values() {
    return this.asMap().values();
  }
  entries() {
    return this.asMap().entries();
  }
  [Symbol.iterator]() {
    return this.asMap().entries();
  }
}

const noFeedback = (): undefined => undefined;

function newEntry(vs: VirtualService): Entry {
  const n = vs.realServers.length;
  return { keys: vs.realServers.map((rs) => serverKey(vs.name, rs.name)), health: new Array(n), feedback: new Array(n), decisions: new Array(n), pass: 0 };
}

export function createDecider(): Decide {
  /** Frozen services of the last call, by object. */
  const entries = new Map<VirtualService, Entry>();
  let keys: ServerKey[] = [];
  let index = new Map<ServerKey, number>();
  let pass = 0;

  return (config, health, feedback = noFeedback) => {
    const now = ++pass;
    const services = config.virtualServices;
    let total = 0;
    for (let i = 0; i < services.length; i++) total += services[i].realServers.length;
    const list: ServerDecision[] = new Array(total);
    let isSameKeys = total === keys.length;
    let at = 0;
    let remembered = 0;
    for (let s = 0; s < services.length; s++) {
      const vs = services[s];
      const isFrozen = Object.isFrozen(vs);
      let entry = isFrozen ? entries.get(vs) : undefined;
      if (!entry) {
        entry = newEntry(vs);
        if (isFrozen) entries.set(vs, entry);
      }
      if (isFrozen && entry.pass !== now) remembered++;
      entry.pass = now;
      const onDown = onDownFor(vs);
      for (let i = 0; i < vs.realServers.length; i++) {
        const key = entry.keys[i];
        const h = health(key);
        const fb = feedback(key);
        if (entry.decisions[i] === undefined || entry.health[i] !== h || entry.feedback[i] !== fb) {
          const rs = vs.realServers[i];
          entry.decisions[i] = Object.freeze(decideServer(rs.state, h ?? 'unknown', rs.weight, { feedback: fb, onDown }));
          entry.health[i] = h;
          entry.feedback[i] = fb;
        }
        list[at] = entry.decisions[i];
        if (isSameKeys && keys[at] !== key) isSameKeys = false;
        at++;
      }
    }
    if (entries.size > remembered)
      entries.forEach((e, vs) => {
        if (e.pass !== now) entries.delete(vs);
      });
    if (!isSameKeys) {
      keys = [];
      index = new Map();
      for (const vs of services) {
        for (const rs of vs.realServers) {
          const key = serverKey(vs.name, rs.name);
          index.set(key, keys.length);
          keys.push(key);
        }
      }
    }
    return new Decisions(index, list);
  };
}
