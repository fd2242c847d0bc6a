/**
 * Canonical JSON (object keys sorted, no whitespace) and its SHA-256, so that the same configuration always has the
 * same hash whoever rendered it, and an audit row hashes the same when it is read back.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** "sha256:<hex>" of the canonical JSON of a configuration. */
export function configHash(config: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(config))}`;
}
