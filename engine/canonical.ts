/**
 * Canonical JSON (object keys sorted, no whitespace) and its SHA-256, so that the same configuration always has the
 * same hash whoever rendered it, and an audit row hashes the same when it is read back.
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  // As JSON.stringify: undefined (typed as text) for a value it cannot write, such as undefined itself.
  return canonical(value) as string;
}

/**
 * The canonical text of a frozen object or array never changes, so it is kept: a parsed configuration's services are
 * frozen and shared from one apply to the next (engine/config/memo-parse.ts), and hashing 1,000 services again on
 * every apply was about 10 ms on each side. Mutable values are walked every time.
 */
const frozenText = new WeakMap<object, string>();

/** An array index as a property name ("0", "42"): JavaScript objects enumerate these first, in numeric order. */
const isIndex = (k: string) => /^(?:0|[1-9]\d{0,9})$/.test(k) && Number(k) < 2 ** 32 - 1;

/**
 * The keys in the order a copy made by inserting them sorted would enumerate them (what the hashes were defined by):
 * index-like keys first, by number, then the others sorted.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value).sort();
  if (!keys.some(isIndex)) return keys;
  const indexes = keys.filter(isIndex).sort((a, b) => Number(a) - Number(b));
  return [...indexes, ...keys.filter((k) => !isIndex(k))];
}

/**
 * JSON.stringify of `value` with every object's keys sorted, built directly (the same text as stringifying a sorted
 * copy: undefined and functions left out of objects and null in arrays, a Date as its ISO string, no other toJSON).
 * Undefined when JSON.stringify would give undefined.
 */
function canonical(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value);
  const known = frozenText.get(value);
  if (known !== undefined) return known;
  const parts: string[] = [];
  let text: string;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) parts.push(canonical(value[i]) ?? 'null');
    text = `[${parts.join(',')}]`;
  } else {
    for (const k of sortedKeys(value)) {
      const v = canonical((value as Record<string, unknown>)[k]);
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v}`);
    }
    text = `{${parts.join(',')}}`;
  }
  if (Object.isFrozen(value)) frozenText.set(value, text);
  return text;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** "sha256:<hex>" of the canonical JSON of a configuration. */
export function configHash(config: unknown): string {
  return configHashOfText(canonicalJson(config));
}

/** configHash of a configuration whose canonical JSON is `text` (a caller that keeps the text, as the engine does). */
export function configHashOfText(text: string): string {
  return `sha256:${sha256Hex(text)}`;
}
