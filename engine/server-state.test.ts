/**
 * The decision table of server-state.ts, row by row (table-driven, as the comment's table reads), plus effective
 * weights and the layer 4 persistence rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from './config/index.ts';
import { decideAll, decideServer, onDownFor, type DecideOptions } from './server-state.ts';
import type { HealthState, OperatorState } from './config/index.ts';

type Row = [OperatorState, DecideOptions['feedback'] | undefined, HealthState, DecideOptions['onDown'] | undefined, string, number, boolean];
//            operator  feedback                          health      onDown     disposition weight healthDown
const rows: Row[] = [
  ['halt', undefined, 'up', undefined, 'remove', 0, false],
  ['halt', undefined, 'down', undefined, 'remove', 0, true],
  ['drain', undefined, 'up', undefined, 'quiesce', 0, false],
  ['drain', undefined, 'down', undefined, 'quiesce', 0, true],
  ['online', { admin: 'maint' }, 'up', undefined, 'quiesce', 0, true],
  ['online', { admin: 'drain' }, 'up', undefined, 'quiesce', 0, false],
  ['online', undefined, 'down', undefined, 'quiesce', 0, true],
  ['online', undefined, 'down', 'remove', 'remove', 0, true],
  ['online', { agentHealth: 'down' }, 'up', undefined, 'quiesce', 0, true],
  ['online', undefined, 'up', undefined, 'serve', 100, false],
  ['online', undefined, 'unknown', undefined, 'serve', 100, false],
  ['online', { admin: 'ready' }, 'up', undefined, 'serve', 100, false],
  ['online', { weightPercent: 0 }, 'up', undefined, 'quiesce', 0, false],
  ['online', { weightPercent: 25 }, 'up', undefined, 'serve', 25, false],
  ['online', { weightPercent: 0.1 }, 'up', undefined, 'serve', 1, false],
  ['online', { dynamicWeight: 40 }, 'up', undefined, 'serve', 40, false],
  ['online', { dynamicWeight: 40, weightPercent: 50 }, 'up', undefined, 'serve', 20, false],
  ['online', { dynamicWeight: 0 }, 'up', undefined, 'quiesce', 0, false],
  ['drain', { weightPercent: 100 }, 'up', undefined, 'quiesce', 0, false],
  ['halt', { admin: 'ready' }, 'up', 'quiesce', 'remove', 0, false],
];

for (const [operator, feedback, health, onDown, disposition, weight, isHealthDown] of rows) {
  test(`${operator} + ${JSON.stringify(feedback ?? {})} + ${health}${onDown ? ` (onDown ${onDown})` : ''} → ${disposition} ${weight}`, () => {
    assert.deepEqual(decideServer(operator, health, 100, { feedback, onDown }), { disposition, weight, isHealthDown });
  });
}

test('weights stay within IPVS range', () => {
  assert.equal(decideServer('online', 'up', 65535, { feedback: { weightPercent: 200 } }).weight, 65535);
});

test('a layer 4 service with source-IP persistence removes a health-down server; others follow onDown', () => {
  const cfg = ConfigSchema.parse({
    virtualServices: [
      {
        name: 'dr',
        layer: 4,
        mode: 'dr',
        address: '127.0.0.1',
        ports: [80],
        persistence: { type: 'source-ip' },
        realServers: [{ name: 'a', address: '127.0.0.2' }],
      },
      { name: 'nat', layer: 4, mode: 'nat', address: '127.0.0.1', ports: [81], realServers: [{ name: 'a', address: '127.0.0.2' }] },
      {
        name: 'web',
        layer: 7,
        mode: 'http',
        address: '127.0.0.1',
        ports: [82],
        persistence: { type: 'source-ip' },
        healthCheck: { type: 'connect', onDown: 'remove' },
        realServers: [{ name: 'a', address: '127.0.0.2', port: 80 }],
      },
    ],
  });
  assert.deepEqual(cfg.virtualServices.map(onDownFor), ['remove', 'quiesce', 'remove']);
  const d = decideAll(cfg, () => 'down');
  assert.deepEqual(
    [...d.values()].map((x) => x.disposition),
    ['remove', 'quiesce', 'remove'],
  );
  const drained = decideAll(
    { ...cfg, virtualServices: cfg.virtualServices.map((vs) => ({ ...vs, realServers: vs.realServers.map((rs) => ({ ...rs, state: 'drain' as const })) })) },
    () => 'up',
  );
  assert.deepEqual(
    [...drained.values()].map((x) => x.disposition),
    ['quiesce', 'quiesce', 'quiesce'],
    'a drain keeps the destination (and its persistent clients)',
  );
});
