/**
 * Accounts (issue 13, item 8) over real HTTP against a real SQLite file: changing one's own password, an admin's reset
 * that forces a change at next login, listing and ending sessions, and a person's own API keys. Every action is
 * audited exactly once; every route checks the role.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';

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

async function loggedIn(username: string, password = PASSWORD) {
  const c = new Client(h.baseUrl);
  const r = await c.login(username, password);
  assert.equal(r.status, 200, r.text);
  return c;
}

/** The audit rows one request wrote. */
async function auditOf(r: { headers: Headers }) {
  const id = r.headers.get('x-request-id');
  const rows = (await admin.req('GET', '/audit?limit=500')).body.items as {
    requestId: string;
    action: string;
    outcome: string;
    actor: string;
    after: unknown;
  }[];
  return rows.filter((e) => e.requestId === id);
}

describe('own password', () => {
  test('needs the current one, ends the other sessions, keeps this one, audited once', async () => {
    await user('pat', 'operator');
    const here = await loggedIn('pat');
    const elsewhere = await loggedIn('pat');

    const wrong = await here.req('POST', '/account/password', { currentPassword: 'not my password', newPassword: 'a brand new passphrase' });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.body.error.details.fields[0].path, 'currentPassword');
    assert.deepEqual(
      (await auditOf(wrong)).map((e) => [e.action, e.outcome]),
      [['account.password', 'invalid']],
    );

    const same = await here.req('POST', '/account/password', { currentPassword: PASSWORD, newPassword: PASSWORD });
    assert.equal(same.status, 422, same.text);
    assert.equal(same.body.error.details.fields[0].path, 'newPassword');

    const ok = await here.req('POST', '/account/password', { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.endedSessions, 1);
    const rows = await auditOf(ok);
    assert.deepEqual(
      rows.map((e) => [e.action, e.outcome, e.actor]),
      [['account.password', 'success', 'pat']],
    );
    assert.equal(JSON.stringify(rows[0]).includes('brand new'), false, 'the password is not in the audit row');

    assert.equal((await here.req('GET', '/virtual-services')).status, 200, 'this session goes on');
    assert.equal((await elsewhere.req('GET', '/virtual-services')).status, 401, 'the other session ended');
    assert.equal((await new Client(h.baseUrl).login('pat', PASSWORD)).status, 401, 'the old password no longer works');
    await loggedIn('pat', 'a brand new passphrase');
  });

  test("an API key cannot change its owner's password", async () => {
    const k = await admin.req('POST', '/api-keys', { name: 'pipeline-pw', role: 'admin' });
    const key = new Client(h.baseUrl);
    key.bearer = k.body.key;
    const r = await key.req('POST', '/account/password', { currentPassword: 'correct horse battery staple', newPassword: 'something else entirely' });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'AUTH_SESSION_ONLY');
  });
});

describe('an admin resets a password', () => {
  test('with a forced change: the user can do nothing but choose their own, then everything their role allows', async () => {
    const id = await user('quinn', 'operator');
    const before = await loggedIn('quinn');
    const reset = await admin.req('PATCH', `/users/${id}`, { password: 'temporary passphrase 1', mustChangePassword: true });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.body.mustChangePassword, true);
    assert.equal((await before.req('GET', '/session')).status, 401, "a reset ends the user's sessions");
    assert.deepEqual(
      (await auditOf(reset)).map((e) => [e.action, e.outcome]),
      [['user.update', 'success']],
    );

    const quinn = await loggedIn('quinn', 'temporary passphrase 1');
    assert.equal((await quinn.req('GET', '/session')).body.mustChangePassword, true);
    const blocked = await quinn.req('GET', '/virtual-services');
    assert.equal(blocked.status, 403, blocked.text);
    assert.equal(blocked.body.error.code, 'AUTH_PASSWORD_CHANGE_REQUIRED');
    const blockedWrite = await quinn.req('POST', '/apply', {});
    assert.equal(blockedWrite.body.error.code, 'AUTH_PASSWORD_CHANGE_REQUIRED');

    const changed = await quinn.req('POST', '/account/password', { currentPassword: 'temporary passphrase 1', newPassword: 'quinn chose this one' });
    assert.equal(changed.status, 200, changed.text);
    assert.equal((await quinn.req('GET', '/virtual-services')).status, 200);
    assert.equal((await quinn.req('GET', '/session')).body.mustChangePassword, false);
  });

  test("only an admin may reset someone else's password", async () => {
    const target = await user('rory', 'viewer');
    await user('sam', 'operator');
    const sam = await loggedIn('sam');
    const r = await sam.req('PATCH', `/users/${target}`, { password: 'sam would like this', mustChangePassword: true });
    assert.equal(r.status, 403, r.text);
    assert.deepEqual(
      (await auditOf(r)).map((e) => [e.action, e.outcome]),
      [['user.update', 'denied']],
    );
    await loggedIn('rory');
  });
});

describe('sessions', () => {
  test("a person lists and ends their own; ending someone else's needs an admin", async () => {
    await user('tess', 'viewer');
    const tess = await loggedIn('tess');
    const tessLaptop = await loggedIn('tess');
    const mine = await tess.req('GET', '/account/sessions');
    assert.equal(mine.status, 200, mine.text);
    assert.equal(mine.body.items.length, 2);
    assert.equal(mine.body.items.filter((s: { isCurrent: boolean }) => s.isCurrent).length, 1);
    assert.ok(mine.body.items.every((s: { username: string }) => s.username === 'tess'));

    assert.equal((await tess.req('GET', '/sessions')).status, 403, "a viewer does not list everyone's sessions");
    const all = await admin.req('GET', '/sessions');
    assert.equal(all.status, 200);
    const adminSession = all.body.items.find((s: { isCurrent: boolean }) => s.isCurrent);
    const refused = await tess.req('DELETE', `/sessions/${adminSession.id}`);
    assert.equal(refused.status, 403, refused.text);
    assert.deepEqual(
      (await auditOf(refused)).map((e) => [e.action, e.outcome]),
      [['session.revoke', 'denied']],
    );
    assert.equal((await admin.req('GET', '/session')).status, 200, 'the admin is still in');

    const laptop = mine.body.items.find((s: { isCurrent: boolean }) => !s.isCurrent);
    const ended = await tess.req('DELETE', `/sessions/${laptop.id}`);
    assert.equal(ended.status, 204, ended.text);
    assert.deepEqual(
      (await auditOf(ended)).map((e) => [e.action, e.outcome]),
      [['session.revoke', 'success']],
    );
    assert.equal((await tessLaptop.req('GET', '/session')).status, 401);
    assert.equal((await tess.req('GET', '/session')).status, 200);

    const current = (await tess.req('GET', '/account/sessions')).body.items[0];
    const byAdmin = await admin.req('DELETE', `/sessions/${current.id}`);
    assert.equal(byAdmin.status, 204, byAdmin.text);
    assert.equal((await tess.req('GET', '/session')).status, 401, 'an admin ended it');
    assert.equal((await admin.req('DELETE', `/sessions/${current.id}`)).status, 404);
  });
});

describe('own API keys', () => {
  test("made for one's role or less, shown once, listed with last use, revoked by the owner only", async () => {
    await user('uma', 'operator');
    const uma = await loggedIn('uma');
    const tooMuch = await uma.req('POST', '/account/api-keys', { name: 'too-much', role: 'admin' });
    assert.equal(tooMuch.status, 422, tooMuch.text);
    assert.equal(tooMuch.body.error.details.fields[0].path, 'role');
    const past = await uma.req('POST', '/account/api-keys', { name: 'past', role: 'operator', expiresAt: '2020-01-01T00:00:00Z' });
    assert.equal(past.body.error.details.fields[0].path, 'expiresAt');

    const made = await uma.req('POST', '/account/api-keys', {
      name: 'night-drain',
      role: 'operator',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    assert.equal(made.status, 201, made.text);
    assert.match(made.body.key, /^fk_/);
    assert.deepEqual(
      (await auditOf(made)).map((e) => [e.action, e.outcome, e.actor]),
      [['api-key.create', 'success', 'uma']],
    );
    assert.equal(JSON.stringify(await auditOf(made)).includes(made.body.key), false, 'the key is not in the audit trail');

    const key = new Client(h.baseUrl);
    key.bearer = made.body.key;
    assert.equal((await key.req('GET', '/virtual-services')).status, 200);
    const listed = await uma.req('GET', '/account/api-keys');
    assert.equal(listed.body.items.length, 1, 'only her own keys');
    assert.equal(listed.body.items[0].status, 'active');
    assert.ok(listed.body.items[0].lastUsedAt, 'its last use is recorded');
    assert.equal(listed.body.items[0].lastUsedFrom, '127.0.0.1');
    assert.equal(listed.text.includes(made.body.key), false, 'the key is never listed');

    const adminKey = await admin.req('POST', '/api-keys', { name: 'admins-own', role: 'viewer' });
    assert.equal((await uma.req('DELETE', `/account/api-keys/${adminKey.body.id}`)).status, 404, 'not her key');
    assert.equal((await uma.req('DELETE', '/api-keys/' + made.body.id)).status, 403, 'the admin route stays admin-only');
    const revoked = await uma.req('DELETE', `/account/api-keys/${made.body.id}`);
    assert.equal(revoked.status, 204, revoked.text);
    assert.deepEqual(
      (await auditOf(revoked)).map((e) => [e.action, e.outcome]),
      [['api-key.revoke', 'success']],
    );
    assert.equal((await key.req('GET', '/virtual-services')).status, 401);
  });

  test('an API key cannot make keys for its owner', async () => {
    const k = await admin.req('POST', '/api-keys', { name: 'pipeline-keys', role: 'viewer' });
    const key = new Client(h.baseUrl);
    key.bearer = k.body.key;
    const r = await key.req('POST', '/account/api-keys', { name: 'child', role: 'viewer' });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.body.error.code, 'AUTH_SESSION_ONLY');
  });
});
