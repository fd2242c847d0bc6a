import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, type Candidate } from './scheduler.ts';

const servers = (spec: Record<string, number>, active: Record<string, number> = {}): Candidate[] =>
  Object.entries(spec).map(([name, weight]) => ({ name, weight, active: active[name] ?? 0 }));

function sequence(s: Scheduler, c: Candidate[], n: number, key = ''): string {
  return Array.from({ length: n }, () => s.pick(c, key)!.name).join('');
}

function counts(names: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const ch of names) out[ch] = (out[ch] ?? 0) + 1;
  return out;
}

test('rr takes servers in turn and ignores weights', () => {
  assert.equal(sequence(new Scheduler('rr'), servers({ a: 5, b: 1, c: 1 }), 9), 'abcabcabc');
});

test('wrr is smooth: weights 5,1,1 give a a b a c a a, and exact ratios over many rounds', () => {
  const s = new Scheduler('wrr');
  const c = servers({ a: 5, b: 1, c: 1 });
  assert.equal(sequence(s, c, 7), 'aabacaa');
  assert.deepEqual(counts(sequence(s, c, 700)), { a: 500, b: 100, c: 100 });
  assert.deepEqual(counts(sequence(new Scheduler('wrr'), servers({ a: 3, b: 2 }), 500)), { a: 300, b: 200 });
});

test('lc prefers the fewest active, rotating among equals', () => {
  const s = new Scheduler('lc');
  assert.equal(s.pick(servers({ a: 1, b: 1, c: 1 }, { a: 3, b: 1, c: 2 }))!.name, 'b');
  assert.equal(sequence(s, servers({ a: 1, b: 1, c: 1 }), 6), 'bcabca');
});

test('wlc weighs active connections by weight', () => {
  const s = new Scheduler('wlc');
  // (active+1)/weight: a (4+1)/10 = 0.5, b (1+1)/1 = 2 → a despite more connections.
  assert.equal(s.pick(servers({ a: 10, b: 1 }, { a: 4, b: 1 }))!.name, 'a');
  assert.equal(s.pick(servers({ a: 10, b: 1 }, { a: 30, b: 1 }))!.name, 'b');
});

test('sh maps a client to one server, spreads clients by weight, and moves only the clients of a server that leaves', () => {
  const s = new Scheduler('sh');
  const c = servers({ a: 1, b: 1, c: 1 });
  const clients = Array.from({ length: 3000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.7`);
  const first = clients.map((ip) => s.pick(c, ip)!.name);
  assert.deepEqual(
    clients.map((ip) => s.pick(c, ip)!.name),
    first,
    'the same client always lands on the same server',
  );
  const n = counts(first.join(''));
  for (const k of ['a', 'b', 'c']) assert.ok(n[k] > 850 && n[k] < 1150, `${k}: ${n[k]} of 3000`);
  const without = c.filter((x) => x.name !== 'b');
  clients.forEach((ip, i) => {
    if (first[i] !== 'b') assert.equal(s.pick(without, ip)!.name, first[i]);
  });
  const heavy = counts(clients.map((ip) => s.pick(servers({ a: 3, b: 1 }), ip)!.name).join(''));
  assert.ok(heavy.a > 2100 && heavy.a < 2400, `a with weight 3: ${heavy.a} of 3000`);
});

test('uri hashes the same way on the path', () => {
  const s = new Scheduler('uri');
  const c = servers({ a: 1, b: 1 });
  assert.equal(s.pick(c, '/img/1.png')!.name, s.pick(c, '/img/1.png')!.name);
  const n = counts(Array.from({ length: 1000 }, (_, i) => s.pick(c, `/p/${i}`)!.name).join(''));
  assert.ok(n.a > 400 && n.b > 400);
});

test('fo takes the highest weight, then the first listed', () => {
  const s = new Scheduler('fo');
  assert.equal(sequence(s, servers({ a: 1, b: 5, c: 5 }), 3), 'bbb');
  assert.equal(sequence(s, servers({ a: 1, c: 1 }), 2), 'aa');
});

test('p2c takes the less loaded of two random servers', () => {
  const draws = [0.1, 0.9, 0.5, 0.2];
  let i = 0;
  const s = new Scheduler('p2c', () => draws[i++ % draws.length]);
  const c = servers({ a: 1, b: 1, c: 1 }, { a: 5, b: 0, c: 1 });
  // first draw: a (0.1*3=0) and, from the other two, 0.9*2=1 → index 1 → c: c has fewer → c
  assert.equal(s.pick(c)!.name, 'c');
  // second: 0.5*3=1 → b; 0.2*2=0 → a: b has fewer → b
  assert.equal(s.pick(c)!.name, 'b');
});

test('no candidates gives undefined; one candidate is always picked', () => {
  assert.equal(new Scheduler('wrr').pick([]), undefined);
  assert.equal(sequence(new Scheduler('p2c'), servers({ z: 1 }), 3), 'zzz');
});
