/**
 * The planner (plan.ts Planner) gives planServices' plans, and remembers each by the frozen parsed service it came
 * from: an unchanged service keeps its plan and JSON (the same objects), one whose decisions or certificates change
 * is planned afresh, and a service that is not frozen is always planned afresh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConfigParser, type Config } from '../config/index.ts';
import { Planner, planServices } from './plan.ts';
import type { ServerKey } from '../dataplane.ts';
import type { ServerDecision } from '../server-state.ts';
import { config } from './test-helpers.ts';

const cert = (key: string) => ({
  name: 'web',
  certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----\n`,
});
const service = (name: string, port: number, over: Record<string, unknown> = {}) => ({
  name,
  layer: 7,
  mode: 'http',
  address: '127.0.0.1',
  ports: [port],
  healthCheck: { type: 'none' },
  realServers: [
    { name: 'a', address: '127.0.0.1', port: 8080 },
    { name: 'b', address: '127.0.0.1', port: 8081, weight: 50 },
  ],
  ...over,
});
const raw = (key = 'ONE') => ({
  certificates: [cert(key)],
  virtualServices: [service('plain', 20_001), service('tls', 20_443, { layer7: { tls: { certificate: 'web' } } })],
});

test('an unchanged frozen service keeps its plan; changed decisions or certificates plan it afresh', () => {
  const parse = createConfigParser();
  const planner = new Planner();
  const parsed = (r: unknown): Config => {
    const p = parse(r);
    assert.ok(p.success);
    return p.data;
  };
  const none = new Map<ServerKey, ServerDecision>();
  const first = planner.plan(parsed(raw()), none);
  assert.deepEqual(
    first.map((p) => p.plan),
    planServices(parsed(raw()), none),
  );
  assert.deepEqual(
    first.map((p) => p.json),
    first.map((p) => JSON.stringify(p.plan)),
  );
  assert.ok(Object.isFrozen(first[0].plan.servers[0]), 'a remembered plan is frozen');

  const again = planner.plan(parsed(raw()), none);
  assert.equal(again[0], first[0], 'the same plan and JSON');
  assert.equal(again[1], first[1]);

  const down = new Map<ServerKey, ServerDecision>([['plain/b' as ServerKey, { disposition: 'quiesce', weight: 0, isHealthDown: true }]]);
  const decided = planner.plan(parsed(raw()), down);
  assert.notEqual(decided[0], first[0], "a server's decision changed: planned afresh");
  assert.deepEqual(decided[0].plan.servers[1], { ...first[0].plan.servers[1], weight: 0, disposition: 'quiesce', isHealthDown: true });
  assert.equal(decided[1], first[1]);

  const rekeyed = planner.plan(parsed(raw('TWO')), down);
  assert.equal(rekeyed[0], decided[0]);
  assert.notEqual(rekeyed[1], first[1], 'its certificate changed: planned afresh');
  assert.match(rekeyed[1].plan.certificates[0].privateKeyPem, /TWO/);
});

test('a service that is not frozen is planned afresh every time', () => {
  const planner = new Planner();
  const cfg = config(raw().virtualServices as never, { certificates: raw().certificates });
  const a = planner.plan(cfg, new Map());
  const b = planner.plan(cfg, new Map());
  assert.notEqual(a[0], b[0]);
  assert.deepEqual(a, b);
  assert.ok(!Object.isFrozen(b[0].plan));
});
