/**
 * bench:api-edit — what one staged edit costs over the REST API, with an empty table and with 1,000 services × 4
 * real servers in it. Each console runs in its own process (this file with BENCH_API_EDIT_CONSOLE set: the API
 * router over real HTTP, a real SQLite file in a fresh data directory); this process is the client, logged in with a
 * session as the browser is, sending one request at a time.
 *
 * Two consoles run side by side, one with an empty table and one filled (through the same API, timed: the
 * patch-night figure) to SERVICES services × 4 real servers. Rounds alternate between them, ROUNDS measured after
 * WARM_UP, each round on one console:
 *   create     POST   /virtual-services            a layer 4 NAT service with 4 real servers
 *   update     PUT    /virtual-services/:id        its scheduler changed (If-Match)
 *   add-rs     POST   /virtual-services/:id/real-servers
 *   delete     DELETE /virtual-services/:id        (so the tables stay at 0 and SERVICES)
 *
 * Prints:  bench api-edit: ms-per-edit at 0 and 1000 services X Y      (create, p50; goal ≤ 10 and flat)
 *          bench api-edit: <kind> at <n>: p50 A ms, p99 B ms
 *          bench api-edit: console CPU ms per edit at 0 and 1000 services C D   (user + system time of each console
 *                          over the measured rounds: what the machine's other load does not inflate)
 *          bench api-edit: ratio 1000/0 (<kind> p50) R                (goal ≈ 1: the cost does not grow with the table)
 * BENCH_API_EDIT_SERVICES (1000), BENCH_API_EDIT_ROUNDS (50); BENCH_API_EDIT_PROFILE=DIR writes a V8 CPU profile of
 * each console process to DIR.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
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
const service = (name: string, i: number) => ({
  name,
  layer: 4,
  mode: 'nat',
  protocol: 'tcp',
  address: ip(1, i),
  ports: [443],
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
async function round(c: Client, i: number): Promise<Record<Kind, number>> {
  const created = await timed(c, 'POST', '/virtual-services', service(`bench-${i}`, i), {}, 201);
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

const consoles: Console[] = [];
try {
  for (const label of ['small', 'large']) {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `fulcrum-bench-api-${label}-`));
    consoles.push(await startConsole(dataDir));
  }
  const [small, large] = await Promise.all(
    consoles.map((k) => setupAdmin({ dataDir: k.dataDir, baseUrl: k.baseUrl, restartEngine: async () => {}, close: async () => {} })),
  );
  // The large table, built through the same API one request at a time (the patch-night figure). The small console
  // gets as many requests meanwhile (created and deleted again), so both are as warm when the rounds start.
  let fillMs = 0;
  for (let i = 0; i < SERVICES; i++) {
    fillMs += (await timed(large, 'POST', '/virtual-services', service(`fill-${i}`, 10_000 + i), {}, 201)).ms;
    const warm = await timed(small, 'POST', '/virtual-services', service(`warm-${i}`, 10_000 + i), {}, 201);
    await timed(small, 'DELETE', `/virtual-services/${warm.body.id}`, undefined, { 'if-match': `"${warm.body.version}"` }, 204);
  }
  const fillSeconds = fillMs / 1000;
  const cpuBefore = { small: 0, large: 0 };
  // Rounds alternate between the two consoles (and who goes first), so load from elsewhere on the machine falls on
  // both sizes alike; each round deletes what it created, so the sizes stay 0 and SERVICES.
  const times = {
    small: Object.fromEntries(KINDS.map((k) => [k, [] as number[]])),
    large: Object.fromEntries(KINDS.map((k) => [k, [] as number[]])),
  } as Record<'small' | 'large', Record<Kind, number[]>>;
  for (let n = 0; n < WARM_UP + ROUNDS; n++) {
    const order = n % 2 === 0 ? (['small', 'large'] as const) : (['large', 'small'] as const);
    for (const which of order) {
      if (n === WARM_UP) cpuBefore[which] = await consoles[which === 'small' ? 0 : 1].cpuMicros();
      const r = await round(which === 'small' ? small : large, 30_000 + n);
      if (n >= WARM_UP) for (const k of KINDS) times[which][k].push(r[k]);
    }
  }
  const cpuMsPerEdit = { small: 0, large: 0 };
  for (const [i, which] of (['small', 'large'] as const).entries())
    cpuMsPerEdit[which] = ((await consoles[i].cpuMicros()) - cpuBefore[which]) / 1000 / (ROUNDS * KINDS.length);
  for (const set of Object.values(times)) for (const k of KINDS) set[k].sort((a, b) => a - b);
  const p50 = (x: number[]) => percentile(x, 50);
  console.log(`bench api-edit: ms-per-edit at 0 and ${SERVICES} services ${p50(times.small.create).toFixed(1)} ${p50(times.large.create).toFixed(1)}`);
  for (const [label, which] of [
    ['0', 'small'],
    [String(SERVICES), 'large'],
  ] as const) {
    for (const k of KINDS)
      console.log(`bench api-edit: ${k} at ${label}: p50 ${p50(times[which][k]).toFixed(1)} ms, p99 ${percentile(times[which][k], 99).toFixed(1)} ms`);
  }
  console.log(
    `bench api-edit: console CPU ms per edit at 0 and ${SERVICES} services ${cpuMsPerEdit.small.toFixed(1)} ${cpuMsPerEdit.large.toFixed(1)} (ratio ${(cpuMsPerEdit.large / cpuMsPerEdit.small).toFixed(2)})`,
  );
  console.log(
    `bench api-edit: filling ${SERVICES} services × 4 real servers took ${fillSeconds.toFixed(1)} s (${((fillSeconds * 1000) / SERVICES).toFixed(1)} ms each)`,
  );
  for (const k of KINDS) console.log(`bench api-edit: ratio ${SERVICES}/0 (${k} p50) ${(p50(times.large[k]) / p50(times.small[k])).toFixed(2)}`);
} finally {
  for (const k of consoles) {
    await k.stop();
    fs.rmSync(k.dataDir, { recursive: true, force: true });
  }
}
