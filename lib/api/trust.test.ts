/**
 * Keys and sessions follow their user; unique-constraint races, failed logins and throttling — over real HTTP against
 * a real SQLite file (issue 11, items 3 and 5).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';
import { db } from '../db.ts';
import { checkApiKey } from '../auth/session.ts';
import { duplicateError } from '../errors.ts';

let h: Harness;
let admin: Client;
const PASSWORD = 'a long enough password';

before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
});
after(async () => {
  await h.close();
});

async function user(username: string, role: string) {
  const r = await admin.req('POST', '/users', { username, password: PASSWORD, role });
  assert.equal(r.status, 201, r.text);
  return r.body.id as string;
}

async function loggedIn(username: string) {
  const c = new Client(h.baseUrl);
  assert.equal((await c.login(username, PASSWORD)).status, 200);
  return c;
}

async function keyFor(c: Client, role: string, extra: Record<string, unknown> = {}) {
  const r = await c.req('POST', '/api-keys', { name: `key-${role}-${Math.random().toString(36).slice(2, 8)}`, role, ...extra });
  assert.equal(r.status, 201, r.text);
  const k = new Client(h.baseUrl);
  k.bearer = r.body.key;
  return { client: k, id: r.body.id as string, key: r.body.key as string };
}

const auditOf = async (requestId: string) =>
  (await admin.req('GET', '/audit?limit=500')).body.items.filter((e: { requestId: string }) => e.requestId === requestId);

describe('keys and sessions follow the user', () => {
  test("a demoted admin's key loses its power on the next request, and their sessions end", async () => {
    const id = await user('alice', 'admin');
    const alice = await loggedIn('alice');
    const key = await keyFor(alice, 'admin');
    assert.equal((await key.client.req('POST', '/users', { username: 'made-by-key', password: PASSWORD, role: 'viewer' })).status, 201);

    const demoted = await admin.req('PATCH', `/users/${id}`, { role: 'viewer' });
    assert.equal(demoted.status, 200, demoted.text);
    assert.equal((await alice.req('GET', '/session')).status, 401, 'the session ended');
    const refused = await key.client.req('POST', '/users', { username: 'made-after-demotion', password: PASSWORD, role: 'admin' });
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.body.error.message, /viewer/);
    assert.equal((await key.client.req('GET', '/virtual-services')).status, 200, 'it keeps what a viewer may do');
    const listed = (await admin.req('GET', '/api-keys')).body.items.find((k: { id: string }) => k.id === key.id);
    assert.deepEqual(
      { role: listed.role, effectiveRole: listed.effectiveRole, status: listed.status },
      { role: 'admin', effectiveRole: 'viewer', status: 'active' },
    );
    const row = (await admin.req('GET', `/audit?action=user.update&objectId=${id}&limit=1`)).body.items[0];
    assert.equal(row.after.endedSessions, 1);
  });

  test("an operator's auditor key acts as a viewer (the only role within both)", async () => {
    await user('olga', 'admin');
    const olga = await loggedIn('olga');
    const key = await keyFor(olga, 'auditor');
    assert.equal((await key.client.req('GET', '/audit?limit=1')).status, 200);
    const id = (await admin.req('GET', '/users')).body.items.find((u: { username: string }) => u.username === 'olga').id;
    assert.equal((await admin.req('PATCH', `/users/${id}`, { role: 'operator' })).status, 200);
    assert.equal((await key.client.req('GET', '/audit?limit=1')).status, 403);
    assert.equal((await key.client.req('POST', '/apply', {})).status, 403, "nor does it gain the operator's apply");
  });

  test("a disabled owner's keys stop working, and work again when enabled; a deleted owner's keys are gone", async () => {
    const id = await user('bob', 'operator');
    const bob = await loggedIn('bob');
    const key = await keyFor(admin, 'viewer');
    const bobsKey = await (async () => {
      // Only admins create keys (users:write): make bob an admin for a moment, then back.
      await admin.req('PATCH', `/users/${id}`, { role: 'admin' });
      const b = await loggedIn('bob');
      const k = await keyFor(b, 'operator');
      await admin.req('PATCH', `/users/${id}`, { role: 'operator' });
      return k;
    })();
    assert.equal((await bob.req('GET', '/session')).status, 401, 'the role changes ended the first session too');
    assert.equal((await bobsKey.client.req('GET', '/virtual-services')).status, 200);
    assert.equal((await admin.req('PATCH', `/users/${id}`, { isDisabled: true })).status, 200);
    assert.equal((await bobsKey.client.req('GET', '/virtual-services')).status, 401);
    assert.equal((await admin.req('GET', '/api-keys')).body.items.find((k: { id: string }) => k.id === bobsKey.id).status, 'owner-disabled');
    assert.equal((await admin.req('PATCH', `/users/${id}`, { isDisabled: false })).status, 200);
    assert.equal((await bobsKey.client.req('GET', '/virtual-services')).status, 200);
    const del = await admin.req('DELETE', `/users/${id}`);
    assert.equal(del.status, 204, del.text);
    assert.equal((await bobsKey.client.req('GET', '/virtual-services')).status, 401);
    const row = (await admin.req('GET', `/audit?action=user.delete&objectId=${id}&limit=1`)).body.items[0];
    assert.deepEqual(row.after, { endedSessions: 0, removedApiKeys: 1 });
    assert.equal((await key.client.req('GET', '/virtual-services')).status, 200, "other users' keys are untouched");
  });

  test('keys may expire: refused after their time with a sentence, and their last use is shown', async () => {
    const past = await admin.req('POST', '/api-keys', { name: 'too-late', role: 'viewer', expiresAt: '2020-01-01T00:00:00Z' });
    assert.equal(past.status, 422);
    assert.equal(past.body.error.details.fields[0].path, 'expiresAt');
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const key = await keyFor(admin, 'viewer', { expiresAt });
    const created = (await admin.req('GET', '/audit?action=api-key.create&limit=1')).body.items[0];
    assert.equal(created.after.expiresAt, expiresAt, 'the audit row keeps the date as an ISO string');

    let listed = (await admin.req('GET', '/api-keys')).body.items.find((k: { id: string }) => k.id === key.id);
    assert.deepEqual([listed.lastUsedAt, listed.lastUsedFrom, listed.expiresAt], [null, null, expiresAt]);
    assert.equal((await key.client.req('GET', '/virtual-services')).status, 200);
    listed = (await admin.req('GET', '/api-keys')).body.items.find((k: { id: string }) => k.id === key.id);
    assert.ok(listed.lastUsedAt);
    assert.equal(listed.lastUsedFrom, '127.0.0.1');

    // The clock moves on (injected): the same key is refused once its time has come.
    const later = new Date(Date.parse(expiresAt) + 1);
    assert.deepEqual(await checkApiKey(key.key, { now: later, isUse: false }), { reason: 'expired', expiresAt: new Date(expiresAt) });
    await db().apiKey.update({ where: { id: key.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const r = await key.client.req('GET', '/virtual-services');
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'AUTH_KEY_EXPIRED');
    const write = await key.client.req('POST', '/virtual-services', {});
    assert.equal(write.status, 401);
    assert.equal((await auditOf(write.headers.get('x-request-id')!))[0].message, 'API key expired');
    assert.equal((await admin.req('GET', '/api-keys')).body.items.find((k: { id: string }) => k.id === key.id).status, 'expired');
  });
});

describe('unique-constraint races', () => {
  test('six parallel POST /users with one username: one 201, five 409 naming the field, each audited once', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => admin.req('POST', '/users', { username: 'carol', password: PASSWORD, role: 'viewer' })));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409], results.map((r) => r.text).join('\n'));
    for (const r of results.filter((x) => x.status === 409)) {
      assert.equal(r.body.error.code, 'API_DUPLICATE');
      assert.equal(r.body.error.message, 'There is already a user with this username; choose another username.');
      assert.deepEqual(
        r.body.error.details.fields.map((f: { path: string }) => f.path),
        ['username'],
      );
    }
    for (const r of results) {
      const rows = await auditOf(r.headers.get('x-request-id')!);
      assert.equal(rows.length, 1, `one audit row for ${r.status}`);
      assert.equal(rows[0].outcome, r.status === 201 ? 'success' : 'invalid');
    }
    assert.equal((await admin.req('GET', '/users')).body.items.filter((u: { username: string }) => u.username === 'carol').length, 1);
  });

  test("the database's own refusal (P2002 through the driver adapter) maps to the same 409", async () => {
    const existing = await db().user.findFirstOrThrow();
    const caught = await db()
      .user.create({ data: { username: existing.username, passwordHash: 'x', role: 'viewer' } })
      .catch((e: unknown) => e);
    const e = duplicateError(caught)!;
    assert.equal(e.status, 409);
    assert.deepEqual(e.details, { fields: [{ path: 'username', message: 'This username is taken.' }] });
    assert.equal(duplicateError(new Error('something else')), undefined);
    assert.equal(
      duplicateError({ code: 'P2002', meta: { modelName: 'RealServer', target: ['virtualServiceId', 'name'] } })!.message,
      'There is already a real server with this name; choose another name.',
    );
  });
});

/** A login from a chosen loopback address (the harness takes the client's address from the socket). */
function loginFrom(localAddress: string, username: string, password: string): Promise<{ status: number; requestId: string }> {
  const body = JSON.stringify({ username, password });
  const url = new URL(h.baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/api/v1/session',
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, requestId: String(res.headers['x-request-id']) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('failed logins', () => {
  test('five wrong passwords lock that user from that address only: other accounts there, and that user elsewhere, log in', async () => {
    await user('dave', 'operator');
    await user('erin', 'operator');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await loginFrom('127.0.0.3', 'dave', `wrong-${i}`)).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    assert.equal((await loginFrom('127.0.0.3', 'dave', PASSWORD)).status, 429, 'even the right password waits out the lock there');
    assert.equal((await loginFrom('127.0.0.3', 'erin', PASSWORD)).status, 200, 'another account from the same address');
    assert.equal((await loginFrom('127.0.0.4', 'dave', PASSWORD)).status, 200, "the same account from its owner's address");
  });

  test('the username of a failed login is recorded only if such a user exists', async () => {
    const typo = await loginFrom('127.0.0.5', 'Tr0ub4dor&3-typed-in-the-wrong-box', 'x');
    assert.equal(typo.status, 401);
    const [row] = await auditOf(typo.requestId);
    assert.deepEqual([row.actor, row.message, row.objectId], ['unknown user', 'unknown username', null]);
    const wrong = await loginFrom('127.0.0.5', 'erin', 'not her password');
    const [row2] = await auditOf(wrong.requestId);
    assert.deepEqual([row2.actor, row2.message], ['erin', 'wrong password']);
    assert.ok(row2.objectId);
    const everything = JSON.stringify((await admin.req('GET', '/audit?limit=500')).body) + JSON.stringify(await db().loginThrottle.findMany());
    assert.ok(!everything.includes('Tr0ub4dor'), 'what was typed is kept nowhere: not in the audit trail, not in the throttle table');
  });
});
