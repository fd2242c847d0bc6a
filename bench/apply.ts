/**
 * npm run bench:apply — a one-weight change, from the console's REST API to the moment the layer 7 data plane
 * forwards by it, with 10 and with 1,000 layer 7 services configured.
 *
 *   console    this file with BENCH_APPLY_CONSOLE set: the API router over real HTTP, a real SQLite file in a fresh
 *              data directory, and the real engine daemon beside it (lib/testing/harness.ts startHarness), its layer
 *              7 data plane with its 2 workers. One console per size, one after the other.
 *   services   N layer 7 HTTP services on 127.0.0.1, each on its own port, each with two real servers: "a" and "b",
 *              two loopback HTTP servers of this process that answer with their letter. Health checks none.
 *   load       2 keep-alive clients send GETs to the first service without pause; every answer is kept with the
 *              moment its request was sent and the letter that answered.
 *   a round    b's weight is set to 0 (or back to 100) by PUT /virtual-services/:id/real-servers/:rsId, then
 *              POST /apply; the clock starts before the PUT. Weight 100 → the change is in force at the first
 *              request b answers; weight 0 → at the first request sent after the last one b answered (seen after
 *              BENCH_APPLY_SETTLE (200) answers in a row from a). Printed per round kind: the PUT, the apply's answer,
 *              and the change in force, each from the clock's start.
 *
 * Prints:  bench apply: rest-to-forward ms at 10 and 1000 services: p50 X Y, p99 Z W          goal p50 ≤ 100
 *          bench apply: at N services: put p50 …, apply answered p50 …, in force p50 … (p99 …)
 *          bench apply: at N services, the engine's apply (ms, p50 …): its steps, from the engine log's 'applied' lines;
 *          the rest of "apply answered" is the console's (building and sending the configuration) and the transport.
 * BENCH_APPLY_SIZES (10,1000), BENCH_APPLY_ROUNDS (30, after 4 warm-up rounds); BENCH_APPLY_PROFILE=DIR writes a
 * V8 CPU profile of the console, the engine and its workers to DIR.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Client, setupAdmin, startHarness } from '../lib/testing/harness.ts';

const SIZES = (process.env.BENCH_APPLY_SIZES ?? '10,1000').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_APPLY_ROUNDS ?? 30);
const WARM_UP = 4;
const SETTLE = Number(process.env.BENCH_APPLY_SETTLE ?? 200);
const BASE_PORT = 21000;
const PROFILE = process.env.BENCH_APPLY_PROFILE;

if (process.env.BENCH_APPLY_CONSOLE) {
  // The console side: prints "listening <url> <dataDir>", exits on SIGINT (stopping its engine).
  const h = await startHarness({ withEngine: true });
  process.on('SIGINT', () => void h.close().then(() => process.exit(0)));
  process.stdout.write(`listening ${h.baseUrl} ${h.dataDir}\n`);
  await new Promise(() => {});
}

/** A loopback real server answering every request with its letter. */
async function letterServer(letter: string): Promise<{ port: number; close(): void }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1' });
    res.end(letter);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

async function startConsole(): Promise<{ client: Client; dataDir: string; stop(): Promise<void> }> {
  // With BENCH_APPLY_PROFILE the console, the engine (lib/testing/harness.ts passes FULCRUM_TEST_ENGINE_NODE_ARGS)
  // and its workers (cluster workers inherit the primary's flags) each write a CPU profile when they exit.
  const prof = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'bench/apply.ts'], {
    env: { ...process.env, ...(PROFILE ? { FULCRUM_TEST_ENGINE_NODE_ARGS: prof.join(' ') } : {}), BENCH_APPLY_CONSOLE: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [baseUrl, dataDir] = await new Promise<[string, string]>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening (\S+) (\S+)\n/.exec(out);
      if (m) resolve([m[1], m[2]]);
    });
    child.on('exit', (code) => reject(new Error(`console exited (${code}) before listening: ${out}`)));
  });
  const client = await setupAdmin({ dataDir, baseUrl, restartEngine: async () => {}, close: async () => {} });
  return {
    client,
    dataDir,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

async function call(c: Client, method: string, p: string, body: unknown, expect: number, headers: Record<string, string> = {}) {
  const r = await c.req(method, p, body, headers);
  if (r.status !== expect) throw new Error(`${method} ${p}: ${r.status} ${r.text.slice(0, 400)}`);
  return r.body;
}

/** Answers to the first service: when each request was sent, and who answered it. */
class Load {
  readonly seen: { sentAt: number; letter: string }[] = [];
  private isRunning = true;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  private readonly loops: Promise<void>[];
  errors = 0;
  constructor(port: number) {
    this.loops = [0, 1].map(() => this.loop(port));
  }
  private async loop(port: number): Promise<void> {
    while (this.isRunning) {
      const sentAt = performance.now();
      const letter = await new Promise<string>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/', agent: this.agent }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(res.statusCode === 200 ? body : `status ${res.statusCode}`));
        });
        req.on('error', () => resolve('error'));
      });
      if (letter !== 'a' && letter !== 'b') this.errors++;
      this.seen.push({ sentAt, letter });
    }
  }
  /** Resolves once `pred` holds (checked every millisecond). */
  async until(pred: () => boolean): Promise<void> {
    while (!pred()) await new Promise((r) => setTimeout(r, 1));
  }
  async stop(): Promise<void> {
    this.isRunning = false;
    await Promise.all(this.loops);
    this.agent.destroy();
  }
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

async function measure(size: number, a: number, b: number) {
  const con = await startConsole();
  const c = con.client;
  try {
    const t0 = performance.now();
    let first: { id: string; rs: { id: string; version: number } } | undefined;
    for (let i = 0; i < size; i++) {
      const vs = await call(
        c,
        'POST',
        '/virtual-services',
        {
          name: `web-${i}`,
          layer: 7,
          mode: 'http',
          address: '127.0.0.1',
          ports: [BASE_PORT + i],
          scheduler: 'rr',
          healthCheck: { type: 'none' },
          realServers: [
            { name: `web-${i}-a`, address: '127.0.0.1', port: a, weight: 100 },
            { name: `web-${i}-b`, address: '127.0.0.1', port: b, weight: 100 },
          ],
        },
        201,
      );
      if (i === 0) first = { id: vs.id, rs: vs.realServers.find((r: { name: string }) => r.name === 'web-0-b') };
    }
    await call(c, 'POST', '/apply', { comment: `bench: ${size} services` }, 200);
    console.log(`# ${size} services created and applied in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const load = new Load(BASE_PORT);
    const rounds: { kind: 'to-0' | 'to-100'; put: number; applied: number; inForce: number }[] = [];
    let version = first!.rs.version;
    try {
      await load.until(() => load.seen.some((x) => x.letter === 'b'));
      for (let n = 0; n < WARM_UP + ROUNDS * 2; n++) {
        const weight = n % 2 === 0 ? 0 : 100;
        const mark = load.seen.length;
        const start = performance.now();
        const updated = await call(
          c,
          'PUT',
          `/virtual-services/${first!.id}/real-servers/${first!.rs.id}`,
          { name: 'web-0-b', address: '127.0.0.1', port: b, weight },
          200,
          { 'if-match': `"${version}"` },
        );
        version = updated.version;
        const put = performance.now() - start;
        await call(c, 'POST', '/apply', { comment: `bench: b weight ${weight}` }, 200);
        const applied = performance.now() - start;
        let inForce: number;
        if (weight === 100) {
          await load.until(() => load.seen.slice(mark).some((x) => x.letter === 'b' && x.sentAt >= start));
          inForce = load.seen.slice(mark).find((x) => x.letter === 'b' && x.sentAt >= start)!.sentAt - start;
        } else {
          const lastB = () => {
            for (let k = load.seen.length - 1; k >= mark; k--) if (load.seen[k].letter === 'b') return k;
            return mark - 1;
          };
          await load.until(() => load.seen.length - 1 - lastB() >= SETTLE && performance.now() - start > applied);
          const after = load.seen.slice(lastB() + 1).reduce((m, x) => Math.min(m, x.sentAt), Number.POSITIVE_INFINITY);
          inForce = Math.max(0, after - start);
        }
        if (n >= WARM_UP) rounds.push({ kind: weight === 0 ? 'to-0' : 'to-100', put, applied, inForce });
      }
    } finally {
      await load.stop();
    }
    if (load.errors) throw new Error(`${load.errors} requests to the first service failed`);
    engineParts(size, con.dataDir, rounds.length);
    return rounds;
  } finally {
    await con.stop();
  }
}

/**
 * The engine's own share of a round, from its log: each 'applied' line carries the milliseconds of its steps
 * (engine/daemon/engine.ts: validate, hash, monitor, ha, decisions, each data plane, persist, record, total). Medians
 * over the last `n` applies (the measured rounds).
 */
function engineParts(size: number, dataDir: string, n: number): void {
  // The active file and rotated ones (pino-roll numbers them: engine.1.log …), oldest first by number.
  const dir = path.join(dataDir, 'logs');
  let text = '';
  try {
    const files = fs
      .readdirSync(dir)
      .filter((f) => /^engine(\.\d+)?\.log$/.test(f))
      .sort((x, y) => Number(/\.(\d+)\.log$/.exec(x)?.[1] ?? 0) - Number(/\.(\d+)\.log$/.exec(y)?.[1] ?? 0));
    text = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
  } catch {
    console.log(`bench apply: no engine log in ${dir}`);
    return;
  }
  const parts: Record<string, number>[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"applied"')) continue;
    try {
      const j = JSON.parse(line);
      const ms = j.ms ?? j.fields?.ms;
      if (j.msg === 'applied' && ms) parts.push(ms);
    } catch {
      /* not a JSON line */
    }
  }
  const last = parts.slice(-n);
  if (!last.length) return console.log(`bench apply: no 'applied' lines with timings in ${dir}`);
  const keys = Object.keys(last[last.length - 1]);
  console.log(
    `bench apply: at ${size} services, the engine's apply (ms, p50 of ${last.length}): ${keys
      .map(
        (k) =>
          `${k} ${percentile(
            last.map((x) => x[k] ?? 0),
            50,
          ).toFixed(1)}`,
      )
      .join(', ')}`,
  );
}

const a = await letterServer('a');
const b = await letterServer('b');
const results = new Map<number, Awaited<ReturnType<typeof measure>>>();
try {
  console.log(`# this machine: ${os.cpus().length} cores; Node ${process.version}; ${ROUNDS} rounds each way after ${WARM_UP} warm-up`);
  for (const size of SIZES) {
    results.set(size, await measure(size, a.port, b.port));
  }
} finally {
  a.close();
  b.close();
}
const f = (x: number) => x.toFixed(1);
for (const [size, rounds] of results) {
  const col = (k: 'put' | 'applied' | 'inForce') => rounds.map((r) => r[k]);
  console.log(
    `bench apply: at ${size} services: put p50 ${f(percentile(col('put'), 50))}, apply answered p50 ${f(percentile(col('applied'), 50))}, in force p50 ${f(percentile(col('inForce'), 50))} p99 ${f(percentile(col('inForce'), 99))} ms` +
      ` (to weight 0: ${f(
        percentile(
          rounds.filter((r) => r.kind === 'to-0').map((r) => r.inForce),
          50,
        ),
      )}, to 100: ${f(
        percentile(
          rounds.filter((r) => r.kind === 'to-100').map((r) => r.inForce),
          50,
        ),
      )})`,
  );
}
const sizes = [...results.keys()];
const inForce = (s: number) => results.get(s)!.map((r) => r.inForce);
console.log(
  `bench apply: rest-to-forward ms at ${sizes.join(' and ')} services: p50 ${sizes.map((s) => f(percentile(inForce(s), 50))).join(' ')}, p99 ${sizes.map((s) => f(percentile(inForce(s), 99))).join(' ')} (goal p50 <= 100)`,
);
