/**
 * Layer 7 access log lines to a real rsyslogd, end to end: the real engine daemon (harness) proxies real requests on
 * loopback, its workers write the access log files, the console's running forwarder (started as server.ts does,
 * turned on through PUT /api/v1/syslog with "access logs") reads them from the engine's GET /v1/logs by cursor and
 * sends them over TCP through its disk queue. Then rsyslog is stopped, more requests are made, the console restarts
 * (a new forwarder on the same data dir), rsyslog starts again: every line arrives once. The sample rate is the
 * service's: a service at 1 sends every request, one at 0 none of its normal ones, and an error is always sent.
 * Turned off, nothing more is sent; turned on again, it starts from the files' end.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';

// Health checks of the engine the harness starts probe loopback only.
process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = '127.0.0.0/8';
const { Client, setupAdmin, startHarness } = await import('../testing/harness.ts');
const { runningSyslog, startSyslog, stopSyslog } = await import('./index.ts');
const { freePort, received, rsyslog, waitForLines } = await import('./rsyslog-peer.ts');
type Harness = Awaited<ReturnType<typeof startHarness>>;

let h: Harness;
let admin: InstanceType<typeof Client>;
let tmp: string;
let backend: http.Server;
const ports = { all: 0, none: 0, broken: 0 };
let syslogServer: ReturnType<typeof rsyslog>;

before(async () => {
  h = await startHarness();
  admin = await setupAdmin(h);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-access-syslog-'));
  backend = http.createServer((_req, res) => res.end('ok'));
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const backendPort = (backend.address() as AddressInfo).port;
  const closedPort = await freePort(); // nothing listens there: every request to it fails (502, SC)
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  const services = [
    { name: 'all-web', port: ports.all, sampleRate: 1, serverPort: backendPort },
    { name: 'none-web', port: ports.none, sampleRate: 0, serverPort: backendPort },
    { name: 'broken-web', port: ports.broken, sampleRate: 0, serverPort: closedPort },
  ];
  for (const s of services) {
    const r = await admin.req('POST', '/virtual-services', {
      name: s.name,
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [s.port],
      scheduler: 'rr',
      layer7: { accessLog: { sampleRate: s.sampleRate } },
      realServers: [{ name: 'app', address: '127.0.0.1', port: s.serverPort }],
    });
    assert.equal(r.status, 201, r.text);
  }
  const applied = await admin.req('POST', '/apply', { comment: 'access log forwarding test' });
  assert.equal(applied.status, 200, applied.text);
  syslogServer = rsyslog(tmp, 'access', 'tcp', await freePort());
  await syslogServer.start();
  startSyslog(h.dataDir);
});

after(async () => {
  stopSyslog();
  await syslogServer?.stop();
  backend?.close();
  await h?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** One request on a fresh connection; resolves with the status. */
function get(port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

/** `n` requests to each service, paths tagged `/<tag>/<i>`. */
async function traffic(tag: string, n: number) {
  for (let i = 0; i < n; i++) {
    assert.equal(await get(ports.all, `/${tag}/${i}`), 200);
    assert.equal(await get(ports.none, `/${tag}/${i}`), 200);
    assert.equal(await get(ports.broken, `/${tag}/${i}`), 502);
  }
}

/** Runs the forwarder's pump (as its bus nudge and poll timer do) until `isDone`, at most 20 s. */
async function pumpUntil(isDone: () => boolean, what: () => string) {
  for (let i = 0; i < 400 && !isDone(); i++) {
    runningSyslog()!.kick();
    await runningSyslog()!.idle();
    if (!isDone()) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(isDone(), what());
}

/** "service path" of each ACCESS line rsyslog wrote: `... ACCESS [access@32473 ... service="x" ...] ... "GET /p"`. */
const accessLines = () =>
  received(syslogServer.out)
    .filter((l) => / fulcrum ACCESS \[access@32473 /.test(l))
    .map((l) => `${/ service="([^"]+)"/.exec(l)?.[1]} ${/"GET (\S+)"$/.exec(l)?.[1]}`);
/** Waits until the engine's files hold the lines of `traffic(tag, n)` (its workers flush every 500 ms), at most 20 s. */
async function inFiles(tag: string, n: number) {
  let seen = 0;
  for (let i = 0; i < 400; i++) {
    const r = await admin.req('GET', `/logs?kind=access&limit=1000&text=${encodeURIComponent(`/${tag}/`)}`);
    seen = r.body.lines.length;
    if (seen >= 2 * n) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(seen, 2 * n, `the engine's access log has the ${tag} lines (rate 1 and the errors)`);
}
const expected = (tag: string, n: number) => Array.from({ length: n }, (_, i) => [`all-web /${tag}/${i}`, `broken-web /${tag}/${i}`]).flat();
const sorted = (xs: string[]) => [...xs].sort();

const syslogSettings = (sendAccessLogs: boolean) => ({
  isEnabled: true,
  transport: 'tcp',
  host: '127.0.0.1',
  port: syslogServer.port,
  sendAuditEvents: false,
  sendHealthTransitions: false,
  sendAccessLogs,
});

test('access lines reach rsyslog through the queue, by the sample rate, across an outage and a restart, once each', async () => {
  await traffic('before', 3); // before access logs are turned on: not sent
  await inFiles('before', 3);
  const put = await admin.req('PUT', '/syslog', syslogSettings(true));
  assert.equal(put.status, 200, put.text);
  await runningSyslog()!.idle();

  await traffic('up', 5);
  await pumpUntil(
    () => accessLines().length >= 10,
    () => `rsyslog has ${accessLines().length} access lines: ${accessLines().join(' | ')}; status ${JSON.stringify(runningSyslog()!.status())}`,
  );
  assert.deepEqual(sorted(accessLines()), sorted(expected('up', 5)), 'rate 1: every request; rate 0: only the errors');
  const line = received(syslogServer.out).find((l) => l.includes('service="broken-web"'))!;
  assert.match(line, / fulcrum ACCESS \[access@32473 client="127\.0\.0\.1:\d+" service="broken-web" server="app" status="502" .*termination="SC"/);

  // rsyslog down: the lines wait in the console's queue.
  await syslogServer.stop();
  await traffic('down', 4);
  await pumpUntil(
    () => runningSyslog()!.status().queued === 8,
    () => `queued ${JSON.stringify(runningSyslog()!.status())}`,
  );
  // The console restarts: a new forwarder on the same data dir finds the queue and its cursor.
  stopSyslog();
  startSyslog(h.dataDir);
  assert.equal(runningSyslog()!.status().queued, 8);
  await syslogServer.start();
  await traffic('back', 2);
  await pumpUntil(
    () => accessLines().length >= 22,
    () => `rsyslog has ${accessLines().length} access lines; status ${JSON.stringify(runningSyslog()!.status())}`,
  );
  // One more pump reads the engine past the cursor and sends whatever it finds: a line read twice would be counted.
  runningSyslog()!.kick();
  await runningSyslog()!.idle();
  assert.equal(runningSyslog()!.status().sent, 8 + 4, 'the restarted forwarder sent the 8 queued lines and the 4 new ones, no more');
  await waitForLines(syslogServer.out, 22);
  assert.deepEqual(sorted(accessLines()), sorted([...expected('up', 5), ...expected('down', 4), ...expected('back', 2)]), 'every line once');
  assert.equal(runningSyslog()!.status().queued, 0);

  // Turned off: nothing more goes. Turned on again: from the files' end, not what was written meanwhile.
  assert.equal((await admin.req('PUT', '/syslog', syslogSettings(false))).status, 200);
  await traffic('off', 2);
  await inFiles('off', 2);
  runningSyslog()!.kick();
  await runningSyslog()!.idle();
  assert.equal((await admin.req('PUT', '/syslog', syslogSettings(true))).status, 200);
  await runningSyslog()!.idle();
  await traffic('again', 1);
  await pumpUntil(
    () => accessLines().length >= 24,
    () => `rsyslog has ${accessLines().length} access lines`,
  );
  // The off lines are earlier in the files than these: had they been read, they would be here.
  assert.deepEqual(sorted(accessLines().slice(22)), sorted(expected('again', 1)));
});
