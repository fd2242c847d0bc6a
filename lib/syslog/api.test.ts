/**
 * The syslog settings over the API (real HTTP, real SQLite): refusals name the field, a change is audited with
 * before and after and reconfigures the running forwarder, the settings outlive a reload, an operator is refused.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';
import { db } from '../db.ts';
import { startSyslog, stopSyslog } from './index.ts';
import { readSyslogSettings } from './settings.ts';

let h: Harness;
let admin: Client;
before(async () => {
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
  startSyslog(h.dataDir);
});
after(async () => {
  stopSyslog();
  await h.close();
});

const fieldsOf = (r: { body: any }) => (r.body.error.details?.fields ?? []).map((f: { path: string }) => f.path);

test('refusals name the field and are audited as invalid', async () => {
  const cases: [unknown, string][] = [
    [{ isEnabled: true, transport: 'tls', host: '127.0.0.1', port: 6514 }, 'caPem'],
    [{ isEnabled: true, host: '127.0.0.1', port: 70000 }, 'port'],
    [{ isEnabled: true, host: 'not a host!' }, 'host'],
    [{ isEnabled: true }, 'host'],
    [{ transport: 'relp' }, 'transport'],
    [{ caPem: 'hello' }, 'caPem'],
  ];
  for (const [body, field] of cases) {
    const r = await admin.req('PUT', '/syslog', body);
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.error.code, 'API_VALIDATION');
    assert.ok(fieldsOf(r).includes(field), `${JSON.stringify(body)} → ${r.text}`);
  }
  const refused = await db().auditEvent.count({ where: { action: 'syslog.update', outcome: 'invalid' } });
  assert.equal(refused, cases.length);
});

test('a change is audited with before and after, kept in the data dir, and reaches the running forwarder', async () => {
  // A TCP listener that counts what arrives: the test message proves the forwarder took the new settings.
  const got: Buffer[] = [];
  const server = net.createServer((s) => s.on('data', (c) => got.push(c))).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const r = await admin.req('PUT', '/syslog', { isEnabled: true, transport: 'tcp', host: '127.0.0.1', port });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.settings.port, port);
  assert.equal(r.body.settings.sendAccessLogs, false, 'access logs stay off unless asked for');
  const row = await db().auditEvent.findFirst({ where: { action: 'syslog.update', outcome: 'success' }, orderBy: { id: 'desc' } });
  assert.equal(JSON.parse(row!.after!).port, port);
  assert.equal(JSON.parse(row!.before!).isEnabled, false);
  assert.equal(readSyslogSettings(h.dataDir).port, port);

  const t = await admin.req('POST', '/syslog/test', {});
  assert.equal(t.status, 202, t.text);
  for (let i = 0; i < 200 && !Buffer.concat(got).toString().includes('TEST'); i++) await new Promise((res) => setTimeout(res, 25));
  assert.match(Buffer.concat(got).toString(), /fulcrum \d+ TEST \[test@32473 actor="admin"\]/);
  const s = await admin.req('GET', '/syslog');
  assert.equal(s.body.status.queued, 0);
  assert.ok(s.body.status.sent >= 1);
  server.close();
});

test('an operator may not read or change the syslog settings', async () => {
  const k = await admin.req('POST', '/api-keys', { name: 'syslog-operator', role: 'operator' });
  const op = new Client(h.baseUrl);
  op.bearer = k.body.key;
  assert.equal((await op.req('GET', '/syslog')).status, 403);
  assert.equal((await op.req('PUT', '/syslog', { isEnabled: false })).status, 403);
});

test('access log entries are queued only when sendAccessLogs is on', async () => {
  const { SyslogForwarder } = await import('./forwarder.ts');
  const { SyslogSettingsSchema } = await import('./settings.ts');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const entry = {
    client: '10.1.2.3:5000',
    service: 'symphony-web',
    method: 'GET',
    path: '/',
    status: 200,
    bytesIn: 1,
    bytesOut: 2,
    timings: { requestMs: 0, queueMs: 0, connectMs: 1, responseMs: 2, totalMs: 3 },
    termination: '--',
  };
  // Port 9 on loopback: nothing listens, so whatever is queued stays queued.
  const make = (sendAccessLogs: boolean) =>
    new SyslogForwarder({
      dataDir: fs.mkdtempSync(path.join(h.dataDir, 'access-')),
      settings: SyslogSettingsSchema.parse({ isEnabled: true, host: '127.0.0.1', port: 9, sendAccessLogs }),
    });
  const off = make(false);
  assert.equal(off.forwardAccess([{ at: new Date(), entry }]), 0);
  await off.idle();
  assert.equal(off.status().queued, 0);
  off.close();
  const on = make(true);
  assert.equal(
    on.forwardAccess([
      { at: new Date(), entry },
      { at: new Date(), entry: { ...entry, status: 502, termination: 'SH' } },
    ]),
    2,
  );
  await on.idle();
  assert.equal(on.status().queued, 2);
  on.close();
});
