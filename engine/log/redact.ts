/**
 * The one redaction list: the console's log (lib/log.ts) and the engine's log (engine-log.ts) both go through
 * logger.ts, which redacts every line by it before it is written anywhere (terminal or file). The layer 7 access log
 * has fixed fields, none a secret (access-log.ts), and the audit trail has its own rule for the rows it stores
 * (lib/audit.ts: its redaction is part of what the hash chain covers, so it is not changed from here).
 *
 * Two rules:
 *   - by key: a value whose key contains one of REDACTED_KEYS (case-insensitive) is replaced, at any depth
 *     (`headers.authorization`, `req.headers.cookie`), "-" and "_" ignored (x-api-key, private_key); "pass" covers
 *     password and passphrase, "cookie" set-cookie.
 *   - by value: in any string, a PEM private key block and the credentials of an Authorization value ("Bearer …",
 *     "Basic …") are replaced, whatever the key, and in the message too, so a key pasted into an error text or a
 *     header line logged whole does not reach a file either.
 */
export const REDACTED_KEYS = ['pass', 'secret', 'token', 'privateKey', 'authorization', 'cookie', 'apiKey'] as const;

export const REDACTED = '[redacted]';

/** The same list as one pattern, for code that redacts by key name. */
export const REDACTED_KEY_PATTERN = new RegExp(REDACTED_KEYS.join('|'), 'i');
/** Whether a key's value is hidden; "-" and "_" are ignored, so x-api-key and private_key match apiKey and privateKey. */
export const isRedactedKey = (key: string): boolean => REDACTED_KEY_PATTERN.test(key.replace(/[-_]/g, ''));

const PEM_PRIVATE_KEY = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/g;
/** RFC 6750 / RFC 7617 credentials; a plain word after the scheme ("Basic authentication") is prose, not one. */
const AUTH_CREDENTIALS = /\b(Bearer|Basic)\s+([A-Za-z0-9._~+/=-]{6,})/gi;
const WORD = /^[A-Z]?[a-z]+$/;

/** Depth past which a value is not walked (a log field is never that deep; a cycle would be endless). */
const MAX_DEPTH = 8;

/** `s` with private key blocks and Authorization credentials replaced; the same string when it has neither. */
export function redactText(s: string): string {
  if (!s.includes('PRIVATE KEY') && !/bearer|basic/i.test(s)) return s;
  return s
    .replace(PEM_PRIVATE_KEY, REDACTED)
    .replace(AUTH_CREDENTIALS, (all: string, scheme: string, credentials: string) => (WORD.test(credentials) ? all : `${scheme} ${REDACTED}`));
}

function redactValue(v: unknown, depth: number, seen: Set<object>): unknown {
  if (typeof v === 'string') return redactText(v);
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_DEPTH || seen.has(v)) return '[not walked]';
  seen.add(v);
  try {
    if (v instanceof Error) {
      // An Error's own properties are not enumerable: written as it is, it would be "{}".
      const { name, message, stack } = v;
      const code = (v as NodeJS.ErrnoException).code;
      return redactValue({ type: name, message, stack, ...(code === undefined ? {} : { code }) }, depth, seen);
    }
    if (Array.isArray(v)) return v.map((x) => redactValue(x, depth + 1, seen));
    if (v instanceof Date) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = isRedactedKey(k) ? REDACTED : redactValue(x, depth + 1, seen);
    return out;
  } finally {
    seen.delete(v);
  }
}

/** Returns `fields` with every value under a listed key replaced, at any depth, and every string cleaned. */
export function redactFields<T extends Record<string, unknown>>(fields: T): T {
  return redactValue(fields, 0, new Set()) as T;
}
