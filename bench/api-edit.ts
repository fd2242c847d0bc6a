/**
 * bench:api-edit — what one staged edit costs over the REST API, with an empty table and with 1,000 services × 4
 * real servers in it. Each console runs in its own process (this file with BENCH_API_EDIT_CONSOLE set: the API
 * router over real HTTP, a real SQLite file in a fresh data directory); this process is the client, logged in with a
 * session as the browser is, sending one request at a time.
 *
 * Three consoles run side by side: one with an empty table, one filled (through the same API, timed: the
 * patch-night figure) to SERVICES services × 4 real servers each on its own VIP, and one filled to SERVICES services
 * all on one VIP with distinct ports (the shape whose same-VIP:port rule was O(n²): every service is a neighbour of
 * every other). Rounds go round the three, ROUNDS measured after WARM_UP, each round on one console, its services of
 * that console's shape:
 *   create     POST   /virtual-services            a layer 4 NAT service with 4 real servers
 *   update     PUT    /virtual-services/:id        its scheduler changed (If-Match)
 *   add-rs     POST   /virtual-services/:id/real-servers
 *   delete     DELETE /virtual-services/:id        (so the tables stay at 0 and SERVICES)
 *
 * Prints:  bench api-edit: ms-per-edit at 0 and 1000 services X Y (1000 on one VIP: Z)   (create, p50; goal ≤ 10, flat)
 *          bench api-edit: <kind> at <n>: p50 A ms, p99 B ms              (n: 0, 1000, 1000 on one VIP)
 *          bench api-edit: console CPU ms per edit at 0 and 1000 services C D   (user + system time of each console
 *                          over the measured rounds: what the machine's other load does not inflate)
 *          bench api-edit: ratio 1000/0 (<kind> p50) R (one VIP: S)   (goal ≈ 1: the cost does not grow with the table)
 *          bench api-edit: ConfigSchema.parse of 1000 and 2000 services on one VIP: A ms B ms (ratio R)
 *                          (the schema's grouped same-VIP:port rule timed directly, in this process: goal ratio ≈ 2)
 * BENCH_API_EDIT_SERVICES (1000), BENCH_API_EDIT_ROUNDS (50); BENCH_API_EDIT_PROFILE=DIR writes a V8 CPU profile of
 * each console process to DIR.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigSchema } from '../engine/config/index.ts';
import { type Client, serveApi, setupAdmin } from '../lib/testing/harness.ts';

const SERVICES = Number(process.env.BENCH_API_EDIT_SERVICES ?? 1000);
const ROUNDS = Number(process.env.BENCH_API_EDIT_ROUNDS ?? 50);
const WARM_UP = 10;
const PROFILE = process.env.BENCH_API_EDIT_PROFILE;

if (process.env.BENCH_API_EDIT_CONSOLE) {
  // The console side: exits on SIGINT (so a CPU profile is written), prints "listening <port>".
  process.on('SIGINT', () => process.exit(0));
  // SIGUSR2: the CPU time this process has used so far, which load from elsewhere on the machine does not inflate.
  process.on('SIGUSR2', () => {
    const u = process.cpuUsage();
    process.stdout.write(`cpu ${u.user + u.system}\n`);
  });
  const { port } = await serveApi();
  process.stdout.write(`listening ${port}\n`);
  await new Promise(() => {});
}

const ip = (base: number, i: number) => `10.${base}.${(i >> 8) & 0xff}.${i & 0xff}`;
/** Every service on this VIP in the shared-VIP console, service i on port SHARED_PORT_BASE + i (i < 55,000). */
const SHARED_VIP = '10.99.0.1';
const SHARED_PORT_BASE = 10_000;
type Shape = 'own' | 'shared';
const service = (name: string, i: number, shape: Shape = 'own') => ({
  name,
  layer: 4,
  mode: 'nat',
  protocol: 'tcp',
  address: shape === 'own' ? ip(1, i) : SHARED_VIP,
  ports: [shape === 'own' ? 443 : SHARED_PORT_BASE + (i % 55_000)],
  scheduler: 'wlc',
  healthCheck: { type: 'none' },
  realServers: [0, 1, 2, 3].map((k) => ({ name: `${name}-app-${k + 1}`, address: ip(2 + k, i), port: 8443, weight: 100 })),
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

type Console = { baseUrl: string; dataDir: string; cpuMicros(): Promise<number>; stop(): Promise<void> };

async function startConsole(dataDir: string): Promise<Console> {
  const args = [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []), '--import', 'tsx', 'bench/api-edit.ts'];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      BENCH_API_EDIT_CONSOLE: '1',
      FULCRUM_DATA_DIR: dataDir,
      FULCRUM_INSECURE_HTTP: '1',
      FULCRUM_ENGINE_SOCKET: path.join(dataDir, 'engine.sock'),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`console exited (${code}) before listening: ${out}`)));
  });
  let waiting: ((us: number) => void) | undefined;
  let buffer = '';
  child.stdout!.on('data', (c) => {
    buffer += c;
    const m = /cpu (\d+)\n/.exec(buffer);
    if (m && waiting) {
      buffer = '';
      waiting(Number(m[1]));
      waiting = undefined;
    }
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    cpuMicros: () =>
      new Promise((resolve) => {
        waiting = resolve;
        child.kill('SIGUSR2');
      }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

async function timed(c: Client, method: string, p: string, body: unknown, headers: Record<string, string> = {}, expect = 200) {
  const t0 = performance.now();
  const r = await c.req(method, p, body, headers);
  const ms = performance.now() - t0;
  if (r.status !== expect) throw new Error(`${method} ${p}: ${r.status} ${r.text.slice(0, 300)}`);
  return { ms, body: r.body };
}

type Kind = 'create' | 'update' | 'add-rs' | 'delete';
const KINDS: Kind[] = ['create', 'update', 'add-rs', 'delete'];

/** One round of each edit kind on service number `i`: created, changed, given a real server, deleted again. */
async function round(c: Client, i: number, shape: Shape): Promise<Record<Kind, number>> {
  const created = await timed(c, 'POST', '/virtual-services', service(`bench-${i}`, i, shape), {}, 201);
  const { id, version, realServers: _r, createdAt: _c, updatedAt: _u, id: _i, version: _v, ...spec } = created.body;
  const updated = await timed(c, 'PUT', `/virtual-services/${id}`, { ...spec, scheduler: 'rr' }, { 'if-match': `"${version}"` });
  const added = await timed(
    c,
    'POST',
    `/virtual-services/${id}/real-servers`,
    { name: `bench-${i}-app-5`, address: ip(6, i), port: 8443, weight: 50 },
    {},
    201,
  );
  const deleted = await timed(c, 'DELETE', `/virtual-services/${id}`, undefined, { 'if-match': `"${version + 2}"` }, 204);
  return { create: created.ms, update: updated.ms, 'add-rs': added.ms, delete: deleted.ms };
}

/**
 * The schema's grouped same-VIP:port rule, timed directly: ConfigSchema.parse of a configuration whose services all
 * share one VIP on distinct ports (median of 5 parses after one warm-up). Linear work doubles from 1,000 to 2,000;
 * the old pairwise rule quadrupled.
 */
function schemaBench(): void {
  const parseMs = (n: number) => {
    const cfg = { virtualServices: Array.from({ length: n }, (_, i) => service(`one-vip-${i}`, i, 'shared')) };
    const ms: number[] = [];
    for (let k = 0; k < 6; k++) {
      const t = performance.now();
      const r = ConfigSchema.safeParse(cfg);
      if (k > 0) ms.push(performance.now() - t);
      if (!r.success) throw new Error(`the schema refused ${n} services on one VIP: ${JSON.stringify(r.error.issues.slice(0, 2))}`);
    }
    return percentile(
      ms.sort((a, b) => a - b),
      50,
    );
  };
  const [a, b] = [parseMs(SERVICES), parseMs(2 * SERVICES)];
  console.log(
    `bench api-edit: ConfigSchema.parse of ${SERVICES} and ${2 * SERVICES} services on one VIP: ${a.toFixed(1)} ms ${b.toFixed(1)} ms (ratio ${(b / a).toFixed(2)})`,
  );
}

const consoles: Console[] = [];
try {
  for (const label of ['small', 'large', 'shared']) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `fulcrum-bench-api-${label}-`));
    consoles.push(await startConsole(dataDir));
  }
  const [small, large, shared] = await Promise.all(
    consoles.map((k) => setupAdmin({ dataDir: k.dataDir, baseUrl: k.baseUrl, restartEngine: async () => {}, close: async () => {} })),
  );
  // The large table, built through the same API one request at a time (the patch-night figure). The small console
  // gets as many requests meanwhile (created and deleted again), so both are as warm when the rounds start.
  let fillMs = 0;
  for (let i = 0; i < SERVICES; i++) {
    fillMs += (await timed(large, 'POST', '/virtual-services', service(`fill-${i}`, 10_000 + i), {}, 201)).ms;
    await timed(shared, 'POST', '/virtual-services', service(`fill-${i}`, i, 'shared'), {}, 201);
    const warm = await timed(small, 'POST', '/virtual-services', service(`warm-${i}`, 10_000 + i), {}, 201);
    await timed(small, 'DELETE', `/virtual-services/${warm.body.id}`, undefined, { 'if-match': `"${warm.body.version}"` }, 204);
  }
  const fillSeconds = fillMs / 1000;
  const cpuBefore = { small: 0, large: 0, shared: 0 };
  // Rounds go round the consoles (and who goes first changes), so load from elsewhere on the machine falls on every
  // size alike; each round deletes what it created, so the sizes stay 0 and SERVICES.
  const WHICH = ['small', 'large', 'shared'] as const;
  type Which = (typeof WHICH)[number];
  const clients: Record<Which, Client> = { small, large, shared };
  const times = Object.fromEntries(WHICH.map((w) => [w, Object.fromEntries(KINDS.map((k) => [k, [] as number[]]))])) as Record<Which, Record<Kind, number[]>>;
  for (let n = 0; n < WARM_UP + ROUNDS; n++) {
    const order = WHICH.map((_, j) => WHICH[(j + n) % WHICH.length]);
    for (const which of order) {
      if (n === WARM_UP) cpuBefore[which] = await consoles[WHICH.indexOf(which)].cpuMicros();
      // Round services of the shared console take ports after the fill's (SHARED_PORT_BASE + SERVICES onwards).
      const r = await round(clients[which], which === 'shared' ? SERVICES + n : 30_000 + n, which === 'shared' ? 'shared' : 'own');
      if (n >= WARM_UP) for (const k of KINDS) times[which][k].push(r[k]);
    }
  }
  const cpuMsPerEdit = { small: 0, large: 0, shared: 0 };
  for (const [i, which] of WHICH.entries()) cpuMsPerEdit[which] = ((await consoles[i].cpuMicros()) - cpuBefore[which]) / 1000 / (ROUNDS * KINDS.length);
  for (const set of Object.values(times)) for (const k of KINDS) set[k].sort((a, b) => a - b);
  const p50 = (x: number[]) => percentile(x, 50);
  console.log(
    `bench api-edit: ms-per-edit at 0 and ${SERVICES} services ${p50(times.small.create).toFixed(1)} ${p50(times.large.create).toFixed(1)} (${SERVICES} on one VIP: ${p50(times.shared.create).toFixed(1)})`,
  );
  for (const [label, which] of [
    ['0', 'small'],
    [String(SERVICES), 'large'],
    [`${SERVICES} on one VIP`, 'shared'],
  ] as const) {
    for (const k of KINDS)
      console.log(`bench api-edit: ${k} at ${label}: p50 ${p50(times[which][k]).toFixed(1)} ms, p99 ${percentile(times[which][k], 99).toFixed(1)} ms`);
  }
  console.log(
    `bench api-edit: console CPU ms per edit at 0 and ${SERVICES} services ${cpuMsPerEdit.small.toFixed(1)} ${cpuMsPerEdit.large.toFixed(1)} (ratio ${(cpuMsPerEdit.large / cpuMsPerEdit.small).toFixed(2)}; on one VIP ${cpuMsPerEdit.shared.toFixed(1)})`,
  );
  console.log(
    `bench api-edit: filling ${SERVICES} services × 4 real servers took ${fillSeconds.toFixed(1)} s (${((fillSeconds * 1000) / SERVICES).toFixed(1)} ms each)`,
  );
  for (const k of KINDS)
    console.log(
      `bench api-edit: ratio ${SERVICES}/0 (${k} p50) ${(p50(times.large[k]) / p50(times.small[k])).toFixed(2)} (one VIP: ${(p50(times.shared[k]) / p50(times.small[k])).toFixed(2)})`,
    );
  schemaBench();
} finally {
  for (const k of consoles) {
    await k.stop();
    fs.rmSync(k.dataDir, { recursive: true, force: true });
  }
}
