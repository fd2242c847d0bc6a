/**
 * The live edge of the hour graph: a point for a slot the graph has replaces it, a later one is appended (empty
 * slots in between stay null, a gap), the hour never grows past 1,800 slots, and a point older than the edge that
 * is not one of its slots changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withPoint, type Samples } from './samples.ts';
import type { SampleView } from '../../lib/samples/derive.ts';

const T = 1_796_140_000;
function hour(n: number): Samples {
  const nulls = () => Array.from({ length: n }, () => null);
  return {
    virtualService: 'symphony-web',
    realServer: null,
    layer: 7,
    range: 'hour',
    stepS: 2,
    t: Array.from({ length: n }, (_, i) => T + 2 * i),
    connections: nulls(),
    connectionsMax: nulls(),
    newConnectionsPerS: nulls(),
    bytesInPerS: nulls(),
    bytesOutPerS: nulls(),
    requestsPerS: nulls(),
    latencyMs: nulls(),
    responsesPerS: { '1xx': nulls(), '2xx': nulls(), '3xx': nulls(), '4xx': nulls(), '5xx': nulls(), other: nulls() },
    transitions: [],
  };
}
const view = (rps: number): SampleView => ({
  connections: 2,
  connectionsMax: 3,
  newConnectionsPerS: 1,
  bytesInPerS: 10,
  bytesOutPerS: 20,
  requestsPerS: rps,
  latencyMs: 4,
  responsesPerS: { '1xx': 0, '2xx': rps, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
});

test('a point for the last slot replaces it, in a copy', () => {
  const s = hour(1800);
  const n = withPoint(s, T + 2 * 1799, view(7));
  assert.equal(n.t.length, 1800);
  assert.equal(n.requestsPerS[1799], 7);
  assert.equal(n.responsesPerS['2xx'][1799], 7);
  assert.equal(s.requestsPerS[1799], null, 'the state it came from is not changed');
});

test('a later point is appended after null slots for the steps it skipped, and the oldest leave the hour', () => {
  const s = hour(1800);
  const at = T + 2 * 1799 + 6;
  const n = withPoint(s, at, view(5));
  assert.equal(n.t.length, 1800);
  assert.deepEqual(n.t.slice(-3), [at - 4, at - 2, at]);
  assert.deepEqual(n.requestsPerS.slice(-3), [null, null, 5]);
  assert.equal(n.t[0], T + 6);
  assert.equal(n.latencyMs.length, 1800);
});

test('a point older than the edge that is no slot changes nothing', () => {
  const s = hour(10);
  assert.equal(withPoint(s, T + 3, view(1)), s);
});
