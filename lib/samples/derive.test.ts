/**
 * From counters to samples, without a database: deltas and the seconds they cover, a counter that restarts (a new
 * engine process) counted from zero, a gap that gives no rate, layer 4 without layer 7 fields, and sums that add up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addSums, derivePoints, viewOf, type CounterReading, type Readings, type StatsService } from './derive.ts';

const T0 = Date.parse('2026-12-01T09:00:00.000Z');

function l7(n: number, over: Partial<CounterReading> = {}): CounterReading {
  return {
    activeConnections: 3,
    totalConnections: n,
    bytesIn: 100 * n,
    bytesOut: 1000 * n,
    requests: 10 * n,
    responses: { '1xx': 0, '2xx': 9 * n, '3xx': 0, '4xx': 0, '5xx': n, other: 0 },
    latencyMs: 4,
    ...over,
  };
}
const service = (c: CounterReading, servers: Record<string, CounterReading> = {}): StatsService[] => [
  { name: 'symphony-web', counters: c, realServers: Object.entries(servers).map(([name, counters]) => ({ name, counters })) },
];

test('a first reading has no rate; the next one gives deltas over the seconds between them', () => {
  const r: Readings = new Map();
  const [first] = derivePoints(r, service(l7(5)), T0);
  assert.equal(first.spanS, 0);
  assert.equal(first.requests, 0);
  assert.equal(viewOf(first).requestsPerS, null, 'no rate without a previous reading');
  assert.equal(viewOf(first).connections, 3, 'a gauge is known at once');
  const [second] = derivePoints(r, service(l7(7)), T0 + 2000);
  assert.deepEqual(
    { span: second.spanS, req: second.requests, conns: second.newConns, in: second.bytesIn, out: second.bytesOut, r2xx: second.r2xx, r5xx: second.r5xx },
    { span: 2, req: 20, conns: 2, in: 200, out: 2000, r2xx: 18, r5xx: 2 },
  );
  const v = viewOf(second);
  assert.equal(v.requestsPerS, 10);
  assert.equal(v.responsesPerS['2xx'], 9);
  assert.equal(v.responsesPerS['5xx'], 1);
  assert.equal(v.bytesOutPerS, 1000);
  assert.equal(v.latencyMs, 4);
});

test('a counter that goes back (a new engine process) counts from zero, never negative', () => {
  const r: Readings = new Map();
  derivePoints(r, service(l7(1000)), T0);
  const [p] = derivePoints(r, service(l7(3)), T0 + 2000);
  assert.equal(p.requests, 30);
  assert.equal(p.newConns, 3);
  assert.ok(p.bytesIn >= 0 && p.bytesOut >= 0);
});

test('readings further apart than the gap limit give no rate (a 60 s outage is not one 2 s burst)', () => {
  const r: Readings = new Map();
  derivePoints(r, service(l7(1)), T0);
  const [p] = derivePoints(r, service(l7(100)), T0 + 60_000);
  assert.equal(p.spanS, 0);
  assert.equal(p.requests, 0);
  assert.equal(viewOf(p).requestsPerS, null);
  const [q] = derivePoints(r, service(l7(110)), T0 + 62_000);
  assert.equal(viewOf(q).requestsPerS, 50, 'differencing resumes with the next reading');
});

test("each real server is its own series; a service without its own counters is its servers' sum", () => {
  const r: Readings = new Map();
  const s: StatsService[] = [
    {
      name: 'pacs',
      realServers: [
        { name: 'a', counters: l7(1) },
        { name: 'b', counters: l7(2) },
      ],
    },
  ];
  derivePoints(r, s, T0);
  const pts = derivePoints(
    r,
    [
      {
        name: 'pacs',
        realServers: [
          { name: 'a', counters: l7(2) },
          { name: 'b', counters: l7(4) },
        ],
      },
    ],
    T0 + 2000,
  );
  assert.deepEqual(
    pts.map((p) => [p.realServer, p.requests]),
    [
      ['', 30],
      ['a', 10],
      ['b', 20],
    ],
  );
  assert.equal(pts[0].connSum, 6, 'active connections of both servers');
});

test('layer 4 counters have no requests, responses or latency: null, not zero', () => {
  const r: Readings = new Map();
  const c = { activeConnections: 1, totalConnections: 10, bytesIn: 5, bytesOut: 7 };
  derivePoints(r, service(c), T0);
  const [p] = derivePoints(r, service({ ...c, totalConnections: 14 }), T0 + 2000);
  assert.equal(p.requests, null);
  assert.equal(p.r2xx, null);
  assert.equal(p.latencyWeight, null);
  const v = viewOf(p);
  assert.equal(v.newConnectionsPerS, 2);
  assert.equal(v.requestsPerS, null);
  assert.equal(v.latencyMs, null);
});

test('sums add up: a mean latency is per request, a mean gauge per sample, a max is a max', () => {
  const r: Readings = new Map();
  derivePoints(r, service(l7(0)), T0);
  const [a] = derivePoints(r, service(l7(1, { latencyMs: 10, activeConnections: 2 })), T0 + 2000); // 10 requests at 10 ms
  const [b] = derivePoints(r, service(l7(4, { latencyMs: 2, activeConnections: 8 })), T0 + 4000); // 30 requests at 2 ms
  const v = viewOf(addSums(a, b));
  assert.equal(v.latencyMs, (10 * 10 + 30 * 2) / 40);
  assert.equal(v.connections, 5);
  assert.equal(v.connectionsMax, 8);
  assert.equal(v.requestsPerS, 10);
});

test('a service no longer reported is forgotten: back again, it starts without a rate', () => {
  const r: Readings = new Map();
  derivePoints(r, service(l7(1)), T0);
  derivePoints(r, [], T0 + 2000);
  const [p] = derivePoints(r, service(l7(2)), T0 + 4000);
  assert.equal(p.spanS, 0);
});
