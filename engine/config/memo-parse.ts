/**
 * ConfigSchema.safeParse for a configuration that comes again and again with few services changed (every apply sends
 * the whole configuration; bench:apply): each virtual service is parsed once per distinct input and remembered, and
 * the rules across services look only at the pairs with a changed service (across.ts). Zod's parse of 1,000 services
 * was the largest part of both the console's and the engine's share of a one-weight apply.
 *
 * Same answer as ConfigSchema.safeParse, by construction:
 *   - a service's output is VirtualServiceSchema's (VirtualServiceBase with checkVirtualService: what ConfigSchema
 *     runs on each service), looked up by the service's input as JSON text;
 *   - the other fields are ConfigFields' with no services, then checkWholeConfig's verdict is found as across.ts finds it
 *     (only the changed services' pairs checked);
 *   - anything refused, at any step, is parsed again by ConfigSchema itself, so errors (paths, order) are its own.
 * Remembered outputs are deep-frozen and shared by every configuration that has them: nothing may change a parsed
 * configuration in place (a write throws). The memo holds the services of the last parse only. owned() (the engine's
 * request bodies) finds them by name and compares by value instead of by text.
 */
import type { z } from 'zod';
import { createAcrossChecker } from './across.ts';
import { type Config, ConfigFields, ConfigSchema, MAX_VIRTUAL_SERVICES, type VirtualService, VirtualServiceSchema } from './schema.ts';

type Result = { success: true; data: Config } | { success: false; error: z.ZodError };

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A service given by a caller-made key that stands for its input (equal keys, equal inputs) and its input on demand. */
export interface KeyedService {
  key: string;
  input: () => unknown;
}

export interface ConfigParser {
  (raw: unknown): Result;
  /**
   * The same, for a configuration whose services come as keys and inputs on demand (the console's rows: a row's
   * stored text is its key, and a remembered service's text need not even be read as JSON). `rest`: the other
   * fields. Keys of one parser must be of one kind; this one's memo is shared with the plain call's.
   */
  keyed(services: readonly KeyedService[], rest: Record<string, unknown>): Result;
  /**
   * The same, for `raw` that nobody changes after this call (the engine's API: a request body, just read as JSON).
   * Each service is compared by value with the last owned parse's service of its name, where the plain call turns
   * every service into JSON text to look it up: at 1,000 services that text was most of the engine's validate
   * (bench:apply) and garbage for the collector. A value equal in every key, in the same order, is the same input,
   * so its output is the same; anything else (another kind of object, a changed value) is parsed afresh. Its memo
   * is its own.
   */
  owned(raw: unknown): Result;
  /**
   * Services parsed afresh and found in the memo, and configurations parsed whole by ConfigSchema (anything refused at
   * any step, which a configuration that passes never is), over this parser's life (tests, benches).
   */
  readonly counts: { parsed: number; remembered: number; whole: number };
}

/**
 * A remembered input's own keys, listed once (Object.keys, kept while the input is remembered): owned() compares the
 * next body's objects with them on every apply, and listing both sides' keys each time was most of its garbage
 * (two arrays per object, 10,000 a round at 1,000 services × 4 servers). The lists are shared by equal ones, so a
 * thousand services of one shape keep a handful.
 */
const keysOfRemembered = new WeakMap<object, readonly string[]>();
const keyLists: (readonly string[])[] = [];
function keysOf(o: object): readonly string[] {
  // The lookup apart from the listing: a function with a closure over a local (listKeys' `own`) allocates its context
  // on every call, before any early return: 5,000 contexts, ~190 KiB, an apply at 1,000 services × 4 servers.
  return keysOfRemembered.get(o) ?? listKeys(o);
}
function listKeys(o: object): readonly string[] {
  const own = Object.keys(o);
  let keys = keyLists.find((k) => k.length === own.length && k.every((x, i) => x === own[i]));
  if (!keys) {
    keys = own;
    // A few shapes in practice (a service, a server, a check...); past that each object keeps its own list.
    if (keyLists.length < 64) keyLists.push(own);
  }
  keysOfRemembered.set(o, keys);
  return keys;
}

/**
 * Whether `b` is the same JSON-like value as `a`, a remembered input: the same primitives (Object.is), arrays of the
 * same values, plain objects with the same keys in the same order and the same values. Any other object is never the
 * same (parsed afresh, so nothing is assumed of it). One object given twice is itself: owned() inputs do not change.
 * `b`'s keys are walked with for-in, which on a plain object allocates nothing once V8 has its shape's key list, and
 * which lists them in Object.keys' order; its prototype is Object.prototype, whose properties are not enumerable (were
 * one made so, b would show a key `a` has not and be parsed afresh).
 */
function isSameValue(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!isSameValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype) return false;
  const ka = keysOf(a);
  let n = 0;
  for (const k in b) {
    if (n >= ka.length || ka[n] !== k || !isSameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
    n++;
  }
  return n === ka.length;
}

/** A service owned() parsed: its input, its output, and the parse that last gave its name. */
interface Remembered {
  input: unknown;
  vs: VirtualService;
  pass: number;
}

export function createConfigParser(): ConfigParser {
  let memo = new Map<string, VirtualService>();
  /**
   * owned()'s: the last owned parse's services by name, each with the input it came from and the number of the parse
   * that last gave it. Updated in place (a name not given by a parse that succeeds is dropped after it): building a
   * new map of 1,000 names every apply was a tenth of owned()'s garbage.
   */
  const byName = new Map<string, Remembered>();
  let pass = 0;
  const counts = { parsed: 0, remembered: 0, whole: 0 };
  /** checkWholeConfig's verdict, kept from one parse to the next (across.ts): the services here are frozen. */
  const across = createAcrossChecker();
  const full = (raw: unknown): Result => {
    counts.whole++;
    return ConfigSchema.safeParse(raw) as Result;
  };
  /** One service afresh, frozen; null if refused (the caller then lets the whole schema answer). */
  const parseService = (input: unknown): VirtualService | null => {
    const r = VirtualServiceSchema.safeParse(input);
    if (!r.success) return null;
    counts.parsed++;
    return deepFreeze(r.data);
  };
  /** The other fields and the rules across services, on services already parsed; `whole` answers any refusal. */
  const finish = (services: VirtualService[], rest: Record<string, unknown>, whole: () => Result): Result => {
    const fields = ConfigFields.safeParse({ ...rest, virtualServices: [] });
    if (!fields.success) return whole();
    const config = { ...fields.data, virtualServices: services };
    return across.isAccepted(config) ? { success: true, data: config } : whole();
  };
  const keyed = (entries: readonly KeyedService[], rest: Record<string, unknown>): Result => {
    const whole = () => full({ ...rest, virtualServices: entries.map((e) => e.input()) });
    if ('virtualServices' in rest || entries.length > MAX_VIRTUAL_SERVICES) return whole();
    const next = new Map<string, VirtualService>();
    const services: VirtualService[] = [];
    for (const e of entries) {
      let vs = next.get(e.key) ?? memo.get(e.key);
      if (vs) counts.remembered++;
      else {
        const parsed = parseService(e.input());
        if (!parsed) return whole();
        vs = parsed;
      }
      next.set(e.key, vs);
      services.push(vs);
    }
    memo = next;
    return finish(services, rest, whole);
  };
  const parse = (raw: unknown): Result => {
    if (!isRecord(raw) || !Array.isArray(raw.virtualServices)) return full(raw);
    const { virtualServices, ...rest } = raw;
    return keyed(
      virtualServices.map((input: unknown) => ({ key: JSON.stringify(input), input: () => input })),
      rest,
    );
  };
  const owned = (raw: unknown): Result => {
    if (!isRecord(raw) || !Array.isArray(raw.virtualServices) || raw.virtualServices.length > MAX_VIRTUAL_SERVICES) return full(raw);
    const { virtualServices, ...rest } = raw;
    const services: VirtualService[] = [];
    const now = ++pass;
    let given = 0;
    const inputs = virtualServices as unknown[];
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      const name = isRecord(input) && typeof input.name === 'string' ? input.name : undefined;
      // This parse's own entry when the name came earlier in it, else the last parse's.
      const was = name === undefined ? undefined : byName.get(name);
      let entry: Remembered;
      if (was && isSameValue(was.input, input)) {
        // The remembered input stays, not this equal one: this body dies young (a cheap scavenge) instead of being
        // kept to the next apply and promoted to the old generation, 1,000 services of it every apply.
        entry = was;
        counts.remembered++;
      } else {
        const vs = parseService(input);
        if (!vs) return full(raw); // what this parse remembered so far stays: each entry is a right answer for its input
        entry = { input, vs, pass: 0 };
      }
      // A name given twice is refused by the rules across services; the first one's stays remembered.
      if (name !== undefined && was?.pass !== now) {
        entry.pass = now;
        if (entry !== was) byName.set(name, entry);
        given++;
      }
      services.push(entry.vs);
    }
    if (byName.size > given)
      byName.forEach((e, name) => {
        if (e.pass !== now) byName.delete(name);
      });
    return finish(services, rest, () => full(raw));
  };
  return Object.assign(parse, { keyed, owned, counts });
}
