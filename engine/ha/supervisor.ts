/**
 * keepalived as a supervised child of the engine, one per engine (its own configuration and pid files in the data
 * directory, so the Debian package's service and any other keepalived are never touched):
 *
 *   keepalived -n -l -D -G --vrrp -f <conf> -p <pid> -r <vrrp pid>
 *     -n   stay in the foreground: the engine is its parent and learns of its exit at once
 *     -l -G  log to the console and not to syslog: the engine logs every line as its own (one log, one place)
 *     -D   detailed log (each transition, each gratuitous ARP)
 *     --vrrp  only VRRP: IPVS is the engine's (keepalived's checker would fight it for the table)
 *
 * start   a keepalived left by an engine that died (found by its pid file and the same configuration path on its
 *         command line) is stopped first: two would fight over the same addresses
 * exit    an unexpected exit is restarted after a backoff (1 s, doubling to 30 s; back to 1 s once it has run for a
 *         minute), so a keepalived that cannot start does not spin
 * reload  SIGHUP (keepalived re-reads its file and keeps the state of unchanged instances); the caller sends it only
 *         when the rendered file changed
 * stop    SIGTERM (keepalived removes its addresses and sends a priority-0 advert, so the peer takes over at once
 *         instead of after 3 adverts), SIGKILL after 5 s
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { EngineError } from '../errors.ts';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface SupervisorOptions {
  binary: string;
  confPath: string;
  pidPath: string;
  vrrpPidPath: string;
  log: Log;
  /** keepalived started (pid) or exited; `restartInMs` is set when it will be started again. */
  onChange?: (e: { kind: 'started'; pid: number } | { kind: 'exited'; reason: string; restartInMs?: number }) => void;
  backoff?: { initialMs: number; maxMs: number; stableMs: number };
  stopTimeoutMs?: number;
}

export interface SupervisorStatus {
  isRunning: boolean;
  pid?: number;
  startedAt?: string;
  restarts: number;
  reloads: number;
  lastReloadAt?: string;
  lastExit?: { at: string; reason: string };
  nextStartAt?: string;
  error?: { code: string; message: string };
  /** keepalived's last lines, for the reason of a failure. */
  recent: string[];
}

const RECENT = 20;

export class KeepalivedSupervisor {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private isWanted = false;
  private failures = 0;
  private readonly st: SupervisorStatus = { isRunning: false, restarts: 0, reloads: 0, recent: [] };
  private readonly backoff: NonNullable<SupervisorOptions['backoff']>;

  constructor(private readonly opts: SupervisorOptions) {
    this.backoff = opts.backoff ?? { initialMs: 1000, maxMs: 30_000, stableMs: 60_000 };
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  status(): SupervisorStatus {
    return { ...this.st, recent: [...this.st.recent] };
  }

  /** Starts keepalived unless it runs (or waits to restart). */
  async start(): Promise<void> {
    this.isWanted = true;
    if (this.child || this.timer) return;
    await this.startNow();
  }

  /**
   * Stops a stale keepalived, then spawns ours: one at a time. Both start() and the restart timer come here; without
   * the guard a start() during the timer's stopStale spawned a second keepalived, and the next stopStale took the
   * first for a previous engine's and stopped it (a needless restart of the standby).
   */
  private startNow(): Promise<void> {
    this.starting ??= (async () => {
      try {
        await this.stopStale();
        if (this.isWanted && !this.child) this.spawn();
      } finally {
        this.starting = undefined;
      }
    })();
    return this.starting;
  }

  /** SIGHUP: keepalived re-reads its file. False when it is not running (it reads the file when it starts). */
  reload(): boolean {
    if (!this.child?.pid) return false;
    this.child.kill('SIGHUP');
    this.st.reloads++;
    this.st.lastReloadAt = new Date().toISOString();
    return true;
  }

  async stop(): Promise<void> {
    this.isWanted = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.st.nextStartAt = undefined;
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), this.opts.stopTimeoutMs ?? 5000);
    await this.exited;
    clearTimeout(killer);
  }

  private spawn(): void {
    const { binary, confPath, pidPath, vrrpPidPath, log } = this.opts;
    const startedAt = Date.now();
    const child = spawn(binary, ['-n', '-l', '-D', '-G', '--vrrp', '-f', confPath, '-p', pidPath, '-r', vrrpPidPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let spawnError: Error | undefined;
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (raw) => {
        // keepalived prefixes each line with the date; the engine's log has its own.
        const line = raw.replace(/^\w{3} \w{3} +\d+ [\d:]+ \d{4}: /, '');
        this.st.recent.push(line);
        if (this.st.recent.length > RECENT) this.st.recent.shift();
        log('info', `keepalived: ${line}`, { src: 'keepalived' });
      });
    }
    // 'exit', not 'close': keepalived's VRRP child inherits the pipes and may hold them open a moment longer. A binary
    // that cannot be run gives 'error' instead (and no pid).
    this.exited = new Promise((resolve) => {
      let isDone = false;
      child.on('error', (e) => {
        if (child.pid !== undefined) return;
        spawnError = e;
        onExit(null, null);
      });
      child.on('exit', (code, signal) => onExit(code, signal));
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        if (isDone) return;
        isDone = true;
        this.exitedWith(child, startedAt, spawnError, code, signal);
        resolve();
      };
    });
    if (child.pid !== undefined) {
      this.st.isRunning = true;
      this.st.pid = child.pid;
      this.st.startedAt = new Date(startedAt).toISOString();
      this.st.error = undefined;
      this.opts.onChange?.({ kind: 'started', pid: child.pid });
    }
  }

  private exitedWith(child: ChildProcess, startedAt: number, spawnError: Error | undefined, code: number | null, signal: NodeJS.Signals | null): void {
    const { binary, log } = this.opts;
    if (this.child === child) this.child = undefined;
    this.st.isRunning = false;
    this.st.pid = undefined;
    const reason = spawnError ? spawnError.message : signal ? `killed by ${signal}` : `exit code ${code}`;
    this.st.lastExit = { at: new Date().toISOString(), reason };
    if (spawnError) this.st.error = { code: 'HA_KEEPALIVED_MISSING', message: new EngineError('HA_KEEPALIVED_MISSING', { path: binary, reason }).message };
    if (!this.isWanted) {
      this.opts.onChange?.({ kind: 'exited', reason });
      return;
    }
    // Unexpected: restart after a backoff that grows while keepalived keeps failing.
    this.failures = Date.now() - startedAt >= this.backoff.stableMs ? 1 : this.failures + 1;
    const delay = Math.min(this.backoff.initialMs * 2 ** (this.failures - 1), this.backoff.maxMs);
    if (!spawnError)
      this.st.error = { code: 'HA_KEEPALIVED_EXITED', message: new EngineError('HA_KEEPALIVED_EXITED', { reason, delay: delay / 1000 }).message };
    log('error', `keepalived exited (${reason}); starting it again in ${delay} ms`, { recent: this.st.recent.slice(-5) });
    this.st.nextStartAt = new Date(Date.now() + delay).toISOString();
    this.opts.onChange?.({ kind: 'exited', reason, restartInMs: delay });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.st.nextStartAt = undefined;
      if (!this.isWanted) return;
      this.st.restarts++;
      void this.startNow();
    }, delay);
    this.timer.unref();
  }

  /**
   * A keepalived still running from a previous engine (that engine was killed: keepalived outlives its parent) has
   * our pid file and our configuration path on its command line. It is stopped; anything else is left alone.
   */
  private async stopStale(): Promise<void> {
    for (const file of [this.opts.pidPath, this.opts.vrrpPidPath]) {
      const pid = Number(readText(file).trim());
      if (!Number.isInteger(pid) || pid <= 1 || pid === this.child?.pid || isOurs(pid)) continue;
      const cmdline = readCmdline(pid);
      if (!cmdline.includes('keepalived') || !cmdline.includes(this.opts.confPath)) continue;
      this.opts.log('warn', 'stopping a keepalived left running by a previous engine', { pid });
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + (this.opts.stopTimeoutMs ?? 5000);
      while (readCmdline(pid) !== '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (readCmdline(pid) !== '') process.kill(pid, 'SIGKILL');
    }
  }
}

/** The parent pid of `pid` (0 when it is gone), from /proc/<pid>/stat (the field after the parenthesised name). */
function parentOf(pid: number): number {
  const stat = readText(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? 0) || 0;
}

/**
 * Whether `pid` is this engine's own keepalived or its VRRP child (its parent, or its parent's parent, is this
 * process). A previous engine's keepalived has been re-parented (to init) and is not: only that one is stale.
 */
function isOurs(pid: number): boolean {
  const parent = parentOf(pid);
  return parent === process.pid || (parent > 1 && parentOf(parent) === process.pid);
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
