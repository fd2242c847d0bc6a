/**
 * The alert service end to end against a real SQLite file and a real HTTP receiver: which events become which
 * alerts (a server and its service going down and up, a failed apply from its audit row, a certificate nearing
 * expiry once a day, the audit chain failing to verify once per breakage), and that nothing is sent while alerts are
 * off. Each case builds its own service, so its first alert is not held by the rate limit (limiter.test.ts covers that).
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { once } from 'node:events';
import { startHarness, type Harness } from '../testing/harness.ts';
import { db } from '../db.ts';
import { writeAuditAlone } from '../audit.ts';
import { AlertService } from './service.ts';
import { AlertSettingsSchema } from './settings.ts';
import { HealthTracker } from './sources.ts';
import type { HealthState } from '../../engine/config/index.ts';

let h: Harness;
let server: http.Server;
let url: string;
let got: { subject: string; alerts: { kind: string; title: string }[] }[] = [];
before(async () => {
  h = await startHarness({ withEngine: false });
  server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    got.push(JSON.parse(body));
    res.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
});
after(async () => {
  server.close();
  await h.close();
});
beforeEach(() => (got = []));

const service = (isEnabled = true) =>
  new AlertService({ isScheduled: false, settings: AlertSettingsSchema.parse({ isEnabled, webhook: { url, secret: 'sixteen-chars-min!' } }) });
const transition = (realServer: string, previous: HealthState, health: HealthState) => ({
  at: new Date().toISOString(),
  virtualService: 'symphony-web',
  realServer,
  previous,
  health,
  message: 'connection refused',
  target: '127.0.0.1:1',
});
let requestNo = 0;
const audit = (over: object) =>
  writeAuditAlone({
    actor: 'alice',
    actorRole: 'admin',
    sourceAddress: '127.0.0.1',
    action: 'config.apply',
    objectType: 'config-version',
    objectId: '7',
    outcome: 'success',
    requestId: `alerts-${++requestNo}`,
    ...over,
  });

test('health: a server down, its service down when the last one goes, both up again; a repeat says nothing', () => {
  const t = new HealthTracker();
  const kinds = (xs: { kind: string }[]) => xs.map((x) => x.kind);
  assert.deepEqual(kinds(t.onTransition(transition('sym-app-1', 'unknown', 'up'))), []);
  assert.deepEqual(kinds(t.onTransition(transition('sym-app-2', 'up', 'down'))), ['server-down']);
  assert.deepEqual(kinds(t.onTransition(transition('sym-app-1', 'up', 'down'))), ['server-down', 'service-down']);
  assert.deepEqual(kinds(t.onTransition(transition('sym-app-1', 'down', 'down'))), []);
  assert.deepEqual(kinds(t.onTransition(transition('sym-app-2', 'down', 'up'))), ['server-up', 'service-up']);
});

test('a failed apply becomes an alert; a successful one and rows from before the service started do not', async () => {
  await audit({ outcome: 'failed', objectId: '6' }); // before: not alerted
  const s = service();
  await s.checkApplies();
  await audit({ outcome: 'success' });
  await audit({ outcome: 'failed', message: 'ENGINE_APPLY_FAILED: port 80 is in use by another program' });
  await s.checkApplies();
  await s.settled();
  assert.deepEqual(
    got.map((m) => m.alerts.map((a) => a.title)),
    [['Configuration version 7 did not apply']],
  );
  s.close();
});

test('a certificate nearing expiry is alerted once a day', async () => {
  const s = service();
  const now = new Date();
  await db().certificate.create({
    data: {
      name: 'symphony-web-2026',
      certificatePem: 'x',
      privateKeyPem: 'x',
      subject: 'CN=symphony.example.nhs.uk',
      fingerprint: 'f',
      notAfter: new Date(now.getTime() + 10.5 * 86_400_000),
    },
  });
  await db().certificate.create({
    data: {
      name: 'far-away',
      certificatePem: 'x',
      privateKeyPem: 'x',
      subject: 'CN=later',
      fingerprint: 'g',
      notAfter: new Date(now.getTime() + 300 * 86_400_000),
    },
  });
  await s.checkCertificates(now);
  await s.checkCertificates(now);
  await s.settled();
  assert.deepEqual(
    got.map((m) => m.alerts.map((a) => a.title)),
    [[`Certificate symphony-web-2026 expires in 10 days (${new Date(now.getTime() + 10.5 * 86_400_000).toISOString().slice(0, 10)})`]],
  );
  await s.checkCertificates(new Date(now.getTime() + 86_400_000));
  assert.equal(s.status().targets[0].held, 1, 'the next day: again (held by the rate limit, as it came within the interval)');
  s.close();
});

test('the audit chain failing to verify is alerted once, not at every check', async () => {
  await audit({ action: 'real-server.drain', objectType: 'real-server' });
  const s = service();
  await s.checkChain();
  await s.settled();
  assert.equal(got.length, 0, 'an intact chain says nothing');
  const victim = await db().auditEvent.findFirst({ orderBy: { id: 'asc' } });
  await db().$executeRawUnsafe('UPDATE AuditEvent SET actor = ? WHERE id = ?', 'someone-else', victim!.id);
  await s.checkChain();
  await s.checkChain();
  await s.settled();
  assert.deepEqual(
    got.map((m) => m.alerts[0].kind),
    ['audit-chain-broken'],
  );
  assert.equal(s.status().targets[0].held, 0);
  await db().$executeRawUnsafe('UPDATE AuditEvent SET actor = ? WHERE id = ?', victim!.actor, victim!.id);
  s.close();
});

test('alerts off: nothing is sent', async () => {
  const s = service(false);
  s.onHealth({ type: 'health', seq: 1, durationMs: 1, code: 'L4CON', check: 'tcp', ...transition('sym-app-9', 'up', 'down') } as never);
  await s.settled();
  assert.equal(got.length, 0);
  assert.equal(s.status().targets[0].sent, 0);
  s.close();
});
