/**
 * bench:console-render — how long the browser takes to show the pending-changes page and the overview with 1,000
 * services × 4 real servers (issue 13: "render under a second in the browser, measured in a Playwright benchmark").
 *
 * The real console (server.ts, the production build, its own engine) in a fresh data directory, on loopback over
 * plain HTTP; Debian's Chromium through Playwright. The services are Layer 7 HTTP services on 127.0.0.1 (ports
 * 20000 upwards) whose real servers are 127.0.0.1 ports nothing listens on, with health checks `none`: applying them
 * opens 1,000 loopback listeners and sends nothing anywhere.
 *
 *   1. SERVICES services are created through the REST API (staged, not applied): the pending-changes page then shows
 *      1,000 new services, its heaviest case;
 *   2. they are applied, and the overview shows 1,000 running services.
 *
 * Each page is loaded LOADS times (after one warm-up load); a load's time is the browser's own clock
 * (performance.now(), from the navigation's start) at the first frame after the page shows what it is for (the
 * pending-changes page: its count and its first page of objects; the overview: its first page of 25 cards with their
 * real servers' rows and the engine's status) and no
 * loading notice is left. Prints, per page:
 *   bench console-render: <page> at 1000 services: p50 A ms, max B ms  (goal p50 < 1000)
 * BENCH_RENDER_SERVICES (1000), BENCH_RENDER_LOADS (5), BENCH_RENDER_SCREENSHOTS=DIR saves one screenshot per page.
 * Run it alone: it builds the console if a source is newer than the build, and it loads the machine.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { ADMIN, setupAdmin } from '../lib/testing/harness.ts';

const SERVICES = Number(process.env.BENCH_RENDER_SERVICES ?? 1000);
const LOADS = Number(process.env.BENCH_RENDER_LOADS ?? 5);
const SHOTS = process.env.BENCH_RENDER_SCREENSHOTS;
/** BENCH_RENDER_PROFILE=1: after the overview's timed loads, one more load with Chromium's CPU profiler and the
 * browser's resource timings, printed as the API requests' waterfall and the functions with the most self time. */
const PROFILE = process.env.BENCH_RENDER_PROFILE === '1';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function startConsole(dataDir: string, port: number): Promise<ChildProcess> {
  execFileSync(process.execPath, ['scripts/ensure-build.mjs'], { stdio: 'inherit' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], {
    env: {
      ...process.env,
      FULCRUM_DATA_DIR: dataDir,
      FULCRUM_PORT: String(port),
      FULCRUM_HOST: '127.0.0.1',
      FULCRUM_INSECURE_HTTP: '1',
      FULCRUM_STOP_ENGINE_ON_EXIT: '1',
      NEXT_TELEMETRY_DISABLED: '1',
      FULCRUM_HEALTH_ALLOWED_NETWORKS: '127.0.0.0/8,::1/128',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the console exited (${child.exitCode}) before it answered`);
    const ok = await fetch(`http://127.0.0.1:${port}/api/v1/setup`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
    if (Date.now() > deadline) throw new Error('the console did not answer within 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

const service = (i: number) => ({
  name: `svc-${String(i).padStart(4, '0')}`,
  layer: 7,
  mode: 'http',
  address: '127.0.0.1',
  ports: [20000 + i],
  scheduler: 'wrr',
  healthCheck: { type: 'none' },
  realServers: [0, 1, 2, 3].map((k) => ({ name: `svc-${i}-app-${k + 1}`, address: '127.0.0.1', port: 40000 + ((i * 4 + k) % 20000) })),
});

/** Loads `url` and returns the browser's time from navigation start to the first frame showing the filled table. */
async function load(page: Page, url: string, ready: string): Promise<number> {
  await page.goto(url, { waitUntil: 'commit' });
  // A string, not a function: tsx would wrap a named function's helpers in a __name() the page does not have.
  return page
    .evaluate<number>(`new Promise((resolve) => {
    const isDone = () => { const main = document.querySelector('main'); return !!main && !/Loading/i.test(main.innerText) && (${ready}); };
    const check = () => (isDone() ? requestAnimationFrame(() => resolve(performance.now())) : requestAnimationFrame(check));
    check();
    setTimeout(() => resolve(-1), 30000);
  })`)
    .then(async (t) => {
      if (t < 0) throw new Error(`${url}: not ready within 30 s; the page shows: ${(await page.textContent('main'))?.slice(0, 3000)}`);
      return t;
    });
}

/** One load of `url` under CDP's CPU profiler: the API requests' waterfall and the 15 heaviest functions by self time. */
async function profileLoad(page: Page, url: string): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const ms = await load(page, url, 'true');
  const { profile } = (await cdp.send('Profiler.stop')) as { profile: CpuProfile };
  const entries = await page.evaluate<
    { name: string; startTime: number; responseStart: number; responseEnd: number; encodedBodySize: number; decodedBodySize: number; serverTiming: string }[]
  >(
    `performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/')).map((e) => ({ name: e.name, startTime: e.startTime, responseStart: e.responseStart, responseEnd: e.responseEnd, encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize, serverTiming: e.serverTiming.map((t) => t.name + ' ' + Math.round(t.duration) + ' ms').join(', ') }))`,
  );
  const nav = await page.evaluate<{ responseStart: number; responseEnd: number; domContentLoaded: number }>(
    `(() => { const n = performance.getEntriesByType('navigation')[0]; return { responseStart: n.responseStart, responseEnd: n.responseEnd, domContentLoaded: n.domContentLoadedEventEnd }; })()`,
  );
  console.log(
    `bench console-render: profiled overview load: ready at ${Math.round(ms)} ms; the page's HTML: first byte ${Math.round(nav.responseStart)} ms, end ${Math.round(nav.responseEnd)} ms; DOMContentLoaded ${Math.round(nav.domContentLoaded)} ms`,
  );
  for (const e of entries)
    console.log(
      `  ${new URL(e.name).pathname.padEnd(32)} start ${Math.round(e.startTime)} ms, first byte ${Math.round(e.responseStart)} ms, end ${Math.round(e.responseEnd)} ms, ${Math.round(e.decodedBodySize / 1024)} KiB (${Math.round(e.encodedBodySize / 1024)} KiB on the wire)${e.serverTiming ? `; server: ${e.serverTiming}` : ''}`,
    );
  const self = new Map<string, number>();
  const dt = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  profile.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i + 1] ?? 0) / 1000);
  });
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${v.toFixed(1).padStart(8)} ms  ${k}`);
  await cdp.detach();
}
type CpuProfile = {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
};

function summary(times: number[]): string {
  const s = [...times].sort((a, b) => a - b);
  return `p50 ${Math.round(s[Math.floor((s.length - 1) / 2)])} ms, max ${Math.round(s[s.length - 1])} ms`;
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-bench-render-'));
const port = await freePort();
const child = await startConsole(dataDir, port);
type Api = Awaited<ReturnType<typeof setupAdmin>>;

/** GET /overview's own server-timing (the handler's time, and its wait on the engine), by sort, over LOADS answers. */
async function overviewServerTimes(api: Api): Promise<void> {
  for (const sort of ['order', 'problems']) {
    const engine: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const r = await api.req('GET', `/overview?sort=${sort}`);
      const timing = r.headers.get('server-timing') ?? '';
      engine.push(Number(/engine;dur=([\d.]+)/.exec(timing)?.[1]));
      total.push(Number(/total;dur=([\d.]+)/.exec(timing)?.[1]));
    }
    console.log(`bench console-render: GET /overview?sort=${sort} server time: engine status ${summary(engine)}; handler ${summary(total)}`);
  }
}

/** The bytes of the live feed's 'stats' events the overview's tab receives, beside the engine's whole status. */
async function liveStatsSize(page: Page, api: Api, url: string): Promise<void> {
  const sizes: number[] = [];
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      const text = String(payload);
      if (text.startsWith('{"type":"engine"') && text.includes('"type":"stats"')) sizes.push(Buffer.byteLength(text));
    }),
  );
  await page.goto(url);
  for (let i = 0; i < 100 && sizes.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  const whole = Buffer.byteLength(JSON.stringify((await api.req('GET', '/status')).body.engine?.status?.services ?? []));
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(
    `bench console-render: live 'stats' event to the overview's tab: ${sizes.length ? kib(Math.max(...sizes)) : 'none in 10 s'} (every service's status: ${kib(whole)})`,
  );
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  const baseUrl = `http://127.0.0.1:${port}`;
  const api = await setupAdmin({ dataDir, baseUrl, restartEngine: async () => {}, close: async () => {} });
  const started = performance.now();
  const createMs: number[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const t = performance.now();
    const r = await api.req('POST', '/virtual-services', service(i));
    createMs.push(performance.now() - t);
    if (r.status !== 201) throw new Error(`creating service ${i}: ${r.status} ${r.text}`);
  }
  console.log(`bench console-render: ${SERVICES} services × 4 real servers staged through the API in ${Math.round(performance.now() - started)} ms`);
  // Whether a create's cost grows with the table (through server.ts and Next, not the bare router of bench:api-edit).
  const tenth = Math.max(1, Math.floor(SERVICES / 10));
  console.log(
    `bench console-render: create through the console, first ${tenth}: ${summary(createMs.slice(0, tenth))}; last ${tenth}: ${summary(createMs.slice(-tenth))}`,
  );
  // The pending-changes page's answer alone (GET /changes), to tell the server's share from the browser's.
  const changesMs: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const t = performance.now();
    const r = await api.req('GET', '/changes');
    changesMs.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`GET /changes: ${r.status}`);
    if (i === 0)
      console.log(
        `bench console-render: GET /changes answer ${Math.round(r.text.length / 1024)} KiB (${r.body.changes.length} of ${r.body.count} objects: the page the console loads)`,
      );
  }
  console.log(`bench console-render: GET /changes at ${SERVICES} services: ${summary(changesMs)}`);

  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: /sign in|log in/i }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));

  const measure = async (label: string, url: string, ready: string) => {
    await load(page, url, ready);
    const times: number[] = [];
    for (let i = 0; i < LOADS; i++) times.push(await load(page, url, ready));
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `render-${label}.png`), fullPage: false });
    console.log(`bench console-render: ${label} at ${SERVICES} services: ${summary(times)}  (goal p50 < 1000)`);
  };
  // Ready: the count of pending changes is shown and the list's first page (50 objects) is on the page.
  const last = service(SERVICES - 1).name;
  await measure(
    'pending-changes',
    `${baseUrl}/changes`,
    `/\\d+ pending changes/.test(main.innerText) && main.querySelectorAll('[data-testid=change-list] > li').length === ${Math.min(SERVICES, 50)}`,
  );
  const applied = await api.req('POST', '/apply', { comment: 'bench console-render' });
  if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${applied.text}`);
  // Ready: the overview's first page of cards (25; the filter searches all services) with every real server's row,
  // the engine's status on them ("programmed"), and the pager counting all services when there is more than a page.
  const cards = Math.min(SERVICES, 25);
  await measure(
    'overview',
    `${baseUrl}/`,
    `main.querySelectorAll('[data-testid=vs-name]').length === ${cards} && main.querySelectorAll('tr[data-testid^=rs-]').length === ${cards * 4} && main.innerText.includes('programmed') && (${SERVICES <= 25} || main.innerText.includes('${SERVICES} services'))`,
  );
  if (PROFILE) await profileLoad(page, `${baseUrl}/`);
  await overviewServerTimes(api);
  await liveStatsSize(page, api, `${baseUrl}/`);
  // The last service is one filter away: typing its name shows its card alone.
  await page.getByRole('searchbox', { name: 'Filter services' }).fill(last);
  await page.getByTestId('vs-name').getByText(last, { exact: true }).waitFor();
} finally {
  await browser.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  fs.rmSync(dataDir, { recursive: true, force: true });
}
