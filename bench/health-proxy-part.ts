/**
 * bench/health.ts's proxy part (its header says what it measures and why): the layer 7 proxy under wrk with the
 * 2,000-server monitor on and off beside it (bench/health-proxy.ts), in rounds of each, printing each round and
 * returning the summary line.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { INTERVAL_MS, SERVERS } from './health-fleet.ts';
import { waitPort } from './wait-port.ts';
import {
  busyTicks,
  children,
  CLK_TCK,
  fleetTicks,
  forkJs,
  have,
  idleTicks,
  median,
  monitorChildTicks,
  nextMessage,
  ownTicks,
  sleep,
  startFleet,
  stopChild,
  stopFleet,
  treeTicks,
  type Fleet,
} from './health-procs.ts';

const PROXY_ROUNDS = Math.max(2, Number(process.env.BENCH_HEALTH_PROXY_ROUNDS ?? 8));
const PROXY_SECONDS = 4;
/** Other processes' CPU (% of one core) under which a proxy round counts as undisturbed. */
const QUIET_OTHERS = 15;
/** The proxy part's fleet runs at this niceness (BENCH_HEALTH_FLEET_NICE; bench/health.ts's header says why). */
const FLEET_NICE = Number(process.env.BENCH_HEALTH_FLEET_NICE ?? 10);

function wrk(url: string, seconds: number): { rps: number; requests: number; errors: number } {
  const out = execFileSync('wrk', ['-t1', '-c64', `-d${seconds}s`, url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return { rps, requests, errors: non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) };
}

/** CPU ticks of this bench: its live process tree, plus the children it has waited for (wrk, once it exits). */
function benchTicks(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return treeTicks(process.pid) + Number(f[13]) + Number(f[14]);
}

/** `jsDir`: the compiled proxy and monitor (health-procs.ts compileBench), run as the daemon runs them. */
export async function runProxy(jsDir: string): Promise<string[]> {
  for (const c of ['nginx', 'wrk']) if (!have(c)) throw new Error(`${c} is missing: run scripts/install-system-deps.sh`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-bench-health-proxy-'));
  const port = 19_000 + (process.pid % 50) * 20;
  const backendPort = port + 1;
  const base = 21000 + (process.pid % 5) * 2000;
  fs.writeFileSync(
    path.join(tmp, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${tmp}/nginx.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:${backendPort}; location / { return 200 "hello from the nginx backend\\n"; } } }\n`,
  );
  const nginx = spawn('nginx', ['-c', path.join(tmp, 'nginx.conf'), '-p', tmp, '-e', 'stderr'], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(nginx);
  let fleet: Fleet | undefined;
  let proxy: ChildProcess | undefined;
  try {
    await waitPort(backendPort);
    fleet = await startFleet(base, [], tmp, FLEET_NICE);
    proxy = forkJs(jsDir, 'health-proxy.ts', { dataDir: path.join(tmp, 'fulcrum'), port, backendPort, base });
    await nextMessage(proxy, 'ready', 60_000);
    const url = `http://127.0.0.1:${port}/`;
    wrk(url, 1); // warm: pools, JIT
    console.log(
      `# proxy: this machine, ${os.cpus().length} cores; Fulcrum layer 7 (primary + 2 workers) → nginx; wrk -t1 -c64 -d${PROXY_SECONDS}s; ${PROXY_ROUNDS} rounds each way; the monitor (${SERVERS} servers): its view in the primary, its checks in its child at niceness ${process.env.FULCRUM_HEALTH_NICE ?? 10}; the checked fleet (nginx) at niceness ${FLEET_NICE}, standing in for other machines`,
    );
    const runs: Record<
      'with' | 'without',
      { rps: number; primary: number; checker: number; servers: number; workerUs: number; ran: number; lateMs: number; downs: number; others: number }[]
    > = { with: [], without: [] };
    let errors = 0;
    for (let r = 0; r < PROXY_ROUNDS; r++) {
      for (const mode of r % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const)) {
        const on = mode === 'with';
        const ack = nextMessage<{ op: string; on: boolean; up?: number }>(proxy, 'checks', 30_000, (m) => m.on === on);
        proxy.send({ op: 'checks', on });
        const a = await ack;
        if (on && a.up !== SERVERS) console.log(`#   only ${a.up} of ${SERVERS} servers passed their first check`);
        await sleep(1000);
        type Sched = { op: string; runs: number; maxLateMs: number; downs: number };
        const askSchedule = () => {
          const r = nextMessage<Sched>(proxy!, 'schedule', 10_000);
          proxy!.send({ op: 'schedule' });
          return r;
        };
        await askSchedule();
        const p0 = ownTicks(proxy.pid!);
        const all0 = treeTicks(proxy.pid!);
        const c0 = monitorChildTicks(proxy.pid!);
        const idle0 = idleTicks();
        const busy0 = busyTicks();
        const mine0 = benchTicks();
        const s0 = fleetTicks(fleet);
        const t0 = performance.now();
        const w = wrk(url, PROXY_SECONDS);
        const secs = (performance.now() - t0) / 1000;
        const idle = ((idleTicks() - idle0) / CLK_TCK / ((performance.now() - t0) / 1000)) * 100;
        // Everything else on the machine (other users' processes): what this bench cannot hold still.
        const others = ((busyTicks() - busy0 - (benchTicks() - mine0)) / CLK_TCK / ((performance.now() - t0) / 1000)) * 100;
        const sched = await askSchedule();
        const primary = ownTicks(proxy.pid!) - p0;
        const checker = monitorChildTicks(proxy.pid!) - c0;
        const workers = treeTicks(proxy.pid!) - all0 - primary - checker;
        const x = {
          rps: w.rps,
          primary: (primary / CLK_TCK / secs) * 100,
          checker: (checker / CLK_TCK / secs) * 100,
          // Checks run against checks due in the window (every server once per interval), and the latest slot.
          ran: sched.runs / ((SERVERS * secs * 1000) / INTERVAL_MS),
          lateMs: sched.maxLateMs,
          downs: sched.downs,
          others,
          servers: ((fleetTicks(fleet) - s0) / CLK_TCK / secs) * 100,
          // The proxy's own work per request: its workers' CPU (the primary, with the monitor, apart).
          workerUs: w.requests > 0 ? ((workers / CLK_TCK) * 1e6) / w.requests : NaN,
        };
        errors += w.errors;
        runs[mode].push(x);
        const checks = on
          ? `; checker ${x.checker.toFixed(1)} %, ran ${(100 * x.ran).toFixed(0)} % of the checks due, latest slot +${x.lateMs} ms, ${x.downs} downs`
          : '';
        console.log(
          `#   round ${r + 1} ${`${mode} checks`.padEnd(15)} ${x.rps.toFixed(0).padStart(6)} rps; workers ${x.workerUs.toFixed(1)} µs CPU/req; primary ${x.primary.toFixed(1)} % of one core, real servers ${x.servers.toFixed(1)} %, idle of all CPUs ${idle.toFixed(0)} %, other processes ${x.others.toFixed(0)} %${checks}${w.errors ? `; ${w.errors} errors` : ''}`,
        );
      }
    }
    const ratios = runs.with.map((x, i) => x.rps / runs.without[i].rps);
    // Pairs in which the rest of the machine stayed quiet (others' processes under QUIET_OTHERS % of one core in
    // both rounds): the machine is shared, and a build or test run beside the bench moves rps by half.
    const isQuiet = (i: number) => runs.with[i].others < QUIET_OTHERS && runs.without[i].others < QUIET_OTHERS;
    const quiet = ratios.filter((_, i) => isQuiet(i));
    const med = (m: 'with' | 'without', k: 'rps' | 'primary' | 'checker' | 'servers' | 'workerUs' | 'ran' | 'lateMs') => median(runs[m].map((x) => x[k]));
    const spread = runs.without.map((x) => x.rps);
    console.log(
      `# proxy medians: with ${med('with', 'rps').toFixed(0)} rps, without ${med('without', 'rps').toFixed(0)} rps (without ranged ${Math.min(...spread).toFixed(0)}–${Math.max(...spread).toFixed(0)}); per-round ratios [${ratios.map((x) => x.toFixed(3)).join(', ')}]`,
    );
    console.log(
      `# proxy workers: ${med('with', 'workerUs').toFixed(1)} µs CPU/req with checks, ${med('without', 'workerUs').toFixed(1)} without; primary: ${med('with', 'primary').toFixed(1)} % of one core with checks, ${med('without', 'primary').toFixed(1)} % without; the monitor's child ${med('with', 'checker').toFixed(1)} %; nginx serving the fleet: ${med('with', 'servers').toFixed(1)} % while checked`,
    );
    const downs = runs.with.reduce((n, x) => n + x.downs, 0);
    console.log(
      `# checks under the proxy's load: ran ${(100 * Math.min(...runs.with.map((x) => x.ran))).toFixed(0)}–${(100 * Math.max(...runs.with.map((x) => x.ran))).toFixed(0)} % of those due; latest slot median +${med('with', 'lateMs').toFixed(0)} ms, worst +${Math.max(...runs.with.map((x) => x.lateMs))} ms; ${downs} servers went down (none should)`,
    );
    const useQuiet = quiet.length >= 3;
    const pairs = (f: (i: number) => number) =>
      median(
        ratios
          .map((_, i) => i)
          .filter((i) => !useQuiet || isQuiet(i))
          .map(f),
      );
    // rps alone cannot tell the proxy slowing from the proxy sharing: wrk, the proxy and its backend fill both cores
    // here, so whatever the checks and the checked fleet take comes out of their rps (the header says why). Beside
    // the rps ratio: the workers' CPU per request with/without (≈ 1: each request costs the proxy the same), and
    // the share of this machine's CPUs the monitor's child and the fleet took, which is about what rps can lose.
    const perRequest = pairs((i) => runs.with[i].workerUs / runs.without[i].workerUs);
    const taken = pairs((i) => (runs.with[i].checker + runs.with[i].servers) / os.cpus().length);
    console.log(
      `# proxy pairs with the rest of the machine quiet (< ${QUIET_OTHERS} % of one core): ${quiet.length} of ${ratios.length}${quiet.length ? `, ratios [${quiet.map((x) => x.toFixed(3)).join(', ')}], median ${median(quiet).toFixed(3)}` : ''}; all pairs: median ${median(ratios).toFixed(3)}; the summary takes ${useQuiet ? 'the quiet pairs' : 'all pairs (fewer than 3 quiet)'}`,
    );
    const lines = [
      `bench health: proxy rps with/without checks ${median(useQuiet ? quiet : ratios).toFixed(3)}${useQuiet ? ` (${quiet.length} quiet pairs of ${ratios.length})` : ` (all ${ratios.length} pairs; the machine was busy)`}; workers' CPU per request with/without ${perRequest.toFixed(3)}; the checks and the checked fleet took ${taken.toFixed(1)} % of the machine's ${os.cpus().length} cores`,
    ];
    if (errors) {
      lines.push(`bench health: the proxy had ${errors} failed requests`);
      process.exitCode = 1;
    }
    return lines;
  } finally {
    if (proxy) await stopChild(proxy);
    if (fleet) await stopFleet(fleet);
    await stopChild(nginx);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
