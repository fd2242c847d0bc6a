/**
 * The overview's live status: a 'stats' event changes only the shown services it changes (the others keep their
 * objects, so their cards are not rendered again), never puts back a health the browser already saw replaced, and
 * a 'health' event updates its one server at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStats, withTransition } from './overview-status.ts';
import type { HealthEvent, ServiceStatus } from './overview-types.ts';

const server = (name: string, health: string, since: string, active = 0) => ({
  name,
  operator: 'online',
  health,
  decision: { disposition: 'in-service', weight: 100 },
  counters: { activeConnections: active, totalConnections: active, bytesIn: 0, bytesOut: 0 },
  check: { type: 'http', target: '127.0.0.1:8080', health, since },
});
const service = (name: string, servers = [server('app-1', 'up', '2026-12-02T05:00:00.000Z')]): ServiceStatus => ({
  name,
  layer: 7,
  status: 'programmed',
  message: 'ok',
  realServers: servers,
});

test('a stats event changes only the shown services whose status it changes', () => {
  const a = service('a');
  const b = service('b');
  const current = new Map([
    ['a', a],
    ['b', b],
  ]);
  const busier = service('b', [server('app-1', 'up', '2026-12-02T05:00:00.000Z', 7)]);
  const next = withStats(current, [service('a'), busier, service('not-shown')], [{ name: 'a' }, { name: 'b' }]);
  assert.notEqual(next, current);
  assert.equal(next.get('a'), a, 'unchanged: the same object');
  assert.equal(next.get('b')?.realServers[0].counters?.activeConnections, 7);
  assert.equal(next.has('not-shown'), false, 'a service not on the page is not kept');
  assert.equal(withStats(next, [service('a')], [{ name: 'a' }, { name: 'b' }]), next, 'nothing changed: the same map');
});

test('a stats snapshot older than a transition the page shows does not put the old health back', () => {
  const down = service('a', [server('app-1', 'down', '2026-12-02T05:00:10.000Z')]);
  const staleUp = service('a', [server('app-1', 'up', '2026-12-02T05:00:00.000Z', 3)]);
  const next = withStats(new Map([['a', down]]), [staleUp], [{ name: 'a' }]);
  const [rs] = next.get('a')?.realServers ?? [];
  assert.equal(rs.health, 'down');
  assert.equal(rs.check?.since, '2026-12-02T05:00:10.000Z');
  assert.equal(rs.counters?.activeConnections, 3, "the snapshot's counters are taken");
  const newerUp = service('a', [server('app-1', 'up', '2026-12-02T05:00:20.000Z')]);
  assert.equal(withStats(next, [newerUp], [{ name: 'a' }]).get('a')?.realServers[0].health, 'up');
});

test('a health event updates its one server at once, with the check result in words', () => {
  const a = service('a', [server('app-1', 'up', '2026-12-02T05:00:00.000Z'), server('app-2', 'up', '2026-12-02T05:00:00.000Z')]);
  const other = service('b');
  const current = new Map([
    ['a', a],
    ['b', other],
  ]);
  const h: HealthEvent = {
    type: 'health',
    at: '2026-12-02T05:01:00.000Z',
    virtualService: 'a',
    realServer: 'app-2',
    previous: 'up',
    health: 'down',
    code: 'L4CON',
    message: 'Connection refused by 127.0.0.1:8080.',
    durationMs: 1,
    check: 'http',
    target: '127.0.0.1:8080',
  };
  const next = withTransition(current, h);
  const [one, two] = next.get('a')?.realServers ?? [];
  assert.equal(one, a.realServers[0], 'the other server is left as it was');
  assert.deepEqual([two.health, two.check?.health, two.check?.since, two.check?.code, two.check?.message], ['down', 'down', h.at, 'L4CON', h.message]);
  assert.equal(next.get('b'), other);
  assert.equal(withTransition(current, { ...h, virtualService: 'not-shown' }), current);
});
