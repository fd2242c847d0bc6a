/**
 * bench:l4 — Fulcrum's IPVS programming against ipvsadm, in the same test kernel, same table.
 *
 *   l4-apply       1,000 services × 4 real servers from an empty table: Fulcrum's createL4DataPlane().apply()
 *                  (read, plan, batched netlink, re-read to confirm) against `ipvsadm -R` restoring the same table
 *                  (the same rules as text, one netlink round trip per rule). Rounds alternate who goes first; the
 *                  ratio is the median of per-round ratios.
 *   l4-one-change  one weight changes in that 1,000-service table, 5 + 30 times, 200 ms apart: netlink changing
 *                  operations and the median time of the data plane's apply (as the daemon calls it, after reading the
 *                  configuration from JSON text, parsing it with the daemon's memoised parser and hashing it) over the
 *                  30 after 5 warm-up rounds. Runs first, in a fresh process (see there why).
 *
 * Prints:  bench l4-apply: fulcrum/ipvsadm-restore time ratio X      (goal ≤ 0.3)
 *          bench l4-one-change: ops N, ms p50 T p99 U                (goal N = 1, T ≤ 5, U ≤ 20; with 30 rounds the
 *                                                                     p99 is the slowest round)
 * On a machine without IPVS it boots the UML test kernel (scripts/kernel/guest.sh) and runs itself there, compiled to
 * JavaScript as the engine runs (BENCH_L4_TSX=1: through tsx).
 * After the one-change rounds, `l4-one-change parts` times the IPC to the IPVS helper, the change and its confirming
 * read apart (through the helper and in this process), and counts context switches and syscalls per change
 * (partsOfOneChange; BENCH_L4_NO_PARTS=1 skips it).
 * BENCH_L4_ROUNDS (7) sets the apply rounds, BENCH_L4_CHANGES (30) the measured one-change rounds; BENCH_L4_EACH=1
 * prints every one-change round's phases; BENCH_L4_NODE_FLAGS passes V8 flags to the bench's node in the guest.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ConfigSchema, createConfigParser, type Config } from '../engine/config/index.ts';
import { createL4DataPlane } from '../engine/l4/dataplane.ts';
import { IpvsClient } from '../engine/l4/client.ts';
import { encodeMessages } from '../engine/l4/messages.ts';
import { openIpvsProcess } from '../engine/l4/ipvs-process.ts';
import { canonicalParts, configHashOfParts } from '../engine/canonical.ts';
import { createDecider } from '../engine/daemon/decisions.ts';

const SERVICES = Number(process.env.BENCH_L4_SERVICES ?? 1000);
const SERVERS = 4;
const ROUNDS = Number(process.env.BENCH_L4_ROUNDS ?? 7);
/** One-change rounds take milliseconds, so enough of them for a median that host load does not move much, after
 * warm-up rounds in which V8 is still compiling the apply path (printed, not in the median). */
const ONE_CHANGE_ROUNDS = Number(process.env.BENCH_L4_CHANGES ?? 30);
const WARM_UP_CHANGES = 5;
if (WARM_UP_CHANGES + ONE_CHANGE_ROUNDS >= 50) throw new Error('at most 44 one-change rounds (weights 50..99)');

if (!process.env.FULCRUM_IN_TEST_KERNEL && !fs.existsSync('/proc/net/ip_vs')) {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_L4_'))
    .map(([k, v]) => `${k}='${v}' `) // quoted: BENCH_L4_NODE_FLAGS may hold several flags
    .join('');
  // Idle CPUs poll instead of halting while the bench runs (a PM QoS request of 0 µs, held open; what cyclictest and
  // tuned's latency profiles do). On this VM a halted vCPU takes milliseconds to wake, and the UML guest idles at
  // every netlink round trip, so without it a 1-op apply measured 30–75 ms of wake-ups instead of its own work. It
  // applies to ipvsadm's runs as much as to Fulcrum's, and ends with this process.
  let qos: number | undefined;
  try {
    qos = fs.openSync('/dev/cpu_dma_latency', 'w');
    fs.writeSync(qos, Buffer.from(new Int32Array([0]).buffer));
    console.log('bench l4: holding /dev/cpu_dma_latency at 0 µs (idle CPUs poll)');
  } catch (e) {
    console.log(`bench l4: cannot hold /dev/cpu_dma_latency (${(e as Error).message}); timings include idle CPUs waking up`);
  }
  // Compiled, as the engine runs in production (scripts/kernel/compile.mjs): through tsx its esbuild output keeps
  // function names (an Object.defineProperty per closure made) and its loader thread runs beside the apply.
  // BENCH_L4_TSX=1 runs the source through tsx instead.
  // --expose-gc: each timed apply from empty starts after a collection, so it pays for its own garbage, not the bench's.
  const js = process.env.BENCH_L4_TSX
    ? ''
    : execFileSync(process.execPath, [path.join(repo, 'scripts/kernel/compile.mjs'), 'bench/l4-apply.ts'], { encoding: 'utf8' }).trim();
  const entry = js ? `--enable-source-maps ${js}/bench/l4-apply.js` : '--import tsx bench/l4-apply.ts';
  console.log(`bench l4: the bench runs ${js ? 'compiled to JavaScript' : 'through tsx'}`);
  // BENCH_L4_NODE_FLAGS: V8 flags for the bench's node in the guest (to try what the daemon could run with).
  const flags = process.env.BENCH_L4_NODE_FLAGS ?? '';
  const r = spawnSync(path.join(repo, 'scripts/kernel/guest.sh'), [`${env}node --expose-gc ${flags} ${entry}`], { stdio: 'inherit' });
  if (js) fs.rmSync(js, { recursive: true, force: true });
  if (qos !== undefined) fs.closeSync(qos);
  process.exit(r.status ?? 1);
}

const ipOf = (base: number, i: number) => `10.${base + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;

/** The configuration as given to the engine, before parsing: `weightOf` gives each real server's weight. */
function rawConfig(weightOf: (svc: number, rs: number) => number = () => 100): { virtualServices: unknown[] } {
  return {
    virtualServices: Array.from({ length: SERVICES }, (_, i) => ({
      name: `vs-${i}`,
      layer: 4,
      mode: 'nat',
      address: ipOf(100, i + 1),
      ports: [80],
      scheduler: 'wlc',
      realServers: Array.from({ length: SERVERS }, (_, k) => ({ name: `rs-${k}`, address: ipOf(200, i * SERVERS + k + 1), weight: weightOf(i, k) })),
    })),
  };
}

const makeConfig = (): Config => ConfigSchema.parse(rawConfig());

function restoreText(cfg: Config): string {
  const lines: string[] = [];
  for (const vs of cfg.virtualServices) {
    lines.push(`-A -t ${vs.address}:80 -s ${vs.scheduler}`);
    for (const rs of vs.realServers) lines.push(`-a -t ${vs.address}:80 -r ${rs.address}:80 -m -w ${rs.weight}`);
  }
  return lines.join('\n') + '\n';
}

const ipvsadmS = () =>
  execFileSync('ipvsadm', ['-Sn'], { encoding: 'utf8', maxBuffer: 64 << 20 })
    .trim()
    .split('\n')
    .sort();
/** perf_hooks' gc entry kinds (constants.NODE_PERFORMANCE_GC_*): a major one is a full mark-compact pause. */
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * What one change costs, part by part (BENCH_L4_NO_PARTS=1 skips it): the same one SET_DEST and its confirming read
 * (GET_SERVICE + GET_DEST of the service) that a one-change apply sends, timed apart, 30 times each, 50 ms apart:
 *   ipc        an empty call to the IPVS helper process (the round trip between the two processes, nothing else);
 *   write      the SET_DEST through the helper;  confirm  the read-back through the helper;  both  what the apply sends;
 *   direct     the same netlink work from an IpvsClient in this process, as the engine now makes it (ipvs-process.ts: no
 *              helper, no IPC; change and read-back in one datagram).
 * And per `both`: context switches of this process and of the helper (/proc/PID/status), and, with strace in the
 * guest, the syscalls each makes (strace -c -f; strace slows each syscall, so its rounds are not timed).
 */
async function partsOfOneChange(): Promise<void> {
  // Every call through the helper here (the engine's port makes them in-process: ipvs-process.ts says when), so the
  // parts show what the helper costs against the same work in this process.
  const port = await openIpvsProcess({ inProcess: false });
  const direct = await IpvsClient.open();
  const service = { family: 4 as const, protocol: 'tcp' as const, address: ipOf(100, 501), port: 80 };
  let w = 50;
  const setDest = () => [
    {
      cmd: 'set-dest' as const,
      service,
      destination: {
        address: ipOf(200, 500 * SERVERS + 3),
        port: 80,
        forward: 'masq' as const,
        weight: (w = w === 99 ? 50 : w + 1),
        upperThreshold: 0,
        lowerThreshold: 0,
      },
    },
  ];
  const readBack = { services: [service] };
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    const xs: number[] = [];
    for (let i = 0; i < 35; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      await fn();
      if (i >= 5) xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  const parts: [string, () => Promise<unknown>][] = [
    ['ipc', () => port.execAndRead([], { services: [] })],
    ['write', () => port.exec(setDest())],
    ['confirm', () => port.execAndRead([], readBack)],
    ['both', () => port.execAndRead(setDest(), readBack)],
    ['direct write', () => direct.exec(setDest())],
    // As the engine's port calls it in-process (ipvs-process.ts): one datagram for the change and its read-back.
    ['direct confirm', () => direct.execMessagesAndRead(encodeMessages([]), readBack)],
    ['direct both', () => direct.execMessagesAndRead(encodeMessages(setDest()), readBack)],
  ];
  const out: string[] = [];
  for (const [name, fn] of parts) out.push(`${name} ${(await time(fn)).toFixed(2)}`);
  console.log(`l4-one-change parts (ms, medians of 30): ${out.join(', ')}`);
  const childPid = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .find((d) => {
      try {
        return (
          fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(process.pid) &&
          fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('ipvs-child')
        );
      } catch {
        return false;
      }
    });
  const switches = (pid: string | number) => {
    let n = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      n += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)![1]) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)![1]);
    }
    return n;
  };
  if (childPid) {
    const before = [switches(process.pid), switches(childPid)];
    for (let i = 0; i < 20; i++) await port.execAndRead(setDest(), readBack);
    const after = [switches(process.pid), switches(childPid)];
    console.log(
      `l4-one-change context switches per change: engine ${((after[0] - before[0]) / 20).toFixed(1)}, helper ${((after[1] - before[1]) / 20).toFixed(1)}`,
    );
    const counted: string[] = [];
    for (const [who, pid] of [
      ['engine', String(process.pid)],
      ['helper', childPid],
    ] as const) {
      const file = path.join(os.tmpdir(), `bench-l4-strace-${who}`);
      const st = spawn('strace', ['-c', '-f', '-o', file, '-p', pid], { stdio: 'ignore' });
      const ok = await new Promise<boolean>((r) => {
        st.once('error', () => r(false));
        setTimeout(() => r(true), 1500);
      });
      if (!ok) break;
      for (let i = 0; i < 20; i++) await port.execAndRead(setDest(), readBack);
      await new Promise((r) => setTimeout(r, 100));
      const exited = new Promise((r) => st.once('exit', r));
      st.kill('SIGINT');
      await exited;
      const text = fs.readFileSync(file, 'utf8');
      // strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall.
      const rows = text
        .split('\n')
        .filter((l) => /^\s*\d/.test(l) && !l.includes('total'))
        .map((l) => l.trim().split(/\s+/))
        .map((c) => [c[c.length - 1], Number(c[3])] as const)
        .sort((a, b) => b[1] - a[1]);
      const total = rows.reduce((n, [, c]) => n + c, 0);
      const top = rows.slice(0, 8).map(([n, c]) => `${n} ${(c / 20).toFixed(1)}`);
      counted.push(`${who} ${(total / 20).toFixed(1)} (${top.join(', ')})`);
    }
    if (counted.length) console.log(`l4-one-change syscalls per change (strace -c, 20 changes): ${counted.join('; ')}`);
  }
  direct.close();
  port.close();
}

const cfg = makeConfig();
const text = restoreText(cfg);
const fulcrumMs: number[] = [];
const phases: Record<string, number>[] = [];
const restoreMs: number[] = [];
let expected: string[] | undefined;

execFileSync('ipvsadm', ['-C']);
// One change in the full table: the engine as the daemon runs it (the table applied once at start, then one weight
// moves, again and again). Measured first, in a process that has done nothing else yet: after the rounds below, the
// heap holds the garbage of fourteen 1,000-service builds, which no daemon has, and collecting it would land in these
// timings.
{
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-l4-'));
  const dp = createL4DataPlane({ dataDir });
  const parser = createConfigParser();
  // owned(): as the daemon parses an API request's body (engine/daemon/engine.ts validate with isOwned): each
  // round's configuration is read afresh from JSON text and never changed after.
  const daemonParse = (raw: unknown): Config => {
    const r = parser.owned(raw);
    if (!r.success) throw new Error('bench configuration refused');
    return r.data;
  };
  // Each round's request body as JSON text, as the daemon reads it (engine/daemon/server.ts readBody: JSON.parse of the
  // text, then Engine.validate with isOwned), the changing weight put into text rendered once. Rendering the whole
  // configuration is the console's work, not the engine's: building it afresh as objects each round (1.4 MiB of
  // garbage, 50 % more than the daemon's JSON.parse of the same text) charged the apply with its collection.
  const [before, after, ...more] = JSON.stringify(rawConfig((s, k) => (s === 500 && k === 2 ? -1 : 100))).split('"weight":-1');
  if (after === undefined || more.length) throw new Error('the changing weight is not in the text once');
  const bodyText = (weight: number) => `${before}"weight":${weight}${after}`;
  // The daemon's decisions: decideAll remembered per service (engine/daemon/decisions.ts, Engine.decisions).
  const decide = createDecider();
  const start = daemonParse(JSON.parse(bodyText(100)));
  await dp.apply({ config: start, decisions: decide(start, () => undefined) });
  const changes: { ops: number; ms: number; timings: Record<string, number>; gcMs: number; gcs: string[] }[] = [];
  // Collections during each timed apply, from V8's own record: the outliers' cause, shown rather than hidden.
  const gcEntries: { start: number; ms: number; kind: number }[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      gcEntries.push({ start: e.startTime, ms: e.duration, kind: (e as unknown as { detail?: { kind: number } }).detail?.kind ?? 0 });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const phasesOf = (c: (typeof changes)[number]) =>
    `${Object.entries(c.timings)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ')}; collecting garbage ${c.gcMs.toFixed(1)} (${c.gcs.length ? c.gcs.join(', ') : 'none'})`;
  const warmUp: number[] = [];
  for (let i = 0; i < WARM_UP_CHANGES + ONE_CHANGE_ROUNDS; i++) {
    // As in the daemon (engine/daemon/engine.ts): a change arrives at a daemon that is not busy with the previous one
    // (operators change things seconds apart; a 200 ms pause lets V8's background collection of the last round's
    // garbage finish, which back to back on the guest's one CPU landed in the next apply), the configuration is
    // parsed, hashed and every server decided (health not yet known), then applied at once, with that work's garbage
    // on the heap. No forced collection: the daemon never does one.
    await new Promise((r) => setTimeout(r, 200));
    const changed = daemonParse(JSON.parse(bodyText(50 + i)));
    // What Engine.apply does between validating and programming: the canonical text in pieces, hashed as they are
    // (configHash would join them into one string, which the engine never makes: 2.4 MiB a round more).
    configHashOfParts(canonicalParts(changed));
    const decisions = decide(changed, () => undefined);
    const t0 = performance.now();
    const res = await dp.apply({ config: changed, decisions });
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20)); // V8 reports collections a little later
    if (res.some((x) => x.status !== 'programmed')) throw new Error('one-change apply failed');
    const last = (dp as unknown as { lastApply: { operations: number; timings: Record<string, number> } }).lastApply;
    if (i < WARM_UP_CHANGES) {
      warmUp.push(ms);
      continue;
    }
    const during = gcEntries.filter((e) => e.start >= t0 && e.start < t0 + ms);
    changes.push({
      ops: last.operations,
      ms,
      timings: last.timings,
      gcMs: during.reduce((n, e) => n + e.ms, 0),
      gcs: during.map((e) => GC_KINDS[e.kind] ?? `kind ${e.kind}`),
    });
    if (process.env.BENCH_L4_EACH) console.log(`round ${i}: ${ms.toFixed(1)} ms: ${phasesOf(changes[changes.length - 1])}`);
  }
  gcObserver.disconnect();
  const byTime = [...changes].sort((a, b) => a.ms - b.ms);
  console.log(`l4-one-change phases of the median round (ms): ${phasesOf(byTime[Math.floor(byTime.length / 2)])}`);
  console.log(`l4-one-change phases of the slowest round (ms): ${phasesOf(byTime[byTime.length - 1])}`);
  if (!ipvsadmS().includes(`-a -t ${ipOf(100, 501)}:80 -r ${ipOf(200, 500 * SERVERS + 3)}:80 -m -w ${50 + WARM_UP_CHANGES + ONE_CHANGE_ROUNDS - 1}`))
    throw new Error('weight not in the kernel');
  if (!process.env.BENCH_L4_NO_PARTS) await partsOfOneChange();
  await dp.close();
  execFileSync('ipvsadm', ['-C']);
  console.log(`l4-one-change warm-up rounds (not in the median): ${warmUp.map((x) => `${x.toFixed(1)} ms`).join(', ')}`);
  console.log(`l4-one-change rounds: ${changes.map((c) => `${c.ops} op ${c.ms.toFixed(1)} ms`).join(', ')}`);
  const sorted = changes.map((c) => c.ms).sort((a, b) => a - b);
  const p99 = sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
  console.log(`bench l4-one-change: ops ${Math.max(...changes.map((c) => c.ops))}, ms p50 ${median(sorted).toFixed(1)} p99 ${p99.toFixed(1)}`);
}

// The engine's IPVS helper process (engine/l4/ipvs-process.ts) lives as long as the daemon's layer 4 data plane, so
// a daemon's apply never waits for it to start. Each round below makes a fresh data plane; this port keeps the one
// helper running across them, as in the daemon (a start costs about 2 s in the guest, in "prep").
const helperHold = await openIpvsProcess();
for (let round = 0; round < ROUNDS; round++) {
  // Alternate who goes first, so neither always meets a warm or cold cache.
  const order = round % 2 === 0 ? ['ipvsadm', 'fulcrum'] : ['fulcrum', 'ipvsadm'];
  for (const who of order) {
    if (who === 'ipvsadm') {
      gc();
      const t0 = performance.now();
      execFileSync('ipvsadm', ['-R'], { input: text });
      restoreMs.push(performance.now() - t0);
      const table = ipvsadmS();
      expected ??= table;
      if (table.length !== SERVICES * (SERVERS + 1)) throw new Error(`ipvsadm -R left ${table.length} lines`);
    } else {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-l4-'));
      const dp = createL4DataPlane({ dataDir });
      gc();
      const t0 = performance.now();
      const res = await dp.apply({ config: cfg, decisions: new Map() });
      fulcrumMs.push(performance.now() - t0);
      phases.push((dp as unknown as { lastApply: { timings: Record<string, number> } }).lastApply.timings);
      await dp.close();
      if (res.some((r) => r.status !== 'programmed')) throw new Error(`fulcrum: ${JSON.stringify(res.find((r) => r.status !== 'programmed'))}`);
      const table = ipvsadmS();
      expected ??= table;
      if (table.join('\n') !== expected.join('\n')) throw new Error('fulcrum and ipvsadm -R produced different tables');
      fs.rmSync(dataDir, { recursive: true });
    }
    execFileSync('ipvsadm', ['-C']);
  }
}

// The ratio is the median of the per-round ratios: each round times both back to back, so the two share whatever
// else the (2-core, shared) host is doing at that moment; medians taken separately would pair unlike moments.
const ratios = fulcrumMs.map((x, i) => x / restoreMs[i]);
console.log(
  `l4-apply rounds: fulcrum ms [${fulcrumMs.map((x) => x.toFixed(0)).join(', ')}], ipvsadm -R ms [${restoreMs.map((x) => x.toFixed(0)).join(', ')}] (${SERVICES} services × ${SERVERS} real servers)`,
);
console.log(
  `l4-apply medians: fulcrum ${median(fulcrumMs).toFixed(0)} ms, ipvsadm -R ${median(restoreMs).toFixed(0)} ms; per-round ratios [${ratios.map((x) => x.toFixed(2)).join(', ')}]`,
);
console.log(
  `l4-apply fulcrum phases (ms, last round): ${Object.entries(phases[phases.length - 1])
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ')}`,
);
console.log(`bench l4-apply: fulcrum/ipvsadm-restore time ratio ${median(ratios).toFixed(2)}`);
helperHold.close();
