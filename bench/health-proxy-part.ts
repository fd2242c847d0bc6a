/**
 * bench/health.ts's proxy part (its header says what it measures and why): the layer 7 proxy under wrk with the
 * 2,000-server monitor on and off beside it (bench/health-proxy.ts), in rounds of with, without and without again
 * (the A/A pair), then rounds of wrk with checks on in which servers die (detection under the proxy's load),
 * printing each round and returning the summary lines.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FALL, INTERVAL_MS, SERVERS } from './health-fleet.ts';
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
  percentile,
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
/** Servers killed while wrk runs, over BENCH_HEALTH_PROXY_KILL_ROUNDS rounds (detection under the proxy's load). */
const KILLS = Number(process.env.BENCH_HEALTH_PROXY_KILLS ?? 40);
const KILL_ROUNDS = Math.max(1, Number(process.env.BENCH_HEALTH_PROXY_KILL_ROUNDS ?? 4));
/**
 * A kill round's wrk runs this long; kills fall from 1 s in to KILL_MARGIN_S before its end, so every verdict
 * (bound interval × fall + 0.5 s) is due while the load still runs.
 */
const KILL_SECONDS = 12;
const KILL_MARGIN_S = 6;
/** interval × fall + 0.5 s: the issue's bound on detection. */
const BOUND_MS = INTERVAL_MS * FALL + 500;

/** wrk against `url`, without blocking this process (kill rounds time kills and verdicts while it runs). */
function wrk(url: string, seconds: number): Promise<{ rps: number; requests: number; errors: number }> {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', '-c64', `-d${seconds}s`, url], { encoding: 'utf8' }, (e, out) => {
      if (e) return reject(e);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({ rps, requests, errors: non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) });
    });
  });
}

/** CPU ticks of this bench: its live process tree, plus the children it has waited for (wrk, once it exits). */
function benchTicks(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return treeTicks(process.pid) + Number(f[13]) + Number(f[14]);
}

type Mode = 'with' | 'without' | 'again';
/** One wrk round: rps, and the CPU of each part as % of one core over it. */
interface ProxyRound {
  rps: number;
  primary: number;
  checker: number;
  servers: number;
  /** Of `servers`, the Node process serving the ones that die (health-servers.ts). */
  node: number;
  workerUs: number;
  ran: number;
  lateMs: number;
  downs: number;
  others: number;
  idle: number;
  errors: number;
}
type Sched = { op: string; runs: number; maxLateMs: number; downs: number };

/** The proxy's process, told to start or stop its monitor, and asked how the checks kept up. */
class ProxyProcess {
  constructor(readonly proc: ChildProcess) {}

  async checks(on: boolean): Promise<void> {
    const ack = nextMessage<{ op: string; on: boolean; up?: number }>(this.proc, 'checks', 30_000, (m) => m.on === on);
    this.proc.send({ op: 'checks', on });
    const a = await ack;
    if (on && a.up !== SERVERS) console.log(`#   only ${a.up} of ${SERVERS} servers passed their first check`);
  }

  schedule(): Promise<Sched> {
    const r = nextMessage<Sched>(this.proc, 'schedule', 10_000);
    this.proc.send({ op: 'schedule' });
    return r;
  }
}

/** wrk for `seconds` with every part's CPU counted over it; `during` runs once wrk has started. */
async function measure(proxy: ProxyProcess, fleet: Fleet, url: string, seconds: number, during?: () => void): Promise<ProxyRound> {
  await proxy.schedule();
  const pid = proxy.proc.pid!;
  const p0 = ownTicks(pid);
  const all0 = treeTicks(pid);
  const c0 = monitorChildTicks(pid);
  const idle0 = idleTicks();
  const busy0 = busyTicks();
  const mine0 = benchTicks();
  const s0 = fleetTicks(fleet);
  const n0 = fleet.node ? treeTicks(fleet.node.pid!) : 0;
  const t0 = performance.now();
  const running = wrk(url, seconds);
  during?.();
  const w = await running;
  const secs = (performance.now() - t0) / 1000;
  const pct = (ticks: number) => (ticks / CLK_TCK / secs) * 100;
  const idle = pct(idleTicks() - idle0);
  // Everything else on the machine (other users' processes): what this bench cannot hold still.
  const others = pct(busyTicks() - busy0 - (benchTicks() - mine0));
  const sched = await proxy.schedule();
  const primary = ownTicks(pid) - p0;
  const checker = monitorChildTicks(pid) - c0;
  const workers = treeTicks(pid) - all0 - primary - checker;
  return {
    rps: w.rps,
    primary: pct(primary),
    checker: pct(checker),
    // Checks run against checks due in the window (every server once per interval), and the latest slot.
    ran: sched.runs / ((SERVERS * secs * 1000) / INTERVAL_MS),
    lateMs: sched.maxLateMs,
    downs: sched.downs,
    others,
    idle,
    servers: pct(fleetTicks(fleet) - s0),
    node: pct((fleet.node ? treeTicks(fleet.node.pid!) : 0) - n0),
    // The proxy's own work per request: its workers' CPU (the primary, with the monitor, apart).
    workerUs: w.requests > 0 ? ((workers / CLK_TCK) * 1e6) / w.requests : NaN,
    errors: w.errors,
  };
}

function roundLine(r: number, label: string, x: ProxyRound, hasChecks: boolean): string {
  const checks = hasChecks
    ? `; checker ${x.checker.toFixed(1)} %, ran ${(100 * x.ran).toFixed(0)} % of the checks due, latest slot +${x.lateMs} ms, ${x.downs} downs`
    : '';
  return `#   round ${r + 1} ${label.padEnd(17)} ${x.rps.toFixed(0).padStart(6)} rps; workers ${x.workerUs.toFixed(1)} µs CPU/req; primary ${x.primary.toFixed(1)} % of one core, real servers ${x.servers.toFixed(1)} % (Node's ${x.node.toFixed(1)}), idle of all CPUs ${x.idle.toFixed(0)} %, other processes ${x.others.toFixed(0)} %${checks}${x.errors ? `; ${x.errors} errors` : ''}`;
}

/** The six orders of the three modes, one a round in turn: no mode always first, last, or next to the same one. */
const ORDERS: Mode[][] = [
  ['with', 'without', 'again'],
  ['again', 'without', 'with'],
  ['without', 'with', 'again'],
  ['again', 'with', 'without'],
  ['without', 'again', 'with'],
  ['with', 'again', 'without'],
];
const LABEL: Record<Mode, string> = { with: 'with checks', without: 'without checks', again: 'without (A/A)' };

/** The rps rounds: with checks, without, and without again (the A/A pair that says what run-to-run noise is). */
async function rpsRounds(proxy: ProxyProcess, fleet: Fleet, url: string): Promise<{ runs: Record<Mode, ProxyRound[]>; errors: number }> {
  const runs: Record<Mode, ProxyRound[]> = { with: [], without: [], again: [] };
  let errors = 0;
  for (let r = 0; r < PROXY_ROUNDS; r++) {
    for (const mode of ORDERS[r % ORDERS.length]) {
      await proxy.checks(mode === 'with');
      await sleep(1000);
      const x = await measure(proxy, fleet, url, PROXY_SECONDS);
      errors += x.errors;
      runs[mode].push(x);
      console.log(roundLine(r, LABEL[mode], x, mode === 'with'));
    }
  }
  return { runs, errors };
}

/** Detection under the proxy's full load: servers killed while wrk runs, kill to verdict in ms, per round. */
interface Detection {
  rounds: { x: ProxyRound; latencies: number[] }[];
  missed: number;
  falseDowns: number;
}

async function killRounds(proxy: ProxyProcess, fleet: Fleet, url: string): Promise<Detection> {
  const out: Detection = { missed: 0, falseDowns: 0, rounds: [] };
  const per = Math.ceil(fleet.victims.length / KILL_ROUNDS);
  for (let r = 0; r < KILL_ROUNDS; r++) {
    const victims = fleet.victims.slice(r * per, (r + 1) * per);
    await proxy.checks(true);
    await sleep(1000);
    const killedAt = new Map<number, number>();
    const downAt = new Map<number, number>();
    let falseDowns = 0;
    const onKilled = (m: { op: string; port?: number; at?: number }) => m.op === 'killed' && killedAt.set(m.port!, m.at!);
    // The verdict's time is when it reaches this process, as in the checkers part.
    const onDown = (m: { op: string; target?: string }) => {
      if (m.op !== 'down') return;
      const port = Number(m.target!.split(':').pop());
      if (!victims.includes(port)) falseDowns++;
      else if (!downAt.has(port)) downAt.set(port, Date.now());
    };
    fleet.node!.on('message', onKilled);
    proxy.proc.on('message', onDown);
    const timers: NodeJS.Timeout[] = [];
    const x = await measure(proxy, fleet, url, KILL_SECONDS, () => {
      for (const port of victims) {
        const atMs = 1000 + Math.random() * (KILL_SECONDS - KILL_MARGIN_S - 1) * 1000;
        timers.push(setTimeout(() => fleet.node!.send({ op: 'kill', ports: [port] }), atMs));
      }
    });
    timers.forEach(clearTimeout);
    fleet.node!.off('message', onKilled);
    proxy.proc.off('message', onDown);
    const lat = [...downAt].filter(([port]) => killedAt.has(port)).map(([port, at]) => at - killedAt.get(port)!);
    out.missed += killedAt.size - lat.length;
    out.falseDowns += falseDowns;
    out.rounds.push({ x, latencies: lat });
    console.log(
      `${roundLine(r, 'kills under load', x, true)}; ${lat.length} of ${victims.length} kills detected, max ${lat.length ? Math.max(...lat).toFixed(0) : '-'} ms${falseDowns ? `, ${falseDowns} false downs` : ''}`,
    );
    await proxy.checks(false);
    const revived = nextMessage(fleet.node!, 'revived', 30_000);
    fleet.node!.send({ op: 'revive', ports: [...killedAt.keys()] });
    await revived;
  }
  return out;
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
  let proc: ChildProcess | undefined;
  try {
    await waitPort(backendPort);
    // The servers killed under load: KILLS of them at random, served apart (health-servers.ts) so each can die alone.
    const all = Array.from({ length: SERVERS }, (_, i) => base + i);
    const victims = Array.from({ length: Math.min(KILLS, SERVERS) }, () => all.splice(Math.floor(Math.random() * all.length), 1)[0]);
    // The rps rounds' fleet is nginx alone: the Node process that serves the ones that die took 2.0-2.5 % of one core
    // answering 40 of them (nginx 3.7 % for the other 1,960), CPU that a real fleet would not take from this machine.
    fleet = await startFleet(base, [], tmp, FLEET_NICE);
    proc = forkJs(jsDir, 'health-proxy.ts', { dataDir: path.join(tmp, 'fulcrum'), port, backendPort, base });
    await nextMessage(proc, 'ready', 60_000);
    const proxy = new ProxyProcess(proc);
    const url = `http://127.0.0.1:${port}/`;
    await wrk(url, 1); // warm: pools, JIT
    const nice = process.env.FULCRUM_HEALTH_NICE ?? 10;
    console.log(
      `# proxy: this machine, ${os.cpus().length} cores; Fulcrum layer 7 (primary + 2 workers) → nginx; wrk -t1 -c64 -d${PROXY_SECONDS}s; ${PROXY_ROUNDS} rounds of with checks, without, and without again (A/A); then ${KILL_ROUNDS} rounds of ${KILL_SECONDS} s with checks in which ${victims.length} servers die; the monitor (${SERVERS} servers): its view in the primary, its checks in its child at niceness ${nice}; the checked fleet (nginx; in the kill rounds Node for the ones that die) at niceness ${FLEET_NICE}, standing in for other machines`,
    );
    const { runs, errors } = await rpsRounds(proxy, fleet, url);
    let detection: Detection | undefined;
    if (victims.length) {
      // The monitor is off while the fleet changes hands, so no server is seen down but those killed.
      await proxy.checks(false);
      await stopFleet(fleet);
      fleet = undefined;
      fleet = await startFleet(base, victims, tmp, FLEET_NICE);
      detection = await killRounds(proxy, fleet, url);
    }
    const lines = summarise(runs, detection, nice);
    if (errors) {
      lines.push(`bench health: the proxy had ${errors} failed requests`);
      process.exitCode = 1;
    }
    return lines;
  } finally {
    if (proc) await stopChild(proc);
    if (fleet) await stopFleet(fleet);
    await stopChild(nginx);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const range = (xs: number[]) => (xs.length ? `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}` : '-');

/** The figures of the rps and kill rounds: printed lines, and the summary's lines returned. */
function summarise(runs: Record<Mode, ProxyRound[]>, detection: Detection | undefined, nice: string | number): string[] {
  const cores = os.cpus().length;
  const n = runs.with.length;
  const idx = Array.from({ length: n }, (_, i) => i);
  // Rounds in which the rest of the machine stayed quiet (others' processes under QUIET_OTHERS % of one core in all
  // three): the machine is shared, and a build or test run beside the bench moves rps by half.
  const isQuiet = (i: number) => runs.with[i].others < QUIET_OTHERS && runs.without[i].others < QUIET_OTHERS && runs.again[i].others < QUIET_OTHERS;
  const quiet = idx.filter(isQuiet);
  const useQuiet = quiet.length >= 3;
  const used = useQuiet ? quiet : idx;
  const ratios = (f: (i: number) => number) => used.map(f);
  const wo = ratios((i) => runs.with[i].rps / runs.without[i].rps);
  const aa = ratios((i) => runs.again[i].rps / runs.without[i].rps);
  const med = (m: Mode, k: keyof ProxyRound) => median(used.map((i) => runs[m][i][k]));
  console.log(
    `# proxy medians: with ${med('with', 'rps').toFixed(0)} rps, without ${med('without', 'rps').toFixed(0)}, without again ${med('again', 'rps').toFixed(0)}; with/without per round [${wo.map((x) => x.toFixed(3)).join(', ')}]; A/A per round [${aa.map((x) => x.toFixed(3)).join(', ')}]`,
  );
  console.log(
    `# proxy workers: ${med('with', 'workerUs').toFixed(1)} µs CPU/req with checks, ${med('without', 'workerUs').toFixed(1)} without, ${med('again', 'workerUs').toFixed(1)} without again; primary: ${med('with', 'primary').toFixed(1)} % of one core with checks, ${med('without', 'primary').toFixed(1)} % without`,
  );
  const downs = used.reduce((k, i) => k + runs.with[i].downs, 0);
  console.log(
    `# checks under the proxy's load: ran ${(100 * Math.min(...runs.with.map((x) => x.ran))).toFixed(0)}–${(100 * Math.max(...runs.with.map((x) => x.ran))).toFixed(0)} % of those due; latest slot median +${med('with', 'lateMs').toFixed(0)} ms, worst +${Math.max(...runs.with.map((x) => x.lateMs))} ms; ${downs} servers went down (none should)`,
  );
  console.log(
    `# proxy rounds with the rest of the machine quiet (< ${QUIET_OTHERS} % of one core): ${quiet.length} of ${n}; the summary takes ${useQuiet ? 'those' : 'all (fewer than 3 quiet)'}`,
  );
  // rps alone cannot tell the proxy slowing from the proxy sharing: wrk, the proxy and its backend fill both cores
  // here, so whatever the checks and the checked fleet take comes out of their rps (the header says why). Beside
  // the rps ratio: the A/A ratio's spread (what two rounds of the same thing differ by here), the workers' CPU per
  // request with/without (≈ 1: each request costs the proxy the same), and the share of this machine's CPUs the
  // monitor's child and the fleet each took, which is about what rps can lose.
  const perRequest = median(ratios((i) => runs.with[i].workerUs / runs.without[i].workerUs));
  const checker = med('with', 'checker') / cores;
  const servers = med('with', 'servers') / cores;
  const which = useQuiet ? `${quiet.length} quiet rounds of ${n}` : `all ${n} rounds; the machine was busy`;
  const lines = [
    `bench health: proxy rps with/without checks ${median(wo).toFixed(3)} (per round ${range(wo)}); A/A without/without ${median(aa).toFixed(3)} (per round ${range(aa)}) (${which}); workers' CPU per request with/without ${perRequest.toFixed(3)}; of the machine's ${cores} cores the checks took ${checker.toFixed(1)} %, the checked fleet ${servers.toFixed(1)} %`,
  ];
  if (detection) lines.push(...detectionLines(detection, nice));
  return lines;
}

/**
 * Detection's p99 over every kill round, and over those in which the rest of the machine stayed quiet: a build or
 * test beside the bench takes the CPU the checks would have had, and the checks then fall behind (by design at
 * their niceness: runner-child.ts), which is the machine oversubscribed, not the proxy's load.
 */
function detectionLines(d: Detection, nice: string | number): string[] {
  const p99 = (xs: number[]) =>
    xs.length
      ? percentile(
          [...xs].sort((a, b) => a - b),
          99,
        ).toFixed(0)
      : 'none';
  const all = d.rounds.flatMap((r) => r.latencies);
  const quiet = d.rounds.filter((r) => r.x.others < QUIET_OTHERS);
  const s = [...all].sort((a, b) => a - b);
  const ks = d.rounds.map((r) => r.x);
  console.log(
    `# kills under load: ${s.length} detected, p50 ${percentile(s, 50)?.toFixed(0)} ms, p90 ${percentile(s, 90)?.toFixed(0)} ms, max ${s.at(-1)?.toFixed(0)} ms; wrk ${median(ks.map((x) => x.rps)).toFixed(0)} rps, idle of all CPUs ${median(ks.map((x) => x.idle)).toFixed(0)} %, checks ran ${(100 * Math.min(...ks.map((x) => x.ran))).toFixed(0)}–${(100 * Math.max(...ks.map((x) => x.ran))).toFixed(0)} % of those due, latest slot worst +${Math.max(...ks.map((x) => x.lateMs))} ms`,
  );
  const q = quiet.flatMap((r) => r.latencies);
  return [
    `bench health: detection under the proxy's load p99 ms ${p99(all)} over ${all.length} kills, ${p99(q)} over the ${q.length} kills of the ${quiet.length} quiet rounds of ${d.rounds.length} (bound ${BOUND_MS}; checks at niceness ${nice})${d.missed ? `; ${d.missed} never detected` : ''}${d.falseDowns ? `; ${d.falseDowns} false downs` : ''}`,
  ];
}
