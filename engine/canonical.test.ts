/**
 * canonicalJson builds its text directly and keeps the text of frozen values; it must give exactly what stringifying
 * a key-sorted copy gives (the definition the hashes of every stored configuration and audit row were made with).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, canonicalParts, configHash, configHashOfParts } from './canonical.ts';
import { createConfigParser } from './config/index.ts';

/** The definition: a copy with every object's keys sorted and undefined values left out, then JSON.stringify. */
function reference(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object' && !(v instanceof Date)) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = sortKeys(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(sortKeys(value));
}

test('the same text as stringifying a sorted copy, for every kind of value JSON can meet', () => {
  const values: unknown[] = [
    null,
    0,
    -0,
    1.5e300,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    true,
    '',
    'plain',
    'quote " backslash \\ control \u0001 line \u2028 é 😀',
    [],
    {},
    [1, undefined, () => 1, null, 'x'],
    { b: 1, a: undefined, c: () => 1, d: null, é: 2, '10': 3, '9': 4 },
    { '4294967294': 1, '4294967295': 2, '01': 3, '-1': 4, '0': 5, ' 1': 6 },
    { date: new Date(0), nested: { z: [{ y: 1, x: [2, { w: 3 }] }], a: new Map([[1, 2]]) } },
    Object.freeze({ b: Object.freeze([Object.freeze({ d: 1, c: 2 })]), a: { mutable: true } }),
  ];
  for (const v of values) assert.equal(canonicalJson(v), reference(v), JSON.stringify(String(v)));
  assert.equal(canonicalJson(undefined), undefined);
  // In pieces: the same text once joined, and a value with none (undefined) is no piece.
  for (const v of values) assert.equal(canonicalParts(v).join(''), reference(v), `parts: ${JSON.stringify(String(v))}`);
  assert.deepEqual(canonicalParts(undefined), []);
});

test('a frozen service shared by two configurations hashes as if it were walked anew; a mutable one is walked anew', () => {
  const parse = createConfigParser();
  const raw = (w: number) => ({
    virtualServices: [0, 1, 2].map((i) => ({
      name: `s${i}`,
      layer: 4,
      mode: 'nat',
      address: '10.0.0.1',
      ports: [80 + i],
      healthCheck: { type: 'none' },
      realServers: [{ name: 'a', address: '10.0.1.1', weight: i === 1 ? w : 100 }],
    })),
  });
  const a = parse(raw(100));
  const b = parse(raw(50));
  assert.ok(a.success && b.success);
  assert.equal(a.data.virtualServices[0], b.data.virtualServices[0], 'the unchanged service is one shared object');
  for (const c of [a.data, b.data]) assert.equal(canonicalJson(c), reference(c));
  for (const c of [a.data, b.data]) assert.equal(configHashOfParts(canonicalParts(c)), configHash(c), 'hashed in pieces, the same hash');
  assert.notEqual(configHash(a.data), configHash(b.data));
  const mutable = { x: { y: 1 } };
  const before = canonicalJson(mutable);
  mutable.x.y = 2;
  assert.notEqual(canonicalJson(mutable), before, 'a mutable value is never served from memory');
});
