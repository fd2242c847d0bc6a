/**
 * The one list of field names whose values never reach a log: the console's log (lib/log.ts) and the engine's pino
 * logs (engine/log/) both redact by it. A key matches when its name contains one of these (case-insensitive), as a
 * top-level field or one level down (`headers.cookie`), so a password, a key or a session never reaches a log file.
 * ("pass" covers password and passphrase, as the console's log always has.)
 */
export const REDACTED_KEYS = ['pass', 'secret', 'token', 'privateKey', 'authorization', 'cookie', 'apiKey'] as const;

export const REDACTED = '[redacted]';

/** The same list as one pattern, for code that redacts by key name (lib/log.ts). */
export const REDACTED_KEY_PATTERN = new RegExp(REDACTED_KEYS.join('|'), 'i');

/** Returns `fields` with every value under a matching key (top level, or one level down) replaced. */
export function redactFields<T extends Record<string, unknown>>(fields: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (REDACTED_KEY_PATTERN.test(k)) out[k] = REDACTED;
    else if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Error)) {
      const inner: Record<string, unknown> = {};
      for (const [ik, iv] of Object.entries(v)) inner[ik] = REDACTED_KEY_PATTERN.test(ik) ? REDACTED : iv;
      out[k] = inner;
    } else out[k] = v;
  }
  return out as T;
}
