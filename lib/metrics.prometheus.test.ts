/**
 * /api/v1/metrics scraped by the real Prometheus server (Debian's `prometheus`, installed by
 * scripts/install-system-deps.sh), against the API harness: the real engine daemon, a layer 7 http service on
 * loopback with two real loopback backends and an http health check. The test makes known traffic, waits until
 * Prometheus has scraped it (polling its query API with a deadline) and reads the values back from Prometheus: each
 * server's request count equals the requests that backend received, the counts carry on across an engine restart,
 * and a stopped backend is DOWN with its check status. A second scrape job without credentials is refused (401).
 *
 * Prometheus runs as our own child, by pid: its own config, a TSDB in a temp dir, a free loopback port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';

// Health checks of the engine the harness starts probe loopback only.
process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = '127.0.0.0/8';
const { Client, setupAdmin, startHarness } = await import('./testing/harness.ts');
type Harness = Awaited<ReturnType<typeof startHarness>>;

const PROMETHEUS = '/usr/bin/prometheus';
/** Scrapes every second: 30 s is many scrapes; past it something is wrong, and the assertion says what was seen. */
const DEADLINE_MS = 30_000;

let h: Harness;
let key = '';
let apiPort = 0;
let vipPort = 0;
let promPort = 0;
let prom: ChildProcess | undefined;
let promLog = '';
let tmp = '';

interface Backend {
  name: string;
  port: number;
  /** Requests other than health checks. */
  hits: number;
  server: http.Server;
}
const backends: Backend[] = [];

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function startBackend(name: string): Promise<Backend> {
  const b: Backend = { name, port: 0, hits: 0, server: http.createServer() };
  b.server.on('request', (req, res) => {
    if (req.url === '/health') return res.end('ok');
    b.hits++;
    if (req.url === '/missing') {
      res.statusCode = 404;
      return res.end('not here');
    }
    res.end(`hello from ${name}`);
  });
  b.server.listen(0, '127.0.0.1');
  await once(b.server, 'listening');
  b.port = (b.server.address() as net.AddressInfo).port;
  return b;
}

/** One request through the proxy on a fresh connection; resolves with the status. */
function get(p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: vipPort, path: p, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

async function traffic(n: number, p = '/'): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal(await get(p), p === '/missing' ? 404 : 200);
}

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}
async function query(q: string): Promise<Vector[]> {
  const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { status: string; data: { result: Vector[] }; error?: string };
  assert.equal(body.status, 'success', `${q}: ${body.error}`);
  return body.data.result;
}

/** Polls Prometheus until `q` returns exactly one series with value `want`; returns what it last saw otherwise. */
async function waitValue(q: string, want: number): Promise<number> {
  const deadline = Date.now() + DEADLINE_MS;
  let seen: Vector[] = [];
  for (;;) {
    seen = await query(q);
    if (seen.length === 1 && Number(seen[0].value[1]) === want) return want;
    if (Date.now() > deadline) assert.fail(`Prometheus: ${q} is ${JSON.stringify(seen.map((s) => s.value[1]))}, expected ${want}\n${promLog.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

before(async () => {
  assert.ok(fs.existsSync(PROMETHEUS), 'Prometheus is installed (scripts/install-system-deps.sh)');
  h = await startHarness();
  apiPort = Number(new URL(h.baseUrl).port);
  const admin = await setupAdmin(h);
  backends.push(await startBackend('app-1'), await startBackend('app-2'));
  vipPort = await freePort();
  const vs = await admin.req('POST', '/virtual-services', {
    name: 'metrics-web',
    layer: 7,
    mode: 'http',
    address: '127.0.0.1',
    ports: [vipPort],
    scheduler: 'rr',
    healthCheck: { type: 'http', intervalMs: 500, timeoutMs: 400, rise: 1, fall: 1, http: { path: '/health' } },
    realServers: backends.map((b) => ({ name: b.name, address: '127.0.0.1', port: b.port })),
  });
  assert.equal(vs.status, 201, vs.text);
  const applied = await admin.req('POST', '/apply', { comment: 'metrics test' });
  assert.equal(applied.status, 200, applied.text);
  assert.equal(applied.body.results[0].status, 'programmed', applied.text);
  // The scraper's own key, with the least role that may read configuration.
  const k = await admin.req('POST', '/api-keys', { name: 'prometheus', role: 'viewer' });
  assert.equal(k.status, 201, k.text);
  key = k.body.key;

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-prometheus-'));
  promPort = await freePort();
  const target = `['127.0.0.1:${apiPort}']`;
  fs.writeFileSync(
    path.join(tmp, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: fulcrum',
      '    metrics_path: /api/v1/metrics',
      `    authorization: { credentials: ${JSON.stringify(key)} }`,
      `    static_configs: [{ targets: ${target} }]`,
      '  - job_name: anonymous',
      '    metrics_path: /api/v1/metrics',
      `    static_configs: [{ targets: ${target} }]`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${path.join(tmp, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(tmp, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prom.stderr!.on('data', (c) => (promLog += c));
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${promPort}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (prom.exitCode !== null || Date.now() > deadline) assert.fail(`Prometheus did not start: ${promLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  if (prom && prom.exitCode === null) {
    prom.kill('SIGTERM');
    await once(prom, 'exit');
  }
  for (const b of backends) {
    b.server.close();
    b.server.closeAllConnections();
  }
  await h?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('a scrape without credentials, or with an unknown key, is refused with 401', async () => {
  const anon = await new Client(h.baseUrl).req('GET', '/metrics');
  assert.equal(anon.status, 401);
  assert.equal(anon.body.error.code, 'AUTH_REQUIRED');
  const stranger = new Client(h.baseUrl);
  stranger.bearer = 'fk_abcdefgh_notakeythisconsoleevermade';
  assert.equal((await stranger.req('GET', '/metrics')).status, 401);
  const viewer = new Client(h.baseUrl);
  viewer.bearer = key;
  const ok = await viewer.req('GET', '/metrics');
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(ok.text, /^# HELP fulcrum_engine_up /m);
  // Prometheus's own view of the job without credentials: down, for the 401.
  await waitValue('up{job="anonymous"}', 0);
  const targets = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/targets`)).json()) as {
    data: { activeTargets: { labels: { job: string }; lastError: string; health: string }[] };
  };
  const anonTarget = targets.data.activeTargets.find((t) => t.labels.job === 'anonymous')!;
  assert.match(anonTarget.lastError, /401/);
  await waitValue('up{job="fulcrum"}', 1);
});

test('Prometheus reads back the known traffic, across an engine restart, and a stopped backend as DOWN', { timeout: 180_000 }, async (t) => {
  const [app1, app2] = backends;
  const sel = (server: string, extra = '') => `{job="fulcrum",service="metrics-web",server="${server}"${extra}}`;
  await waitValue('fulcrum_engine_up{job="fulcrum"}', 1);
  await waitValue('fulcrum_config_applies_total{job="fulcrum",outcome="applied"}', 1);
  await waitValue('fulcrum_config_running_version{job="fulcrum"}', 1);
  await waitValue('fulcrum_config_in_sync{job="fulcrum"}', 1);
  await waitValue(`fulcrum_service_status{job="fulcrum",service="metrics-web",layer="7",state="programmed"}`, 1);
  await waitValue('fulcrum_config_last_apply_status{job="fulcrum",outcome="applied"}', 1);
  const duration = Number((await query('fulcrum_config_last_apply_duration_seconds{job="fulcrum"}'))[0]?.value[1]);
  assert.ok(duration > 0 && duration < 15, `the apply took ${duration} s`);

  // Known traffic: 20 answered 200 and 4 answered 404 by the backends, shared by the scheduler (and the workers).
  await traffic(20);
  await traffic(4, '/missing');
  assert.equal(app1.hits + app2.hits, 24);
  assert.ok(app1.hits > 0 && app2.hits > 0, `both servers took requests (${app1.hits}, ${app2.hits})`);
  await waitValue(`fulcrum_server_http_requests_total${sel('app-1')}`, app1.hits);
  await waitValue(`fulcrum_server_http_requests_total${sel('app-2')}`, app2.hits);
  await waitValue('fulcrum_frontend_http_requests_total{job="fulcrum",service="metrics-web"}', 24);
  await waitValue('fulcrum_backend_http_responses_total{job="fulcrum",service="metrics-web",code="2xx"}', 20);
  await waitValue('fulcrum_backend_http_responses_total{job="fulcrum",service="metrics-web",code="4xx"}', 4);
  await waitValue('sum(fulcrum_server_http_responses_total{job="fulcrum",service="metrics-web"})', 24);
  await waitValue('fulcrum_backend_active_servers{job="fulcrum",service="metrics-web"}', 2);
  await waitValue(`fulcrum_server_status${sel('app-1', ',state="UP"')}`, 1);
  t.diagnostic(`the apply took ${duration} s; before the restart: app-1 ${app1.hits}, app-2 ${app2.hits} requests, as Prometheus read them`);

  // A new engine process counts from 0; the exported counters carry on from where they were.
  const before = { app1: app1.hits, app2: app2.hits };
  await h.restartEngine();
  const deadline = Date.now() + DEADLINE_MS;
  while (
    !(await get('/').then(
      (s) => s === 200,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) assert.fail('the restarted engine does not proxy');
    await new Promise((r) => setTimeout(r, 200));
  }
  await traffic(9);
  assert.equal(app1.hits + app2.hits, 34);
  await waitValue(`fulcrum_server_http_requests_total${sel('app-1')}`, app1.hits);
  await waitValue(`fulcrum_server_http_requests_total${sel('app-2')}`, app2.hits);
  await waitValue('sum(resets(fulcrum_server_http_requests_total{job="fulcrum"}[5m]))', 0);
  t.diagnostic(`after the restart: app-1 ${before.app1} → ${app1.hits}, app-2 ${before.app2} → ${app2.hits}; no counter reset in Prometheus`);

  // app-2 stops: its checks fail (connection refused), it is DOWN, and new requests all go to app-1.
  app2.server.close();
  app2.server.closeAllConnections();
  await waitValue(`fulcrum_server_status${sel('app-2', ',state="DOWN"')}`, 1);
  await waitValue(`fulcrum_server_status${sel('app-2', ',state="UP"')}`, 0);
  await waitValue(`fulcrum_server_health${sel('app-2', ',state="down"')}`, 1);
  await waitValue(`fulcrum_server_check_status${sel('app-2', ',state="L4CON"')}`, 1);
  await waitValue(`fulcrum_server_weight${sel('app-2')}`, 0);
  await waitValue('fulcrum_backend_active_servers{job="fulcrum",service="metrics-web"}', 1);
  await waitValue(`fulcrum_health_transitions_total${sel('app-2', ',to="down"')}`, 1);
  const app2Before = app2.hits;
  await traffic(6);
  assert.equal(app2.hits, app2Before);
  await waitValue(`fulcrum_server_http_requests_total${sel('app-1')}`, app1.hits);
  await waitValue(`fulcrum_server_http_requests_total${sel('app-2')}`, app2.hits);
  const read = async (q: string) => (await query(q)).map((v) => `${v.metric.state ?? ''} ${v.value[1]}`.trim()).join(', ');
  t.diagnostic(
    `Prometheus: app-1 requests ${await read(`fulcrum_server_http_requests_total${sel('app-1')}`)}, app-2 ${await read(`fulcrum_server_http_requests_total${sel('app-2')}`)}; app-2 status ${await read(`fulcrum_server_status${sel('app-2')} == 1`)}, check ${await read(`fulcrum_server_check_status${sel('app-2')} == 1`)}`,
  );
});
