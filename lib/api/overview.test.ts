/**
 * GET /overview over the real API, a real engine process and a real SQLite file: one page of services, filtered and
 * sorted over all of them, each with the engine's status of that service only; the engine's summary; the last apply.
 * Layer 7 services on 127.0.0.1 whose real servers are loopback ports nothing listens on; health checks none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, setupAdmin, startHarness } from '../testing/harness.ts';

const PASSWORD = 'a viewer passphrase 1';
const service = (i: number, name = `svc-${String(i).padStart(2, '0')}`) => ({
  name,
  layer: 7,
  mode: 'http',
  address: '127.0.0.1',
  ports: [21000 + i],
  healthCheck: { type: 'none' },
  description: i === 7 ? 'Symphony triage board' : undefined,
  realServers: [
    { name: `${name}-app-1`, address: '127.0.0.1', port: 41000 + i },
    { name: `${name}-app-2`, address: i === 3 ? '127.0.0.99' : '127.0.0.1', port: 42000 + i },
  ],
});

type Item = { name: string; realServers: { name: string }[]; status: { name: string; status: string; counters?: unknown; realServers: unknown[] } | null };

test('the overview answers one page of services with their status, filtered and sorted over all of them', async () => {
  const h = await startHarness();
  try {
    const admin = await setupAdmin(h);
    for (let i = 0; i < 30; i++) assert.equal((await admin.req('POST', '/virtual-services', service(i))).status, 201);
    assert.equal((await admin.req('POST', '/apply', { comment: 'overview' })).status, 200);
    // Staged after the apply: listed, but the engine runs no such service.
    assert.equal((await admin.req('POST', '/virtual-services', service(30, 'aaa-staged'))).status, 201);

    assert.equal((await admin.req('POST', '/users', { username: 'vera', password: PASSWORD, role: 'viewer' })).status, 201);
    const vera = new Client(h.baseUrl);
    assert.equal((await vera.login('vera', PASSWORD)).status, 200);
    assert.equal((await new Client(h.baseUrl).req('GET', '/overview')).status, 401);

    const first = await vera.req('GET', '/overview');
    assert.equal(first.status, 200, first.text);
    assert.deepEqual([first.body.total, first.body.matching, first.body.offset, first.body.limit, first.body.items.length], [31, 31, 0, 25, 25]);
    assert.deepEqual(
      first.body.items.slice(0, 2).map((v: Item) => v.name),
      ['svc-00', 'svc-01'],
      'in the configured order',
    );
    const [s0] = first.body.items as Item[];
    assert.equal(s0.status?.name, 'svc-00', "each service carries the engine's status of itself");
    assert.equal(s0.status?.status, 'programmed');
    assert.equal(s0.status?.realServers.length, 2);
    assert.equal(first.body.engine.isReachable, true);
    assert.equal(first.body.isInSync, true);
    assert.ok(first.body.engine.capabilities.length > 0);
    assert.equal(first.body.lastApply.status, 'applied');
    assert.equal(first.body.lastApply.author, 'admin');
    assert.equal(first.body.ha, null);
    // Where the time went, for the browser's resource timings.
    assert.match(first.headers.get('server-timing') ?? '', /^engine;dur=[\d.]+, index;dur=[\d.]+, page;dur=[\d.]+, total;dur=[\d.]+$/);

    const second = await vera.req('GET', '/overview?offset=25&limit=25');
    assert.deepEqual(
      second.body.items.map((v: Item) => v.name),
      ['svc-25', 'svc-26', 'svc-27', 'svc-28', 'svc-29', 'aaa-staged'],
    );
    assert.equal(second.body.items.at(-1).status, null, 'a staged service the engine does not run has no status');

    // The filter searches every service: a real server's address, a description, a name; case-insensitive.
    const byAddress = await vera.req('GET', '/overview?q=127.0.0.99');
    assert.deepEqual(
      byAddress.body.items.map((v: Item) => v.name),
      ['svc-03'],
    );
    assert.equal(byAddress.body.matching, 1);
    assert.equal(byAddress.body.total, 31);
    assert.deepEqual(
      (await vera.req('GET', '/overview?q=TRIAGE')).body.items.map((v: Item) => v.name),
      ['svc-07'],
    );
    assert.deepEqual(
      (await vera.req('GET', '/overview?q=svc-29-app-2')).body.items.map((v: Item) => v.name),
      ['svc-29'],
    );

    const byName = await vera.req('GET', '/overview?sort=name&limit=2');
    assert.deepEqual(
      byName.body.items.map((v: Item) => v.name),
      ['aaa-staged', 'svc-00'],
    );
    const problems = await vera.req('GET', '/overview?sort=problems&limit=2');
    assert.deepEqual(
      problems.body.items.map((v: Item) => v.name),
      ['aaa-staged', 'svc-00'],
      'not programmed first, then the configured order',
    );
    // Ranked by every service's health, shown with the page's full status (the counters included).
    assert.equal(problems.body.items[1].status?.status, 'programmed');
    assert.ok(problems.body.items[1].status?.counters, "the page's services carry their counters");
    assert.deepEqual((await vera.req('GET', '/overview?q=no-such-service')).body.items, [], 'a page of no services asks the engine for none');

    assert.equal((await vera.req('GET', '/overview?limit=101')).status, 422);
    assert.equal((await vera.req('GET', '/overview?sort=colour')).status, 422);
  } finally {
    await h.close();
  }
});
