/**
 * Benchmarks' helper: the processes a bench starts, and stopping exactly those, by pid, when it ends or is killed
 * (SIGINT, SIGTERM, SIGHUP). Nothing is found or signalled by name: a bench shares this machine with other people's
 * haproxy, nginx and node processes.
 *
 * Stopping: every child still running is sent SIGTERM (each peer then stops its own workers: nginx's master, a node
 * cluster primary); one still running after the grace period is sent SIGKILL, and so is every process it had started
 * (an nginx worker outlives a killed master). Those are read from /proc before the first signal and known by pid and
 * start time, so a pid the kernel has since given to another process is never signalled.
 *
 * A bench's measuring runs (wrk, h2load) go through run(), not execFileSync: while a synchronous child runs, the
 * event loop cannot run a signal handler, and a bench whose rounds are all synchronous never sees its SIGINT at all.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';

interface Proc {
  pid: number;
  /** /proc/<pid>/stat field 22: the start time in clock ticks since boot. */
  startTicks: string;
}

function readStat(pid: number): { ppid: number; startTicks: string } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), startTicks: f[19] };
  } catch {
    return null; // it has ended
  }
}

/** The processes below `root` (children, theirs, …) as they are now. */
export function descendants(root: number): Proc[] {
  const byParent = new Map<number, Proc[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = readStat(Number(d));
    if (s === null) continue;
    const list = byParent.get(s.ppid) ?? [];
    list.push({ pid: Number(d), startTicks: s.startTicks });
    byParent.set(s.ppid, list);
  }
  const out: Proc[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const p of byParent.get(queue.shift()!) ?? []) {
      out.push(p);
      queue.push(p.pid);
    }
  }
  return out;
}

const isSame = (p: Proc) => readStat(p.pid)?.startTicks === p.startTicks;
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

export class OwnProcesses {
  private readonly running = new Set<ChildProcess>();
  private stopping: Promise<void> | null = null;

  /** Starts a long-running child (a peer, a backend); stop() ends it. */
  start(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.running.add(p);
    p.once('exit', () => this.running.delete(p));
    p.once('error', () => this.running.delete(p));
    return p;
  }

  /** Runs a command to its end and resolves with its stdout; rejects on a non-zero exit (as execFileSync throws). */
  run(cmd: string, args: string[]): Promise<string> {
    const p = this.start(cmd, args);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout!.on('data', (d: Buffer) => out.push(d));
    p.stderr!.on('data', (d: Buffer) => err.push(d));
    return new Promise((resolve, reject) => {
      p.once('error', reject);
      p.once('close', (code, signal) => {
        if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
        else reject(new Error(`${cmd} ended with ${signal ?? `exit code ${code}`}: ${Buffer.concat(err).toString('utf8').trim()}`));
      });
    });
  }

  /** Whether stop() has begun (a run() rejected because of it is not the bench's failure). */
  get isStopping(): boolean {
    return this.stopping !== null;
  }

  /** SIGTERM to each child still running; after `graceMs`, SIGKILL to what is left of them and of theirs. */
  stop(graceMs = 3000): Promise<void> {
    this.stopping ??= (async () => {
      const children = [...this.running];
      const theirs = children.flatMap((c) => (c.pid === undefined ? [] : descendants(c.pid)));
      for (const c of children) c.kill('SIGTERM');
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && (this.running.size > 0 || theirs.some(isSame))) await new Promise((r) => setTimeout(r, 50));
      for (const c of this.running) c.kill('SIGKILL');
      for (const p of theirs) {
        try {
          if (isSame(p)) process.kill(p.pid, 'SIGKILL');
        } catch {
          // it ended between the look and the signal
        }
      }
    })();
    return this.stopping;
  }

  /** On SIGINT, SIGTERM or SIGHUP: stop(), then `after` (say, remove the bench's temporary directory), then exit. */
  stopOnSignals(after: () => void = () => undefined): void {
    for (const [name, n] of Object.entries(SIGNALS)) {
      process.once(name, () => {
        console.error(`# ${name}: stopping the processes this bench started`);
        void this.stop().then(() => {
          after();
          process.exit(128 + n);
        });
      });
    }
  }
}
