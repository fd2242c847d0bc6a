/**
 * Alert settings over the API (real HTTP, real SQLite): refusals name the field; secrets are never answered back nor
 * written to the audit trail, and a change that leaves one out keeps it; the test alert reaches a real receiver.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { once } from 'node:events';
import { type Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';
import { db } from '../db.ts';
import { startAlerts, stopAlerts } from './index.ts';
import { readAlertSettings } from './settings.ts';

let h: Harness;
let admin: Client;
before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
  startAlerts(h.dataDir);
});
after(async () => {
  stopAlerts();
  await h.close();
});

const fieldsOf = (r: { body: any }) => (r.body.error.details?.fields ?? []).map((f: { path: string }) => f.path);

test('refusals name the field', async () => {
  const cases: [unknown, string][] = [
    [{ minIntervalMinutes: 0 }, 'minIntervalMinutes'],
    [{ email: { host: 'smtp.example.nhs.uk', from: 'not an address', to: ['a@example.nhs.uk'] } }, 'email.from'],
    [{ email: { host: 'smtp.example.nhs.uk', from: 'lb@example.nhs.uk', to: [] } }, 'email.to'],
    [{ email: { host: 'smtp.example.nhs.uk', from: 'lb@example.nhs.uk', to: ['x'] } }, 'email.to.0'],
    [{ webhook: { url: 'ftp://example.nhs.uk/x' } }, 'webhook.url'],
    [{ webhook: { url: 'https://example.nhs.uk/x', secret: 'short' } }, 'webhook.secret'],
  ];
  for (const [body, field] of cases) {
    const r = await admin.req('PUT', '/alerts', body);
    assert.equal(r.status, 422, r.text);
    assert.ok(fieldsOf(r).includes(field), `${JSON.stringify(body)} → ${r.text}`);
  }
});

test('secrets: not answered, not audited, kept when a change leaves them out; the test alert arrives signed', async () => {
  const got: http.IncomingHttpHeaders[] = [];
  const server = http.createServer(async (req, res) => {
    for await (const _ of req);
    got.push(req.headers);
    res.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
  const secret = 'webhook-secret-of-some-length';
  const password = 'smtp-password-never-shown';
  const email = { host: '127.0.0.1', port: 2525, security: 'none', from: 'lb@example.nhs.uk', to: ['oncall@example.nhs.uk'], isEnabled: false, password };
  const r = await admin.req('PUT', '/alerts', { isEnabled: true, webhook: { url, secret }, email });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.settings.webhook.hasSecret, true);
  assert.equal(r.body.settings.email.hasPassword, true);
  assert.ok(!r.text.includes(secret) && !r.text.includes(password));
  const rows = await db().auditEvent.findMany({ where: { action: 'alerts.update' } });
  assert.ok(rows.length && rows.every((x) => !JSON.stringify(x).includes(secret) && !JSON.stringify(x).includes(password)));

  const again = await admin.req('PUT', '/alerts', { isEnabled: true, minIntervalMinutes: 5, webhook: { url }, email: { ...email, password: undefined } });
  assert.equal(again.status, 200, again.text);
  assert.equal(readAlertSettings(h.dataDir).webhook?.secret, secret, 'left out: kept');
  assert.equal(readAlertSettings(h.dataDir).email?.password, password);

  assert.equal((await admin.req('POST', '/alerts/test', {})).status, 202);
  for (let i = 0; i < 200 && !got.length; i++) await new Promise((res) => setTimeout(res, 25));
  assert.equal(got.length, 1);
  assert.match(String(got[0]['x-fulcrum-signature']), /^sha256=[0-9a-f]{64}$/);
  const s = await admin.req('GET', '/alerts');
  assert.deepEqual(
    s.body.status.targets.map((t: { channel: string; sent: number }) => [t.channel, t.sent]),
    [['webhook', 1]],
  );
  server.close();
});
