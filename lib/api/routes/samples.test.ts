/**
 * GET /api/v1/virtual-services/{id}/samples over real HTTP against a real SQLite file: the series of a service or
 * one of its real servers, every step of the range present (null where nothing was sampled), health transitions in
 * the range; readable by a viewer; its query validated, refusals naming the field; 404 for an unknown service.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, setupAdmin, startHarness, type Harness } from '../../testing/harness.ts';
import { insertSamples } from '../../samples/store.ts';
import { recordTransitions } from '../../health-history.ts';
import type { SamplePoint } from '../../samples/derive.ts';

let h: Harness;
let admin: Client;
let viewer: Client;
let vsId = '';
let rsId = '';
let otherVsRsId = '';
let sampledAt = 0;

const point = (at: number, realServer: string, requests: number): SamplePoint => ({
  virtualService: 'symphony-web',
  realServer,
  at,
  samples: 1,
  spanS: 2,
  connSum: 3,
  connMax: 3,
  newConns: 2,
  bytesIn: 400,
  bytesOut: 4000,
  requests,
  r1xx: 0,
  r2xx: requests - 2,
  r3xx: 0,
  r4xx: 0,
  r5xx: 2,
  rOther: 0,
  latencySumMs: 5 * requests,
  latencyWeight: requests,
});

before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
  const mk = (name: string, port: number) =>
    admin.req('POST', '/virtual-services', {
      name,
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [port],
      scheduler: 'wrr',
      healthCheck: { type: 'none' },
      realServers: [
        { name: 'sym-app-1', address: '127.0.0.1', port: port + 1 },
        { name: 'sym-app-2', address: '127.0.0.1', port: port + 2 },
      ],
    });
  const vs = await mk('symphony-web', 18080);
  assert.equal(vs.status, 201, vs.text);
  vsId = vs.body.id;
  rsId = vs.body.realServers[0].id;
  const other = await mk('pacs-web', 18090);
  assert.equal(other.status, 201, other.text);
  otherVsRsId = other.body.realServers[0].id;
  const k = await admin.req('POST', '/api-keys', { name: 'wallboard', role: 'viewer' });
  viewer = new Client(h.baseUrl);
  viewer.bearer = k.body.key;
  // Two samples 10 s ago (the route reads the wall clock), the service and its first server.
  sampledAt = Math.floor((Date.now() - 10_000) / 2000) * 2000;
  await insertSamples([point(sampledAt, '', 40), point(sampledAt, 'sym-app-1', 20), point(sampledAt - 2000, '', 10)]);
  await recordTransitions('2026-12-01T08:00:00.000Z', [
    {
      type: 'health',
      seq: 1,
      at: new Date(sampledAt).toISOString(),
      virtualService: 'symphony-web',
      realServer: 'sym-app-2',
      previous: 'up',
      health: 'down',
      code: 'L4CON',
      message: 'TCP connect to 127.0.0.1:18082 failed: connection refused',
      durationMs: 1,
      check: 'connect',
      target: '127.0.0.1:18082',
    },
  ]);
});
after(async () => {
  await h.close();
});

describe('samples', () => {
  test('the last hour of a service: 1,800 steps of 2 s, rates per second, gaps null, transitions marked', async () => {
    const r = await viewer.req('GET', `/virtual-services/${vsId}/samples`);
    assert.equal(r.status, 200, r.text);
    const b = r.body;
    assert.equal(b.range, 'hour');
    assert.equal(b.stepS, 2);
    assert.equal(b.layer, 7);
    assert.equal(b.realServer, null);
    assert.equal(b.t.length, 1800);
    const i = b.t.indexOf(sampledAt / 1000);
    assert.ok(i > 0, 'the sample is inside the range');
    assert.deepEqual(
      [b.requestsPerS[i], b.responsesPerS['5xx'][i], b.bytesOutPerS[i], b.connections[i], b.latencyMs[i], b.newConnectionsPerS[i]],
      [20, 1, 2000, 3, 5, 1],
    );
    assert.equal(b.requestsPerS[i - 1], 5);
    assert.equal(b.requestsPerS[0], null, 'nothing was sampled an hour ago');
    assert.deepEqual(
      b.transitions.map((t: { realServer: string; health: string }) => [t.realServer, t.health]),
      [['sym-app-2', 'down']],
    );
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  test('one real server: its own series and only its transitions', async () => {
    const r = await viewer.req('GET', `/virtual-services/${vsId}/samples?realServer=${rsId}&range=hour`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.realServer, 'sym-app-1');
    assert.equal(r.body.requestsPerS[r.body.t.indexOf(sampledAt / 1000)], 10);
    assert.deepEqual(r.body.transitions, []);
  });

  test('day, week and year: their steps, and the newest part read from the finer tier until it is rolled up', async () => {
    for (const [range, stepS, n] of [
      ['day', 60, 1440],
      ['week', 600, 1008],
      ['year', 86400, 365],
    ] as const) {
      const r = await admin.req('GET', `/virtual-services/${vsId}/samples?range=${range}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.stepS, stepS);
      assert.equal(r.body.t.length, n);
      const step = stepS * 1000;
      const i = r.body.t.indexOf((Math.floor(sampledAt / step) * step) / 1000);
      assert.ok(i >= 0, `${range}: the step holding the samples`);
      // Nothing is rolled up in this test: tier 0 answers. The 2 s samples fall in one step (or two, at an edge).
      const shown = (r.body.requestsPerS as (number | null)[]).flatMap((v, j) => (v === null ? [] : [[j, v]]));
      assert.ok(shown.length >= 1 && shown.length <= 2 && shown.every(([j]) => j >= i), `${range}: the recent samples are shown (${JSON.stringify(shown)})`);
      // 50 requests over the 4 s the two samples cover.
      if (shown.length === 1) assert.equal(shown[0][1], 12.5);
    }
  });

  test('the query is validated and refusals name the field', async () => {
    const cases: [string, string][] = [
      ['range=month', 'range'],
      ['range=', 'range'],
      [`realServer=${otherVsRsId}`, 'realServer'],
      ['realServer=', 'realServer'],
      ['step=5', 'step'],
    ];
    for (const [q, field] of cases) {
      const r = await viewer.req('GET', `/virtual-services/${vsId}/samples?${q}`);
      assert.equal(r.status, 422, `${q}: ${r.text}`);
      assert.equal(r.body.error.code, 'API_VALIDATION');
      assert.equal(r.body.error.details.fields[0].path, field, q);
    }
  });

  test('an unknown virtual service is 404; no credentials is 401', async () => {
    const r = await viewer.req('GET', '/virtual-services/no-such-service/samples');
    assert.equal(r.status, 404);
    assert.match(r.body.error.message, /Virtual service no-such-service was not found/);
    const anon = await new Client(h.baseUrl).req('GET', `/virtual-services/${vsId}/samples`);
    assert.equal(anon.status, 401);
  });

  test('is described in the OpenAPI document with its range', async () => {
    const doc = (await new Client(h.baseUrl).req('GET', '/openapi.json')).body;
    const op = doc.paths['/api/v1/virtual-services/{id}/samples'].get;
    const range = op.parameters.find((p: { name: string }) => p.name === 'range');
    assert.deepEqual(range.schema.enum, ['hour', 'day', 'week', 'year']);
  });
});
