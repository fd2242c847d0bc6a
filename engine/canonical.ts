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

/**
 * canonicalJson's text as pieces that are that text when concatenated, without joining them: a frozen value is one
 * piece (its cached text), a mutable object or array is walked. A configuration of 1,000 frozen services is about a
 * thousand pieces, which the engine hashes (configHashOfParts) and writes to its record as they are: joining them
 * and then the configuration's text around them was most of an apply's hash step at 1,000 services (about 1.5 ms),
 * and one large string more every apply for the collector.
 */
export function canonicalParts(value: unknown, out: string[] = []): string[] {
  parts(value, out);
  return out;
}

/** Appends `value`'s canonical text to `out` in pieces; false (nothing appended) when it has none, like undefined. */
function parts(value: unknown, out: string[]): boolean {
  if (value === null || typeof value !== 'object' || value instanceof Date || Object.isFrozen(value)) {
    const text = canonical(value);
    if (text === undefined) return false;
    out.push(text);
    return true;
  }
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      if (!parts(value[i], out)) out.push('null');
    }
    out.push(']');
    return true;
  }
  out.push('{');
  let isFirst = true;
  for (const k of sortedKeys(value)) {
    const mark = out.length;
    out.push(`${isFirst ? '' : ','}${JSON.stringify(k)}:`);
    // A value with no text is left out with its key, as JSON.stringify leaves it out.
    if (parts((value as Record<string, unknown>)[k], out)) isFirst = false;
    else out.length = mark;
  }
  out.push('}');
  return true;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** "sha256:<hex>" of the canonical JSON of a configuration. */
export function configHash(config: unknown): string {
  return `sha256:${sha256Hex(canonicalJson(config))}`;
}

/** configHash of a configuration whose canonicalParts are `pieces` (a caller that keeps them, as the engine does). */
export function configHashOfParts(pieces: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of pieces) h.update(p);
  return `sha256:${h.digest('hex')}`;
}
