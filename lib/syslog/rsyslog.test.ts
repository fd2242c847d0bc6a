/**
 * Syslog out against a real rsyslogd (Debian's), run in the foreground with its own config file, on a loopback port,
 * writing what it receives to a file in a temp dir (never the system's rsyslog). For TCP and TLS: rsyslog stopped,
 * events written, the console "restarted" (a new forwarder on the same data dir), rsyslog started again: every
 * event arrives once, in order. TLS with a throwaway CA made by openssl here; a server whose certificate another CA
 * signed is refused and its messages stay queued. UDP: the messages arrive.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHarness, type Harness } from '../testing/harness.ts';
import { db } from '../db.ts';
import { writeAuditAlone } from '../audit.ts';
import { recordTransitions } from '../health-history.ts';
import { SyslogForwarder } from './forwarder.ts';
import { SyslogSettingsSchema, type SyslogSettings } from './settings.ts';
import { freePort, makeCerts, received, type Rsyslog, rsyslog as startableRsyslog, waitForLines } from './rsyslog-peer.ts';

let h: Harness;
let tmp: string;
before(async () => {
  h = await startHarness({ withEngine: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-rsyslog-'));
  makeCerts(tmp);
});
const started: Rsyslog[] = [];
after(async () => {
  for (const r of started) await r.stop();
  await h.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function rsyslog(name: string, transport: 'udp' | 'tcp' | 'tls', port: number): Rsyslog {
  const r = startableRsyslog(tmp, name, transport, port);
  started.push(r);
  return r;
}

const settingsFor = (r: Rsyslog, transport: 'udp' | 'tcp' | 'tls', extra: Partial<SyslogSettings> = {}): SyslogSettings =>
  SyslogSettingsSchema.parse({
    isEnabled: true,
    transport,
    host: '127.0.0.1',
    port: r.port,
    ...(transport === 'tls' ? { caPem: fs.readFileSync(path.join(tmp, 'ca.pem'), 'utf8'), serverName: 'localhost' } : {}),
    ...extra,
  });

let requestNo = 0;
async function writeAuditRows(n: number) {
  for (let i = 0; i < n; i++) {
    await writeAuditAlone({
      actor: 'alice',
      actorRole: 'admin',
      sourceAddress: '127.0.0.1',
      action: 'real-server.drain',
      objectType: 'real-server',
      objectId: `sym-app-${i}`,
      outcome: i % 5 === 4 ? 'denied' : 'success',
      message: 'maintenance "window" [x]',
      requestId: `rsyslog-test-${++requestNo}`,
    });
  }
}
let seq = 0;
const engineStartedAt = new Date().toISOString();
async function writeHealthRows(n: number) {
  await recordTransitions(
    engineStartedAt,
    Array.from({ length: n }, (_, i) => ({
      type: 'health' as const,
      seq: ++seq,
      at: new Date().toISOString(),
      virtualService: 'symphony-web',
      realServer: `sym-app-${i % 3}`,
      previous: i % 2 ? 'down' : 'up',
      health: i % 2 ? 'up' : 'down',
      code: 'L4CON',
      message: 'connection refused',
      durationMs: 1,
      check: 'tcp',
      target: '127.0.0.1:1',
    })),
  );
}

/** The ids seen per kind, from lines "host fulcrum AUDIT [audit@32473 id="17" ...] ...". */
function idsOf(lines: string[]) {
  const out = { AUDIT: [] as number[], HEALTH: [] as number[] };
  for (const l of lines) {
    const m = /^\S+ fulcrum (AUDIT|HEALTH) \[(?:audit|health)@32473 id="(\d+)"/.exec(l);
    if (m) out[m[1] as 'AUDIT' | 'HEALTH'].push(Number(m[2]));
  }
  return out;
}

async function maxIds() {
  const [a, hh] = await Promise.all([db().auditEvent.aggregate({ _max: { id: true } }), db().healthTransition.aggregate({ _max: { id: true } })]);
  return { audit: a._max.id ?? 0, health: hh._max.id ?? 0 };
}
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i + 1);

for (const transport of ['tcp', 'tls'] as const) {
  test(`${transport}: events written while rsyslog is down arrive after it is back, across a console restart, in order, once each`, async () => {
    const r = rsyslog(`outage-${transport}`, transport, await freePort());
    const dataDir = fs.mkdtempSync(path.join(tmp, `data-${transport}-`));
    await r.start();
    const start = await maxIds();
    let fwd = new SyslogForwarder({ dataDir, settings: settingsFor(r, transport), hostname: 'lb-test-1' });
    await fwd.pump(); // first time on: starts at the newest rows
    await writeAuditRows(5);
    await fwd.pump();
    assert.equal((await waitForLines(r.out, 5)).length, 5);

    await r.stop();
    await writeAuditRows(20);
    await writeHealthRows(10);
    await fwd.pump();
    assert.equal(fwd.status().queued, 30, 'nothing can be sent while rsyslog is down');
    assert.match(fwd.status().lastError ?? '', /ECONNREFUSED|ECONNRESET|EPIPE/);
    fwd.close();

    // The console restarts: a new forwarder on the same data dir finds the queue.
    fwd = new SyslogForwarder({ dataDir, settings: settingsFor(r, transport), hostname: 'lb-test-1' });
    assert.equal(fwd.status().queued, 30);
    await r.start();
    await fwd.pump();
    await writeAuditRows(2);
    await fwd.pump();
    const lines = await waitForLines(r.out, 37);
    fwd.close();
    const end = await maxIds();
    const ids = idsOf(lines);
    assert.deepEqual(ids.AUDIT, range(start.audit, end.audit), 'every audit row once, in order');
    assert.deepEqual(ids.HEALTH, range(start.health, end.health), 'every health transition once, in order');
    assert.equal(lines.length, 37);
    assert.equal(fwd.status().queued, 0);
    // What rsyslog parsed: our hostname, app-name, and the escaped message came through as structured data.
    const denied = lines.find((l) => l.includes('outcome="denied"'))!;
    assert.match(denied, /^lb-test-1 fulcrum AUDIT \[audit@32473 id="\d+" actor="alice" role="admin" source="127\.0\.0\.1" action="real-server\.drain"/);
    assert.match(denied, /maintenance "window" \[x\]/);
  });
}

test('tls: a syslog server whose certificate another CA signed is refused, and the messages stay queued', async () => {
  const r = rsyslog('wrong-ca', 'tls', await freePort());
  await r.start();
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-wrong-ca-'));
  const fwd = new SyslogForwarder({ dataDir, settings: settingsFor(r, 'tls', { caPem: fs.readFileSync(path.join(tmp, 'other-ca.pem'), 'utf8') }) });
  await fwd.pump();
  await writeAuditRows(3);
  await fwd.pump();
  assert.equal(fwd.status().queued, 3);
  assert.match(fwd.status().lastError ?? '', /certificate|UNABLE_TO_VERIFY|SELF_SIGNED/i);
  fwd.close();
  await r.stop();
  assert.equal(received(r.out).length, 0);
});

test('udp: messages arrive, one datagram each', async () => {
  const r = rsyslog('udp', 'udp', await freePort());
  await r.start();
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-udp-'));
  const start = await maxIds();
  // rsyslog gives no sign when its UDP input is ready: the first datagrams are sent again (by a fresh forwarder
  // from a fresh queue) until one is seen; after that, the real batch.
  const probe = new SyslogForwarder({ dataDir: fs.mkdtempSync(path.join(tmp, 'probe-')), settings: settingsFor(r, 'udp') });
  await waitForLines(r.out, 1, () => probe.sendTest('probe'));
  await probe.idle();
  probe.close();
  const before = received(r.out).length;
  const fwd = new SyslogForwarder({ dataDir, settings: settingsFor(r, 'udp') });
  await fwd.pump();
  await writeAuditRows(4);
  await fwd.pump();
  const lines = (await waitForLines(r.out, before + 4)).slice(before);
  fwd.close();
  await r.stop();
  assert.deepEqual(idsOf(lines).AUDIT, range(start.audit, start.audit + 4));
});
