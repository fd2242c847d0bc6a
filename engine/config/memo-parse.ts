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

export interface ConfigParser {
  (raw: unknown): Result;
  /** Services parsed afresh and found in the memo, over this parser's life (tests, benches). */
  readonly counts: { parsed: number; remembered: number };
}

export function createConfigParser(): ConfigParser {
  let memo = new Map<string, VirtualService>();
  const counts = { parsed: 0, remembered: 0 };
  const full = (raw: unknown): Result => ConfigSchema.safeParse(raw) as Result;
  const parse = (raw: unknown): Result => {
    if (!isRecord(raw) || !Array.isArray(raw.virtualServices) || raw.virtualServices.length > MAX_VIRTUAL_SERVICES) return full(raw);
    const next = new Map<string, VirtualService>();
    const services: VirtualService[] = [];
    for (const input of raw.virtualServices) {
      const key = JSON.stringify(input);
      let vs = next.get(key) ?? memo.get(key);
      if (vs) counts.remembered++;
      else {
        const r = VirtualServiceSchema.safeParse(input);
        if (!r.success) return full(raw);
        vs = deepFreeze(r.data);
        counts.parsed++;
      }
      next.set(key, vs);
      services.push(vs);
    }
    memo = next;
    const rest = ConfigFields.safeParse({ ...raw, virtualServices: [] });
    if (!rest.success) return full(raw);
    const config = { ...rest.data, virtualServices: services };
    let isRefused = false;
    checkWholeConfig(config, {
      addIssue: () => {
        isRefused = true;
      },
    } as unknown as z.RefinementCtx);
    return isRefused ? full(raw) : { success: true, data: config };
  };
  return Object.assign(parse, { counts });
}
