/**
 * ConfigSchema.safeParse for a configuration that comes again and again with few services changed (every apply sends
 * the whole configuration; bench:apply): each virtual service is parsed once per distinct input and remembered, and
 * only the rules across services run on the whole every time. Zod's parse of 1,000 services was the largest part of
 * both the console's and the engine's share of a one-weight apply.
 *
 * Same answer as ConfigSchema.safeParse, by construction:
 *   - a service's output is VirtualServiceSchema's (VirtualServiceBase with checkVirtualService: what ConfigSchema
 *     runs on each service), looked up by the service's input as JSON text;
 *   - the other fields are ConfigFields' with no services, then checkWholeConfig runs as ConfigSchema runs it;
 *   - anything refused, at any step, is parsed again by ConfigSchema itself, so errors (paths, order) are its own.
 * Remembered outputs are deep-frozen and shared by every configuration that has them: nothing may change a parsed
 * configuration in place (a write throws). The memo holds the services of the last parse only.
 */
import type { z } from 'zod';
import { type Config, ConfigFields, ConfigSchema, checkWholeConfig, MAX_VIRTUAL_SERVICES, type VirtualService, VirtualServiceSchema } from './schema.ts';

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
  /** Services parsed afresh and found in the memo, over this parser's life (tests, benches). */
  readonly counts: { parsed: number; remembered: number };
}

export function createConfigParser(): ConfigParser {
  let memo = new Map<string, VirtualService>();
  const counts = { parsed: 0, remembered: 0 };
  const full = (raw: unknown): Result => ConfigSchema.safeParse(raw) as Result;
  const keyed = (entries: readonly KeyedService[], rest: Record<string, unknown>): Result => {
    const whole = () => full({ ...rest, virtualServices: entries.map((e) => e.input()) });
    if ('virtualServices' in rest || entries.length > MAX_VIRTUAL_SERVICES) return whole();
    const next = new Map<string, VirtualService>();
    const services: VirtualService[] = [];
    for (const e of entries) {
      let vs = next.get(e.key) ?? memo.get(e.key);
      if (vs) counts.remembered++;
      else {
        const r = VirtualServiceSchema.safeParse(e.input());
        if (!r.success) return whole();
        vs = deepFreeze(r.data);
        counts.parsed++;
      }
      next.set(e.key, vs);
      services.push(vs);
    }
    memo = next;
    const fields = ConfigFields.safeParse({ ...rest, virtualServices: [] });
    if (!fields.success) return whole();
    const config = { ...fields.data, virtualServices: services };
    let isRefused = false;
    checkWholeConfig(config, {
      addIssue: () => {
        isRefused = true;
      },
    } as unknown as z.RefinementCtx);
    return isRefused ? whole() : { success: true, data: config };
  };
  const parse = (raw: unknown): Result => {
    if (!isRecord(raw) || !Array.isArray(raw.virtualServices)) return full(raw);
    const { virtualServices, ...rest } = raw;
    return keyed(
      virtualServices.map((input: unknown) => ({ key: JSON.stringify(input), input: () => input })),
      rest,
    );
  };
  return Object.assign(parse, { keyed, counts });
}
