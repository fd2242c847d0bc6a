/**
 * npm run bench:health — Fulcrum's health checks against keepalived 2.2.7's checker doing the same checks, and what
 * checking costs the proxy.
 *
 *   fleet      2,000 real servers on 127.0.0.1 (1,000 HTTP answering 200 on /health, 1,000 plain TCP listeners):
 *              nginx (one worker) serves all but the ones that die during the run, which bench/health-servers.ts
 *              serves so each can be killed alone; neither's CPU counts as a checker's. Both checkers check all of
 *              them every 2 s; bench/health-fleet.ts has the two configurations and a table of how each setting
 *              maps (fall 2 ⇔ retry 1 with delay_before_retry 2, and so on).
 *   checkers   keepalived's checker needs IPVS, which this machine's kernel lacks, so this part runs inside the
 *              User-Mode Linux test kernel (scripts/kernel/guest.sh; one CPU), Fulcrum's monitor measured in the
 *              same guest: bench/health-monitor.ts (HealthMonitor as the engine runs it: compiled to JavaScript
 *              (health-procs.ts compileBench), its view in that process, the checks in the monitor's own child
 *              process, both counted) and `keepalived -n -l -D --check` (its parent and checker child). Never
 *              both at once; rounds rotate (Fulcrum first, then keepalived first, BENCH_HEALTH_ROUNDS (2) each).
 *              A round starts the checker, waits until every server has been checked once (one interval) and
 *              BENCH_HEALTH_WARMUP_SECONDS (20) more (start-up costs: see WARMUP_MS), then counts utime+stime of
 *              all the checker's processes over BENCH_HEALTH_SECONDS (24). The ratio is the median of per-pair
 *              ratios (each Fulcrum round with the keepalived round beside it). While the guest runs,
 *              this machine's idle CPUs poll (as bench:l4 does): with halting vCPUs the guest's figures swung 2×.
 *              In the guest every system call and clock reading is a round trip through the UML kernel, so both
 *              checkers' shares there are several times what they are on a real kernel (and its split of user and
 *              system time means little: UML charges nearly all of it to user).
 *   native     Fulcrum's monitor again, alone, on this machine's own kernel (BENCH_HEALTH_NATIVE_SECONDS (12)),
 *              for the share of one core it takes where it will run; rounds alternate with the kernel's floor:
 *              bench/health-floor.c (built with cc at run time, BENCH_HEALTH_FLOOR=0 leaves it out), the same checks
 *              of the same fleet at the same rate, each a fresh connection closed with a reset, in one small C
 *              process making only the system calls a check needs. Its CPU is what the kernel's part costs; the
 *              gap to Fulcrum's is Node's, libuv's and ours. Both are printed per check, user and system apart.
 *   detection  in every round of the checkers part, BENCH_HEALTH_KILLS (40) ÷ BENCH_HEALTH_ROUNDS servers chosen
 *              at random are killed (listener closed, connections reset) at random moments of the window, no later
 *              than 5 s before its end; each peer kills the same servers. Latency is from the kill (the servers'
 *              process closing the listener) to the moment the checker's verdict reaches this process: Fulcrum's
 *              down transition over IPC, keepalived's "Disabling service" log line (-l -D logs each transition)
 *              over a pipe. Killed servers listen again between rounds. A server reported down that was not
 *              killed is counted as a false down.
 *   proxy      on this machine (not UML): the layer 7 proxy as bench/l7-proxy.ts runs it (2 workers, nginx behind
 *              it, wrk -t1 -c64), with the 2,000-server monitor on and off beside it as the daemon runs it (its view
 *              in the proxy's primary, its checks in its child process at niceness 10, or FULCRUM_HEALTH_NICE:
 *              engine/health/runner-child.ts; bench/health-proxy.ts, compiled like the monitor);
 *              BENCH_HEALTH_PROXY_ROUNDS (8) rounds of three 4 s runs: with checks, without, and without again,
 *              in an order that turns with each round. The ratio is the median of per-round ratios; the second
 *              without run gives an A/A ratio (without/without), whose spread over the rounds is what two runs of
 *              the same thing differ by here, so "lowered measurably" has a yardstick. This machine has 2 cores and
 *              wrk, the workers and nginx fill both:
 *              whatever the monitor and the nginx it checks take comes out of the proxy's share unless the scheduler
 *              gives the proxy precedence, so each round prints the workers' CPU per request (the proxy slowing, or
 *              only sharing), the monitor child's CPU, every CPU's idle time, and how the checks kept up under the
 *              load: the share of the checks due that ran, how late their slots fired, and servers gone down; the
 *              summary gives the checks' and the checked fleet's shares of the machine apart.
 *              The checked fleet runs at niceness BENCH_HEALTH_FLEET_NICE (10) in this part: it stands in for 2,000
 *              real servers, which are other machines whose CPU is not the appliance's; on this one it competes with
 *              the proxy for the same 2 cores (in the checkers part it is not niced: there it shares one CPU with
 *              the checker and must answer in time). Its answers must still come in time: a server gone down under
 *              load is counted and printed. Then detection under that load: BENCH_HEALTH_PROXY_KILL_ROUNDS (4)
 *              rounds of 12 s of wrk with checks on, in which BENCH_HEALTH_PROXY_KILLS (40) servers in all (Node,
 *              health-servers.ts, at the fleet's niceness, only in these rounds: it took 1-2.5 % of one core for its
 *              40 servers, nginx 3-4 % for all 2,000) die at random moments from 1 s in to 6 s before the end,
 *              so every verdict is due while wrk still runs; kill to verdict as in the checkers part (the
 *              verdict's IPC message reaching this process). This machine is also shared with other work (builds,
 *              tests of other people), which moves rps by half when it runs: each round prints the CPU of
 *              processes outside the bench, and the summary takes the rounds in which all three runs had under
 *              QUIET_OTHERS (15) % of one core of it, if there are 3 or more (saying so), else all rounds;
 *              detection is given over every kill round and over the quiet ones.
 * Prints (the summary, last):
 *   bench health: fulcrum/keepalived cpu R (fulcrum X % of one core, keepalived Y %)   goal R ≤ 1.0
 *   bench health: keepalived detection p99 ms X (from its log)
 *   bench health: detection p99 ms X (bound 4500)                                      goal X ≤ 4500
 *   bench health: fulcrum cpu on this machine's kernel X % of one core                 goal X ≤ 10
 *   bench health: floor (C, same syscalls) X % of one core (user, system per check); fulcrum/floor R
 *   bench health: proxy rps with/without checks R (per round a–b); A/A without/without R0 (per round c–d) (N quiet
 *                 rounds of M); workers' CPU per request with/without R2; of the machine's cores the checks took
 *                 X %, the checked fleet Y %                                          goal R ≈ 1, within A/A's spread
 *                 (R ≈ 1 − X − Y: the proxy sharing a full machine; R2 above 1: the proxy slowed)
 *   bench health: detection under the proxy's load p99 ms X over K kills, Q over the quiet rounds' (bound 4500)
 * BENCH_HEALTH_PARTS (checkers,native,proxy) picks parts; BENCH_HEALTH_PROF=DIR writes a --cpu-prof of each Fulcrum
 * monitor round there (with BENCH_HEALTH_PARTS=native: the guest's /tmp vanishes with it); BENCH_HEALTH_NODE_FLAGS
 * (space-separated, e.g. "--trace-deopt") are passed to the monitor's process and, inherited, to its child.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FALL, HTTP_SERVERS, INTERVAL_MS, keepalivedConf, SERVERS } from './health-fleet.ts';
import {
  children,
  CLK_TCK,
  fleetTicks,
  compileBench,
  forkJs,
  idleTicks,
  median,
  monitorChildTicks,
  nextMessage,
  percentile,
  sleep,
  startFleet,
  stopChild,
  stopFleet,
  treeTimes,
  type Fleet,
} from './health-procs.ts';
import { runProxy } from './health-proxy-part.ts';
import { buildFloor, startFloor } from './health-floor.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const ROUNDS = Math.max(2, Number(process.env.BENCH_HEALTH_ROUNDS ?? 2));
const SECONDS = Math.max(10, Number(process.env.BENCH_HEALTH_SECONDS ?? 24));
/** The native part only measures Fulcrum's CPU on this machine's kernel (vDSO clock, no UML): shorter rounds. */
const NATIVE_SECONDS = Math.max(10, Number(process.env.BENCH_HEALTH_NATIVE_SECONDS ?? 12));
/**
 * How long a round lets a checker run, after its first check of every server, before its CPU is counted. The
 * monitor pays for its start once, not per check: V8 compiles its hot paths (Node's net and stream code, and ours)
 * on a background thread during the first seconds, and the engine's side makes one large collection after loading
 * its configuration. Measured on this machine, 2,000 checks every 2 s, CPU in 5 s slices from the monitor's start
 * (% of one core, child / engine's side): 26.6/13.6, 10.6/0, 7.6/0, 7.4/1.6, 7.6/0, 6.8/0, 7.2/0, 7.0/0, 6.6/0,
 * 6.4/0, 6.4/0, 6.8/0. With 1 s of warm-up (as before) the native window read 11.3-13.6 %, with 10 s 9.3-10.7 %.
 * keepalived has nothing to warm up and waits as long.
 */
const WARMUP_MS = 1000 * Math.max(1, Number(process.env.BENCH_HEALTH_WARMUP_SECONDS ?? 20));
const KILLS = Number(process.env.BENCH_HEALTH_KILLS ?? 40);
const PARTS = (process.env.BENCH_HEALTH_PARTS ?? 'checkers,native,proxy').split(',').map((s) => s.trim());
const PROF = process.env.BENCH_HEALTH_PROF;
/** The native part also runs the kernel's floor (bench/health-floor.c) unless BENCH_HEALTH_FLOOR=0. */
const FLOOR = process.env.BENCH_HEALTH_FLOOR !== '0';
/** interval × fall + 0.5 s: the issue's bound on detection. */
const BOUND_MS = INTERVAL_MS * FALL + 500;
/** Kills stop this long before the window ends, so every one is detected (or late) inside it. */
const KILL_MARGIN_MS = 5000;
const isGuest = !!process.env.FULCRUM_IN_TEST_KERNEL;
/**
 * The compiled monitor and proxy (health-procs.ts compileBench: the engine runs as JavaScript): built once by the
 * host, which hands the directory to the test kernel's run in BENCH_HEALTH_JS (the guest's filesystem is read-only).
 */
const JS_DIR = process.env.BENCH_HEALTH_JS ?? compileBench();
const isOwnJs = !process.env.BENCH_HEALTH_JS;
process.env.BENCH_HEALTH_JS = JS_DIR;

// ───────────────────────────── checkers: one round ─────────────────────────────

type Peer = 'fulcrum' | 'keepalived' | 'floor';

interface Round {
  peer: Peer;
  cpuSeconds: number;
  /** Of cpuSeconds, the part in the kernel (connects, closes, loopback TCP). */
  systemSeconds: number;
  /** Fulcrum: of cpuSeconds, the part of the monitor's child process (the checks); the rest is the engine's side. */
  childSeconds: number;
  /** The real servers' CPU over the same window, and every CPU's idle time: is the machine keeping up? */
  serversSeconds: number;
  idleSeconds: number;
  windowSeconds: number;
  /** Kill → verdict, ms, for each server killed in this round and reported down. */
  latencies: number[];
  /** Killed but not reported down by the end of the round. */
  missed: number;
  /** Reported down without having been killed. */
  falseDowns: string[];
}

/** A started checker: its root pid, how to learn of a server going down, and when every server has been checked. */
interface Started {
  proc: ChildProcess;
  onDown(f: (port: number, at: number, why: string) => void): void;
  allChecked: Promise<void>;
}

function startFulcrum(fleet: Fleet): Started {
  const prof = PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [];
  const flags = (process.env.BENCH_HEALTH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const proc = forkJs(JS_DIR, 'health-monitor.ts', { base: fleet.base }, [...prof, ...flags]);
  let onDown: (port: number, at: number, why: string) => void = () => undefined;
  // The verdict's time is when it reaches this process, as for keepalived's log line (the monitor's own is earlier).
  proc.on('message', (m: { op: string; target?: string; message?: string }) => {
    if (m.op === 'down') onDown(Number(m.target!.split(':').pop()), Date.now(), m.message!);
  });
  const allChecked = nextMessage<{ op: string; up: number }>(proc, 'checked', 15 * INTERVAL_MS).then((m) => {
    if (m.up !== SERVERS) console.log(`#   fulcrum: ${SERVERS - m.up} servers went down before the window (false downs at start-up)`);
  });
  return { proc, onDown: (f) => (onDown = f), allChecked };
}

function startKeepalived(fleet: Fleet, dir: string): Started {
  const conf = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(conf, keepalivedConf(fleet.base));
  // -n: stay in the foreground (so the pid we hold is its parent); -l -D: log to the console, with each
  // transition; --check: the health checker only (no VRRP, no BFD); private pid files, so it never meets another.
  const proc = spawn('keepalived', ['-n', '-l', '-D', '--check', '-f', conf, '-p', path.join(dir, 'keepalived.pid'), '-c', path.join(dir, 'checkers.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  let onDown: (port: number, at: number, why: string) => void = () => undefined;
  const checked = new Set<number>();
  let resolveChecked: () => void;
  const allChecked = new Promise<void>((r) => (resolveChecked = r));
  const timeout = setTimeout(() => resolveChecked(), 15 * INTERVAL_MS);
  const tail: string[] = [];
  for (const stream of [proc.stdout!, proc.stderr!]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      const at = Date.now();
      let m = /Disabling service \[127\.0\.0\.1\]:tcp:(\d+)/.exec(line);
      if (m) return onDown(Number(m[1]), at, line);
      // Its first verdict on each server is logged (with -D) even though the server started up.
      m = /(?:TCP connection to|Remote Web server) \[127\.0\.0\.1\]:tcp:(\d+) (?:success|succeed)/.exec(line);
      if (m) {
        checked.add(Number(m[1]));
        if (checked.size === SERVERS) {
          clearTimeout(timeout);
          resolveChecked();
        }
        return;
      }
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (process.env.BENCH_VERBOSE) console.log(`[keepalived] ${line}`);
    });
  }
  proc.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') console.log(`# keepalived exited (${code ?? signal}); its last lines:\n${tail.join('\n')}`);
  });
  return {
    proc,
    onDown: (f) => (onDown = f),
    allChecked: allChecked.then(() => {
      if (checked.size < SERVERS)
        console.log(`# keepalived had checked ${checked.size} of ${SERVERS} servers after ${(15 * INTERVAL_MS) / 1000} s; measuring anyway`);
    }),
  };
}

/** One round of `peer`: `victims` die at random moments of the window. */
async function runRound(peer: Peer, fleet: Fleet, victims: number[], seconds: number, dir: string, floor?: string): Promise<Round> {
  const started = peer === 'fulcrum' ? startFulcrum(fleet) : peer === 'floor' ? startFloor(floor!, fleet.base) : startKeepalived(fleet, dir);
  const downs = new Map<number, number>();
  const falseDowns: string[] = [];
  const killedAt = new Map<number, number>();
  started.onDown((port, at, why) => {
    if (!killedAt.has(port)) falseDowns.push(`${port} (${why})`);
    else if (!downs.has(port)) downs.set(port, at);
  });
  try {
    await Promise.race([
      started.allChecked,
      new Promise<never>((_, reject) => started.proc.once('exit', () => reject(new Error(`${peer} exited during start-up`)))),
    ]);
    await sleep(WARMUP_MS);
    // When they die: at random moments of the window, from 1 s in to KILL_MARGIN_MS before its end.
    const plan = victims.map((port) => ({ port, atMs: 1000 + Math.random() * (seconds * 1000 - KILL_MARGIN_MS - 1000) }));
    const onKilled = (m: { op: string; port?: number; at?: number }) => m.op === 'killed' && killedAt.set(m.port!, m.at!);
    fleet.node?.on('message', onKilled);
    const pid = started.proc.pid!;
    const t0 = performance.now();
    const ticks0 = treeTimes(pid);
    const child0 = monitorChildTicks(pid);
    const servers0 = fleetTicks(fleet);
    const idle0 = idleTicks();
    const timers = plan.map((k) => setTimeout(() => fleet.node!.send({ op: 'kill', ports: [k.port] }), k.atMs));
    await sleep(seconds * 1000);
    const ticks1 = treeTimes(pid);
    const child1 = monitorChildTicks(pid);
    const servers1 = fleetTicks(fleet);
    const idle1 = idleTicks();
    const windowSeconds = (performance.now() - t0) / 1000;
    timers.forEach(clearTimeout);
    fleet.node?.off('message', onKilled);
    if (started.proc.exitCode !== null) throw new Error(`${peer} exited during the window`);
    const latencies = [...downs].filter(([port]) => killedAt.has(port)).map(([port, at]) => at - killedAt.get(port)!);
    return {
      peer,
      windowSeconds,
      latencies,
      missed: killedAt.size - latencies.length,
      falseDowns,
      cpuSeconds: (ticks1.user + ticks1.system - ticks0.user - ticks0.system) / CLK_TCK,
      systemSeconds: (ticks1.system - ticks0.system) / CLK_TCK,
      childSeconds: (child1 - child0) / CLK_TCK,
      serversSeconds: (servers1 - servers0) / CLK_TCK,
      idleSeconds: (idle1 - idle0) / CLK_TCK,
    };
  } finally {
    await stopChild(started.proc);
    if (killedAt.size > 0) {
      const revived = nextMessage(fleet.node!, 'revived', 30_000);
      fleet.node!.send({ op: 'revive', ports: [...killedAt.keys()] });
      await revived;
    }
  }
}

function latencyLine(name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return `${name}: no detections`;
  const f = (p: number) => percentile(s, p).toFixed(0);
  return `${name}: ${s.length} killed servers, down after p50 ${f(50)} ms, p90 ${f(90)} ms, p99 ${f(99)} ms, max ${s[s.length - 1].toFixed(0)} ms (bound interval × fall + 0.5 s = ${BOUND_MS} ms)`;
}

/** The checkers part: rounds of each peer in turn, then the figures. Returns the summary lines. */
async function runCheckers(peersAsked: Peer[], seconds: number): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-bench-health-'));
  let peers = peersAsked;
  if (peers.includes('keepalived')) {
    const v = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
    const version = `${v.stdout}${v.stderr}`.split('\n')[0];
    if (!/v2\.2\.7/.test(version)) console.log(`# warning: the peer is meant to be keepalived 2.2.7 (Debian 12's); this is ${version}`);
    console.log(`# ${version}`);
  }
  const where = isGuest ? 'User-Mode Linux test kernel' : "this machine's kernel";
  console.log(
    `# checkers: ${where}, ${os.cpus().length} CPU; Node ${process.version}; ${SERVERS} real servers (${HTTP_SERVERS} HTTP, ${SERVERS - HTTP_SERVERS} TCP) every ${INTERVAL_MS / 1000} s; ${ROUNDS} rounds each of ${seconds} s`,
  );
  // Base port: fixed in the guest (its own kernel); on the host, away from other benchmarks' ports and below the
  // ephemeral range.
  const base = isGuest ? 21000 : 21000 + (process.pid % 5) * 2000;
  // The servers that die: KILLS of them at random, a share in each round of a peer; each peer kills the same ones in
  // its round of the same number.
  const kills = Math.ceil(KILLS / ROUNDS);
  const all = Array.from({ length: SERVERS }, (_, i) => base + i);
  const victims = Array.from({ length: kills * ROUNDS }, () => all.splice(Math.floor(Math.random() * all.length), 1)[0]);
  const floor = peers.includes('floor') ? buildFloor(dir) : undefined;
  if (!floor) peers = peers.filter((p) => p !== 'floor');
  const fleet = await startFleet(base, victims, dir);
  const rounds: Round[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? peers : [...peers].reverse();
      for (const peer of order) {
        const x = await runRound(peer, fleet, victims.slice(r * kills, (r + 1) * kills), seconds, dir, floor);
        rounds.push(x);
        const share = (100 * x.cpuSeconds) / x.windowSeconds;
        const lat = [...x.latencies].sort((a, b) => a - b);
        const pct = (secs: number) => `${((100 * secs) / x.windowSeconds).toFixed(1)} %`;
        console.log(
          `#   round ${r + 1} ${peer.padEnd(10)} cpu ${x.cpuSeconds.toFixed(2)} s in ${x.windowSeconds.toFixed(1)} s = ${share.toFixed(1)} % of one core (system ${pct(x.systemSeconds)}; real servers ${pct(x.serversSeconds)}, idle of all CPUs ${pct(x.idleSeconds)}); ${lat.length} of ${kills} kills detected, max ${lat.length ? lat[lat.length - 1].toFixed(0) : '-'} ms${x.missed ? `, ${x.missed} missed` : ''}${x.falseDowns.length ? `; ${x.falseDowns.length} false downs, e.g. ${x.falseDowns.slice(0, 2).join('; ')}` : ''}`,
        );
      }
    }
  } finally {
    await stopFleet(fleet);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const of = (p: Peer) => rounds.filter((x) => x.peer === p);
  const shareOf = (x: Round) => (100 * x.cpuSeconds) / x.windowSeconds;
  const lines: string[] = [];
  const f = of('fulcrum');
  const fShare = median(f.map(shareOf));
  for (const p of peers) {
    const xs = of(p);
    const lat = xs.flatMap((x) => x.latencies);
    console.log(
      `# ${latencyLine(p, lat)}${xs.some((x) => x.missed) ? `; missed ${xs.reduce((n, x) => n + x.missed, 0)}` : ''}${xs.some((x) => x.falseDowns.length) ? `; false downs ${xs.reduce((n, x) => n + x.falseDowns.length, 0)}` : ''}`,
    );
  }
  // CPU per check, user and system apart (medians over the peer's rounds): where the time goes.
  const perCheck = (xs: Round[], secs: (x: Round) => number) => median(xs.map((x) => (1e6 * secs(x)) / (x.windowSeconds * (SERVERS / (INTERVAL_MS / 1000)))));
  const splitOf = (xs: Round[]) =>
    `user ${perCheck(xs, (x) => x.cpuSeconds - x.systemSeconds).toFixed(1)} µs, system ${perCheck(xs, (x) => x.systemSeconds).toFixed(1)} µs per check`;
  for (const p of peers) console.log(`# ${p}: ${splitOf(of(p))} (${(SERVERS / (INTERVAL_MS / 1000)).toFixed(0)} checks a second)`);
  console.log(
    `# fulcrum: of which the monitor's child process (the checks) ${perCheck(f, (x) => x.childSeconds).toFixed(1)} µs, the engine's side ${perCheck(f, (x) => x.cpuSeconds - x.childSeconds).toFixed(1)} µs per check`,
  );
  if (peers.includes('floor')) {
    const fl = of('floor');
    const ratios = f.map((x, i) => shareOf(x) / shareOf(fl[i]));
    lines.push(
      `bench health: floor (C, same syscalls) ${median(fl.map(shareOf)).toFixed(1)} % of one core (${splitOf(fl)}); fulcrum/floor ${median(ratios).toFixed(2)} (fulcrum ${splitOf(f)})`,
    );
  }
  if (peers.includes('keepalived')) {
    const k = of('keepalived');
    const kShare = median(k.map(shareOf));
    // Pair each Fulcrum round with the keepalived round run next to it (same stretch of host load).
    const ratios = f.map((x, i) => shareOf(x) / shareOf(k[i]));
    console.log(
      `# cpu medians: fulcrum ${fShare.toFixed(1)} %, keepalived ${kShare.toFixed(1)} % of one core; per-pair ratios [${ratios.map((x) => x.toFixed(2)).join(', ')}]`,
    );
    lines.push(
      `bench health: fulcrum/keepalived cpu ${median(ratios).toFixed(2)} (fulcrum ${fShare.toFixed(1)} % of one core, keepalived ${kShare.toFixed(1)} %)`,
    );
    const kl = k.flatMap((x) => x.latencies).sort((a, b) => a - b);
    if (kl.length) lines.push(`bench health: keepalived detection p99 ms ${percentile(kl, 99).toFixed(0)} (from its log)`);
  } else {
    // Only the CPU: detection is measured in the test kernel, beside keepalived's.
    return [`bench health: fulcrum cpu on ${where} ${fShare.toFixed(1)} % of one core`, ...lines];
  }
  const fl = f.flatMap((x) => x.latencies).sort((a, b) => a - b);
  const missed = f.reduce((n, x) => n + x.missed, 0);
  lines.push(
    `bench health: detection p99 ms ${fl.length ? percentile(fl, 99).toFixed(0) : 'none'} (bound ${BOUND_MS})${missed ? `; ${missed} kills never detected` : ''}`,
  );
  return lines;
}

// ───────────────────────────── main ─────────────────────────────

async function main(): Promise<void> {
  const summary: string[] = [];
  if (isGuest) {
    for (const l of await runCheckers(['fulcrum', 'keepalived'], SECONDS)) console.log(l);
    return;
  }
  if (PARTS.includes('checkers')) {
    if (fs.existsSync('/proc/net/ip_vs')) summary.push(...(await runCheckers(['fulcrum', 'keepalived'], SECONDS)));
    else {
      // keepalived's checker needs IPVS: run this part inside the test kernel, where this file runs itself again.
      const env = Object.entries(process.env)
        .filter(([k]) => k.startsWith('BENCH_HEALTH_') && k !== 'BENCH_HEALTH_PROF')
        .map(([k, v]) => `${k}='${v}' `)
        .join('');
      // As bench:l4 does: idle CPUs poll instead of halting while the guest runs (a PM QoS request of 0 µs, held
      // open). The guest's processes and its kernel hand over to each other at every system call, and on this VM a
      // halted vCPU takes milliseconds to wake; it holds for both checkers alike and ends with the guest.
      let qos: number | undefined;
      try {
        qos = fs.openSync('/dev/cpu_dma_latency', 'w');
        fs.writeSync(qos, Buffer.from(new Int32Array([0]).buffer));
      } catch (e) {
        console.log(`# cannot hold /dev/cpu_dma_latency (${(e as Error).message}); the guest's figures include idle CPUs waking up`);
      }
      const r = spawnSync(path.join(ROOT, 'scripts/kernel/guest.sh'), [`ulimit -n 65536 && ${env}node --import tsx bench/health.ts`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, FULCRUM_UML_MEM: process.env.FULCRUM_UML_MEM ?? '2G' },
      });
      if (qos !== undefined) fs.closeSync(qos);
      const out = r.stdout ?? '';
      for (const l of out.split('\n')) if (l && !l.startsWith('bench health:')) console.log(l);
      summary.push(...out.split('\n').filter((l) => l.startsWith('bench health:')));
      if (r.status !== 0) {
        console.log(`# the test kernel part failed (exit ${r.status})`);
        process.exitCode = 1;
      }
    }
  }
  if (PARTS.includes('native')) summary.push(...(await runCheckers(FLOOR ? ['fulcrum', 'floor'] : ['fulcrum'], NATIVE_SECONDS)));
  if (PARTS.includes('proxy')) summary.push(...(await runProxy(JS_DIR)));
  for (const l of summary) console.log(l);
}

const killAll = () => {
  // nginx is told to stop (its master then ends its worker); killed outright, it left the worker holding the fleet's
  // 2,000 ports, and the next run could not listen on them.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(c.spawnargs.includes('nginx') ? 'SIGTERM' : 'SIGKILL');
  if (isOwnJs) fs.rmSync(JS_DIR, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
process.on('SIGTERM', () => {
  killAll();
  process.exit(143);
});

try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  killAll();
}
