/** The audit chain detects an edited, deleted or inserted row, and names the first one. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { setupAdmin, startHarness, type Harness, type Client } from './testing/harness.ts';

let h: Harness;
let admin: Client;
before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
  for (let i = 0; i < 5; i++) await admin.req('POST', '/users', { username: `user${i}`, password: 'a long enough password', role: 'viewer' });
});
after(async () => {
  await h.close();
});

/** Tampering as an attacker with the database file would: a second connection, outside the application. */
function tamper(sql: string, ...args: unknown[]) {
  const db = new Database(path.join(h.dataDir, 'fulcrum.db'));
  db.prepare(sql).run(...args);
  db.close();
}

test('an untouched chain verifies', async () => {
  const r = await admin.req('GET', '/audit/verify');
  assert.equal(r.body.isIntact, true);
  assert.ok(r.body.checked >= 7);
});

test('editing a row is found at that row, and undoing the edit restores the chain', async () => {
  const row = (await admin.req('GET', '/audit?action=user.create&limit=1')).body.items[0];
  tamper('UPDATE AuditEvent SET actor = ? WHERE id = ?', 'someone-else', row.id);
  let r = await admin.req('GET', '/audit/verify');
  assert.equal(r.body.isIntact, false);
  assert.equal(r.body.firstBroken.id, row.id);
  assert.match(r.body.firstBroken.reason, /edited/);
  tamper('UPDATE AuditEvent SET actor = ? WHERE id = ?', row.actor, row.id);
  r = await admin.req('GET', '/audit/verify');
  assert.equal(r.body.isIntact, true);
});

test('cutting rows off the end is found through the recorded head', async () => {
  const fresh = await admin.req('POST', '/users', { username: 'last-one', password: 'a long enough password', role: 'viewer' });
  assert.equal(fresh.status, 201);
  const newest = (await admin.req('GET', '/audit?limit=1')).body.items[0];
  tamper('DELETE FROM AuditEvent WHERE id >= ?', newest.id);
  const r = await admin.req('GET', '/audit/verify');
  assert.equal(r.body.isIntact, false);
  assert.match(r.body.firstBroken.reason, /deleted from the end/);
});

test('deleting a row breaks the link of the row after it', async () => {
  const rows = (await admin.req('GET', '/audit?action=user.create&limit=5')).body.items;
  const victim = rows[2];
  tamper('DELETE FROM AuditEvent WHERE id = ?', victim.id);
  const r = await admin.req('GET', '/audit/verify');
  assert.equal(r.body.isIntact, false);
  assert.ok(r.body.firstBroken.id > victim.id);
  assert.match(r.body.firstBroken.reason, /deleted or inserted/);
});
