/**
 * bench/health.ts's helpers: its child processes (all of them in `children`, so one exit kills them all), the
 * fleet of real servers (nginx, and bench/health-servers.ts for the ones that die), CPU read from /proc, and the
 * statistics it prints.
 */
import { execFileSync, fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HTTP_SERVERS, nginxFleetConf, SERVERS } from './health-fleet.ts';
import { waitPort } from './wait-port.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export const children = new Set<ChildProcess>();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** Nearest rank: the smallest sample with at least p % of the samples at or below it. */
export const percentile = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];

/** CPU ticks (user + system, every thread) of a process and all its descendants. */
export function treeTicks(root: number): number {
  const t = treeTimes(root);
  return t.user + t.system;
}

/** User and system CPU ticks (every thread) of a process and all its descendants. */
export function treeTimes(root: number): { user: number; system: number } {
  const parent = new Map<number, number>();
  const ticks = new Map<number, [number, number]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      ticks.set(Number(d), [Number(f[11]), Number(f[12])]);
    } catch {
      // the process ended while we looked
    }
  }
  const sum = { user: 0, system: 0 };
  for (const [pid, [user, system]] of ticks) {
    let p: number | undefined = pid;
    while (p !== undefined && p > 1 && p !== root) p = parent.get(p);
    if (p === root) {
      sum.user += user;
      sum.system += system;
    }
  }
  return sum;
}

/** Idle ticks of every CPU together (/proc/stat). */
export function idleTicks(): number {
  const cpu = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].split(/\s+/);
  return Number(cpu[4]) + Number(cpu[5]);
}

/** Busy ticks of every CPU together (/proc/stat: all but idle and iowait). */
export function busyTicks(): number {
  const f = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].split(/\s+/).slice(1, 9).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3] - f[4];
}

/** CPU ticks of one process (all its threads), without its children. */
export function ownTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** CPU ticks of the health monitor's child process (engine/health/runner-child) under `root`, 0 if none. */
export function monitorChildTicks(root: number): number {
  let sum = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').includes('runner-child')) continue;
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== root) continue;
      sum += ownTicks(Number(d));
    } catch {
      // the process ended while we looked
    }
  }
  return sum;
}

/**
 * The engine runs as compiled JavaScript, never through a TypeScript loader (ARCHITECTURE.md, engine/tsconfig.build.json),
 * so the processes whose CPU this bench measures (the monitor and its child, the proxy and its workers) run the
 * same: compileBench() builds bench/health-monitor.ts and bench/health-proxy.ts, with the engine files they load and
 * the child entries found by URL (runner-child, the layer 7 worker), into a directory under /var/tmp (the test
 * kernel sees it: only its /tmp is private), with scripts/kernel/compile.mjs, as the kernel tests are built.
 * Through tsx the same checks cost more: its esbuild keeps function names (an Object.defineProperty per closure
 * made, several per check; seen in a perf profile of the monitor's child) and its loader thread runs in each process. Measured at 2,000 checks every 2 s, the monitor alone
 * for 20 s, three runs each way alternating: 11.8, 11.7, 9.9 % of one core compiled, 12.5, 12.2, 12.2 % through tsx
 * (the child's user CPU 5.2-6.9 against 6.8-7.9 %).
 */
export function compileBench(): string {
  // The kernel tests' compile step (scripts/kernel/compile.mjs), which adds the child entries found by URL (the
  // health runner child, the layer 7 worker) and prints its directory: one build recipe, not two.
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/kernel/compile.mjs'), 'bench/health-monitor.ts', 'bench/health-proxy.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`the bench's engine did not compile:\n${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

/** A compiled bench file (compileBench's `dir`) in a child process, without a loader. */
export function forkJs(dir: string, file: string, arg: unknown, execArgv: string[] = []): ChildProcess {
  const c = fork(path.join(dir, 'bench', file.replace(/\.ts$/, '.js')), [JSON.stringify(arg)], {
    cwd: ROOT,
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

/** A bench file through tsx in a child process; at niceness `nice` (nice(1) execs node, so the pid is node's). */
export function forkTs(file: string, arg: unknown, nice = 0): ChildProcess {
  const argv = ['--import', 'tsx', path.join(HERE, file), JSON.stringify(arg)];
  const c = nice
    ? spawn('nice', ['-n', String(nice), process.execPath, ...argv], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

/** The next IPC message of `c` with `op` (and passing `is`), or an error after `ms`. */
export function nextMessage<T extends { op: string }>(c: ChildProcess, op: string, ms: number, is: (m: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.off('message', on);
      reject(new Error(`no "${op}" from ${path.basename(c.spawnargs.find((a) => a.endsWith('.ts')) ?? c.spawnfile)} within ${ms} ms`));
    }, ms);
    const on = (m: T) => {
      if (m.op !== op || !is(m)) return;
      clearTimeout(timer);
      c.off('message', on);
      resolve(m);
    };
    c.on('message', on);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. Only ever our own child, by its pid. */
export async function stopChild(c: ChildProcess, graceMs = 5000): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The 2,000 real servers: nginx for most, health-servers.ts for `victims`, the ones that die during the run. */
export interface Fleet {
  base: number;
  victims: number[];
  nginx: ChildProcess;
  node?: ChildProcess;
}

/** `nice`: the whole fleet's niceness (the proxy part: the fleet stands in for other machines; see the header). */
export async function startFleet(base: number, victims: number[], dir: string, nice = 0): Promise<Fleet> {
  const fleetDir = path.join(dir, 'fleet');
  fs.mkdirSync(fleetDir, { recursive: true });
  const conf = path.join(fleetDir, 'nginx.conf');
  const skip = new Set(victims);
  fs.writeFileSync(conf, nginxFleetConf(base, skip, fleetDir));
  const args = ['-c', conf, '-p', fleetDir, '-e', 'stderr'];
  // nice(1) execs nginx: the pid is nginx's, and its worker inherits the niceness.
  const nginx = nice
    ? spawn('nice', ['-n', String(nice), 'nginx', ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn('nginx', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(nginx);
  nginx.on('exit', () => children.delete(nginx));
  const fleet: Fleet = { base, victims, nginx };
  const exited = (what: string, c: ChildProcess) =>
    new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`${what} exited (${code}); are ports ${base}–${base + SERVERS - 1} free?`))));
  const first = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i).filter((p) => !skip.has(p));
  // nginx binds every listener before it starts its worker: the first of each half answering means all are there.
  await Promise.race([
    Promise.all([waitPort(first(base, base + HTTP_SERVERS)[0]), waitPort(first(base + HTTP_SERVERS, base + SERVERS)[0])]),
    exited('nginx (the real servers)', nginx),
  ]);
  if (victims.length > 0) {
    fleet.node = forkTs('health-servers.ts', { base, ports: victims }, nice);
    const ready = await Promise.race([nextMessage<{ op: string; count: number }>(fleet.node, 'ready', 60_000), exited('the servers that die', fleet.node)]);
    if (ready.count !== victims.length) throw new Error('health-servers.ts did not start every server');
  }
  return fleet;
}

export const fleetTicks = (f: Fleet) => treeTicks(f.nginx.pid!) + (f.node ? treeTicks(f.node.pid!) : 0);

export async function stopFleet(f: Fleet): Promise<void> {
  if (f.node) await stopChild(f.node);
  await stopChild(f.nginx);
}
