/**
 * GET /api/v1/real-servers/{id}/health-history over real HTTP against a real SQLite file: newest first, limited,
 * readable by a viewer, 404 for an unknown real server, 401 without credentials, and in the OpenAPI document.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';
import { recordTransitions } from '../health-history.ts';
import type { HealthTransitionEvent } from '../../engine/api-types.ts';

let h: Harness;
let admin: Client;
let viewer: Client;
let rsId = '';
let otherRsId = '';

const T0 = Date.parse('2026-12-01T09:00:00.000Z');
const transition = (seq: number, realServer = 'sym-app-1'): HealthTransitionEvent => ({
  type: 'health',
  seq,
  at: new Date(T0 + seq * 1000).toISOString(),
  virtualService: 'symphony-web',
  realServer,
  previous: seq % 2 ? 'up' : 'down',
  health: seq % 2 ? 'down' : 'up',
  code: seq % 2 ? 'L7STS' : 'L7OK',
  message: seq % 2 ? 'HTTP 503 from /health on 127.0.0.1:18081 (expected 200-399)' : 'HTTP 200 from /health on 127.0.0.1:18081',
  durationMs: 2.25,
  check: 'http',
  target: '127.0.0.1:18081',
});

before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
  const vs = await admin.req('POST', '/virtual-services', {
    name: 'symphony-web',
    layer: 7,
    mode: 'http',
    address: '127.0.0.1',
    ports: [18080],
    scheduler: 'wrr',
    healthCheck: { type: 'http', intervalMs: 1000, timeoutMs: 500, rise: 1, fall: 1, http: { path: '/health' } },
    realServers: [
      { name: 'sym-app-1', address: '127.0.0.1', port: 18081 },
      { name: 'sym-app-2', address: '127.0.0.1', port: 18082 },
    ],
  });
  assert.equal(vs.status, 201, vs.text);
  rsId = vs.body.realServers[0].id;
  otherRsId = vs.body.realServers[1].id;
  const k = await admin.req('POST', '/api-keys', { name: 'wallboard', role: 'viewer' });
  viewer = new Client(h.baseUrl);
  viewer.bearer = k.body.key;
  await recordTransitions(
    '2026-12-01T08:59:00.000Z',
    [1, 2, 3, 4, 5, 6, 7].map((n) => transition(n)),
  );
  await recordTransitions('2026-12-01T08:59:00.000Z', [transition(8, 'sym-app-2')]);
});
after(async () => {
  await h.close();
});

describe('health history', () => {
  test('newest first, 50 by default, only this server, each with time, change, code, sentence and duration', async () => {
    const r = await viewer.req('GET', `/real-servers/${rsId}/health-history`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.virtualService, 'symphony-web');
    assert.equal(r.body.realServer, 'sym-app-1');
    assert.deepEqual(
      r.body.items.map((i: { at: string }) => i.at),
      [7, 6, 5, 4, 3, 2, 1].map((n) => transition(n).at),
    );
    const [newest] = r.body.items;
    assert.deepEqual(
      { ...newest, id: 0 },
      {
        id: 0,
        at: transition(7).at,
        previous: 'up',
        health: 'down',
        code: 'L7STS',
        message: 'HTTP 503 from /health on 127.0.0.1:18081 (expected 200-399)',
        durationMs: 2.25,
        check: 'http',
        target: '127.0.0.1:18081',
      },
    );
    const other = await viewer.req('GET', `/real-servers/${otherRsId}/health-history`);
    assert.deepEqual(
      other.body.items.map((i: { health: string }) => i.health),
      ['up'],
    );
  });

  test('limit takes the newest n, from 1 to 500', async () => {
    const r = await admin.req('GET', `/real-servers/${rsId}/health-history?limit=2`);
    assert.deepEqual(
      r.body.items.map((i: { at: string }) => i.at),
      [transition(7).at, transition(6).at],
    );
    for (const bad of ['0', '501', 'lots']) {
      const b = await admin.req('GET', `/real-servers/${rsId}/health-history?limit=${bad}`);
      assert.equal(b.status, 422, `limit=${bad}: ${b.text}`);
      assert.equal(b.body.error.details.fields[0].path, 'limit');
    }
    assert.equal((await admin.req('GET', `/real-servers/${rsId}/health-history?limit=500`)).status, 200);
  });

  test('an unknown real server is 404; no credentials is 401', async () => {
    const r = await viewer.req('GET', '/real-servers/no-such-server/health-history');
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'API_NOT_FOUND');
    assert.match(r.body.error.message, /Real server no-such-server was not found/);
    const anon = await new Client(h.baseUrl).req('GET', `/real-servers/${rsId}/health-history`);
    assert.equal(anon.status, 401);
    assert.equal(anon.body.error.code, 'AUTH_REQUIRED');
  });

  test('is described in the OpenAPI document with its limit and response', async () => {
    const doc = (await new Client(h.baseUrl).req('GET', '/openapi.json')).body;
    const op = doc.paths['/api/v1/real-servers/{id}/health-history'].get;
    assert.match(op.description, /viewer/);
    const limit = op.parameters.find((p: { name: string }) => p.name === 'limit');
    assert.equal(limit.in, 'query');
    assert.equal(limit.schema.maximum, 500);
    assert.ok(op.responses['200'].content['application/json'].schema.properties.items);
  });
});
