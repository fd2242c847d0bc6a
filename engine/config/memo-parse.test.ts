/**
 * The memoizing parser gives ConfigSchema.safeParse's answer — the same data, the same refusals — over a sequence of
 * configurations where services change, collide, break and come back, and parses only what changed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from './schema.ts';
import { createConfigParser } from './memo-parse.ts';

const dr = (name: string, over: Record<string, unknown> = {}) => ({
  name,
  layer: 4,
  mode: 'dr',
  address: '10.0.0.10',
  ports: [80],
  healthCheck: { type: 'none' },
  realServers: [{ name: `${name}-a`, address: '10.0.0.61' }],
  ...over,
});
const l7 = (name: string, port: number, over: Record<string, unknown> = {}) => ({
  name,
  layer: 7,
  mode: 'http',
  address: '127.0.0.1',
  ports: [port],
  healthCheck: { type: 'connect' },
  layer7: { tls: { certificate: 'web' } },
  realServers: [
    { name: `${name}-a`, address: '127.0.0.1', port: 8080, weight: 50 },
    { name: `${name}-b`, address: '127.0.0.1', port: 8081 },
  ],
  ...over,
});
const cert = {
  name: 'web',
  certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  privateKeyPem: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n',
};

function expectSame(parse: ReturnType<typeof createConfigParser>, raw: unknown, what: string): boolean {
  const want = ConfigSchema.safeParse(raw);
  const got = parse(raw);
  assert.equal(got.success, want.success, `${what}: success`);
  if (want.success && got.success) assert.deepEqual(got.data, want.data, `${what}: data`);
  if (!want.success && !got.success) assert.deepEqual(got.error.issues, want.error.issues, `${what}: issues`);
  return want.success;
}

test("a sequence of edits: every answer is ConfigSchema.safeParse's, and only changed services are parsed again", () => {
  const parse = createConfigParser();
  const base = { certificates: [cert], virtualServices: [dr('a'), dr('b', { ports: [443] }), l7('c', 8443), l7('d', 9443)] };
  const steps: [string, unknown, boolean][] = [
    ['the first', base, true],
    ['the same again', base, true],
    ['a weight changed', { ...base, virtualServices: [dr('a'), dr('b', { ports: [443] }), l7('c', 8443, { scheduler: 'rr' }), l7('d', 9443)] }, true],
    ['two services on one VIP and port (a rule across services)', { ...base, virtualServices: [dr('a'), dr('b'), l7('c', 8443), l7('d', 9443)] }, false],
    ['a name used twice', { ...base, virtualServices: [dr('a'), dr('a', { ports: [443] })] }, false],
    ['a certificate missing', { virtualServices: base.virtualServices }, false],
    ['a field refused inside a service', { ...base, virtualServices: [dr('a', { ports: [0] }), dr('b', { ports: [443] })] }, false],
    [
      'a rule of one service (DR cannot translate ports)',
      { ...base, virtualServices: [dr('a', { realServers: [{ name: 'x', address: '10.0.0.61', port: 8080 }] })] },
      false,
    ],
    ['an unknown top-level key', { ...base, extra: 1 }, false],
    ['not an object', [base], false],
    ['no services at all', {}, true],
    ['back to the first', base, true],
  ];
  for (const [what, raw, isOk] of steps) assert.equal(expectSame(parse, raw, what), isOk, what);

  const again = createConfigParser();
  again(base);
  assert.deepEqual(again.counts, { parsed: 4, remembered: 0, whole: 0 });
  again(base);
  assert.deepEqual(again.counts, { parsed: 4, remembered: 4, whole: 0 });
  again({ ...base, virtualServices: [dr('a'), dr('b', { ports: [443] }), l7('c', 8443, { scheduler: 'rr' }), l7('d', 9443)] });
  assert.deepEqual(again.counts, { parsed: 5, remembered: 7, whole: 0 }, 'one service parsed afresh, three remembered');
});

test("1,000 services: one changed is one parse, with the same answer as the whole schema's", () => {
  const parse = createConfigParser();
  const many = (w: number) => ({
    virtualServices: Array.from({ length: 1000 }, (_, i) =>
      l7(`s${i}`, 20_000 + i, { layer7: {}, realServers: [{ name: 'a', address: '127.0.0.1', port: 8080, weight: i === 500 ? w : 100 }] }),
    ),
  });
  assert.ok(expectSame(parse, many(100), 'first'));
  const before = parse.counts.parsed;
  assert.ok(expectSame(parse, many(50), 'one weight'));
  assert.equal(parse.counts.parsed - before, 1);
});

test('remembered services are frozen: a parsed configuration cannot be changed in place', () => {
  const parse = createConfigParser();
  const r = parse({ virtualServices: [dr('a')] });
  assert.ok(r.success);
  const vs = r.data.virtualServices[0];
  assert.throws(() => {
    (vs as { name: string }).name = 'b';
  }, TypeError);
  assert.throws(() => {
    (vs.realServers[0] as { weight: number }).weight = 1;
  }, TypeError);
  // The top level is the caller's own: a new array of shared services.
  assert.doesNotThrow(() => r.data.virtualServices.push(vs));
});

test("keyed: a remembered key is not read again, a new key is, and a refusal is the whole schema's", () => {
  const parse = createConfigParser();
  let reads = 0;
  const entry = (key: string, input: unknown) => ({
    key,
    input: () => {
      reads++;
      return input;
    },
  });
  const a = dr('a');
  const b = dr('b', { ports: [443] });
  const first = parse.keyed([entry('row-a', a), entry('row-b', b)], {});
  assert.ok(first.success);
  assert.deepEqual(first.data, ConfigSchema.parse({ virtualServices: [a, b] }));
  assert.equal(reads, 2);
  const second = parse.keyed([entry('row-a', a), entry('row-b2', dr('b', { ports: [8080] }))], {});
  assert.ok(second.success);
  assert.equal(reads, 3, 'only the changed row was read');
  const clash = parse.keyed([entry('row-a', a), entry('row-c', dr('c'))], {});
  const want = ConfigSchema.safeParse({ virtualServices: [a, dr('c')] });
  assert.ok(!clash.success && !want.success);
  assert.deepEqual(clash.error.issues, want.error.issues);
});

test("owned: request bodies compared by value — every answer is ConfigSchema.safeParse's, and only changed services are parsed again", () => {
  const parse = createConfigParser();
  // Each as a request body is: a fresh object read from JSON.
  const body = (raw: unknown) => JSON.parse(JSON.stringify(raw));
  const check = (raw: unknown, what: string) => {
    const want = ConfigSchema.safeParse(raw);
    const got = parse.owned(body(raw));
    assert.equal(got.success, want.success, `${what}: success`);
    if (want.success && got.success) assert.deepEqual(got.data, want.data, `${what}: data`);
    if (!want.success && !got.success) assert.deepEqual(got.error.issues, want.error.issues, `${what}: issues`);
  };
  const base = { certificates: [cert], virtualServices: [dr('a'), dr('b', { ports: [443] }), l7('c', 8443), l7('d', 9443)] };
  check(base, 'the first');
  assert.deepEqual(parse.counts, { parsed: 4, remembered: 0, whole: 0 });
  check(base, 'the same again');
  assert.deepEqual(parse.counts, { parsed: 4, remembered: 4, whole: 0 });
  check({ ...base, virtualServices: [dr('a'), dr('b', { ports: [443] }), l7('c', 8443, { scheduler: 'rr' }), l7('d', 9443)] }, 'one changed');
  assert.deepEqual(parse.counts, { parsed: 5, remembered: 7, whole: 0 }, 'one service parsed afresh, three remembered');
  // The same fields in another order are another input (a plain object's order can show in its output): afresh.
  const [first, ...others] = base.virtualServices;
  const { name, ...fields } = first;
  check({ ...base, virtualServices: [{ ...fields, name }, ...others] }, 'one service with its keys in another order, c as it was');
  assert.equal(parse.counts.parsed, 7, 'a (reordered) and c (changed back) afresh');
  check({ ...base, virtualServices: [dr('a'), dr('a', { ports: [443] })] }, 'a name used twice');
  check({ ...base, virtualServices: [dr('a', { ports: [0] }), dr('b', { ports: [443] })] }, 'a field refused inside a service');
  check({ ...base, extra: 1 }, 'an unknown top-level key');
  check([base], 'not an object');
  check({}, 'no services at all');
  check(base, 'back to the first');
  // Not JSON-like (a Date where text belongs): never taken as the same, so the schema answers.
  const dated = { virtualServices: [{ ...dr('a'), name: new Date(0) }] };
  assert.equal(parse.owned(dated).success, ConfigSchema.safeParse(dated).success);
});

test('owned: a name left out of a parse is forgotten, a name given twice keeps its first, and the answers stay the schema’s', () => {
  const parse = createConfigParser();
  const body = (raw: unknown) => JSON.parse(JSON.stringify(raw));
  const check = (raw: unknown, what: string, parsed: number, remembered: number) => {
    const want = ConfigSchema.safeParse(raw);
    const before = { ...parse.counts };
    const got = parse.owned(body(raw));
    assert.equal(got.success, want.success, `${what}: success`);
    if (want.success && got.success) assert.deepEqual(got.data, want.data, `${what}: data`);
    if (!want.success && !got.success) assert.deepEqual(got.error.issues, want.error.issues, `${what}: issues`);
    assert.deepEqual(
      { parsed: parse.counts.parsed - before.parsed, remembered: parse.counts.remembered - before.remembered },
      { parsed, remembered },
      `${what}: parsed afresh and remembered`,
    );
  };
  const base = { certificates: [cert], virtualServices: [dr('a'), dr('b', { ports: [443] }), l7('c', 8443)] };
  check(base, 'the first', 3, 0);
  check({ ...base, virtualServices: [dr('a'), l7('c', 8443)] }, 'b left out', 0, 2);
  check(base, 'b back: forgotten, so parsed afresh', 1, 2);
  check({ ...base, virtualServices: [dr('a'), dr('a', { ports: [443] }), l7('c', 8443)] }, 'a given twice (refused)', 1, 2);
  check(base, 'the first a kept; b left out by the refused parse, so afresh', 1, 2);
  // A service refused by its own fields: the ones before it may be remembered from this parse, each a right answer.
  check({ ...base, virtualServices: [dr('a', { ports: [81] }), dr('b', { ports: [0] }), l7('c', 8443)] }, 'b refused', 1, 0);
  check({ ...base, virtualServices: [dr('a', { ports: [81] }), dr('b', { ports: [443] }), l7('c', 8443)] }, 'b mended', 0, 3);
});
