/**
 * `external`: keepalived's MISC_CHECK. Runs an operator's program with the VIP, VIP port, RIP and RIP port as its last
 * four arguments (and as FULCRUM_* variables), without a shell, and judges it by its exit:
 *
 *   exit                │ plain check                  │ isDynamicWeight (keepalived's misc_dynamic)
 *   ────────────────────┼──────────────────────────────┼─────────────────────────────────────────────
 *   0                   │ PROCOK                       │ PROCOK, weight unchanged
 *   1                   │ PROCERR + first output line  │ PROCERR + first output line
 *   2–255               │ PROCERR + first output line  │ PROCOK with weight = exit − 2
 *   killed by a signal  │ PROCERR naming the signal    │ PROCERR naming the signal
 *   past timeoutMs      │ PROCTOUT: its whole process group gets SIGKILL
 *   cannot start        │ PROCERR "could not be started: …"
 *
 * The program runs in its own process group (detached) so the time-out kills what it started too: a hung `curl` in a
 * shell script would otherwise outlive its parent, keep our pipes open, and pile up one per interval.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { result, type CheckResult } from './status.ts';
import type { Checker, CheckTarget } from './types.ts';

/**
 * The only environment a check program gets besides FULCRUM_*: the engine's own (its secrets, NODE_OPTIONS) is not
 * the check's business, and a fixed PATH keeps a script behaving the same whoever started the engine.
 */
export const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Output kept per stream: enough for a line of explanation, bounded against a program that floods its stdout. */
const MAX_OUTPUT = 4096;
/** The reason shown beside the server is one line; longer output stays in the program's own logs. */
const MAX_REASON = 200;
/**
 * After the program exits, how long we wait for its pipes to drain before judging. They close at once unless
 * something it started escaped its process group (setsid) and still holds them; then we judge without the rest.
 */
const DRAIN_MS = 100;

const SPAWN_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied (is it executable, and are its directories searchable?)',
  ENOEXEC: 'not an executable format (a script needs a #! line)',
  ENOTDIR: 'a part of its path is not a directory',
};

export const externalCheck: Checker = (t) => new Promise<CheckResult>((resolve) => run(t, resolve));

function run(t: CheckTarget, resolve: (r: CheckResult) => void): void {
  const started = performance.now();
  const ext = t.check.external;
  const command = ext?.command ?? '(no command)';
  const make = (code: 'PROCOK' | 'PROCERR' | 'PROCTOUT', params: Record<string, unknown>, weight?: number) =>
    result(code, { command, timeoutMs: t.check.timeoutMs, ...params }, performance.now() - started, weight === undefined ? {} : { weight });
  if (!ext) return resolve(make('PROCERR', { reason: 'could not be started: no command is configured' }));
  if (t.signal?.aborted) return resolve(make('PROCERR', { reason: 'was not started: the check was stopped' }));

  const vipPort = String(t.vipPort ?? '');
  const ripPort = String(t.port ?? '');
  const child = spawn(ext.command, [...ext.args, t.vip, vipPort, t.address, ripPort], {
    shell: false,
    detached: true,
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv({ PATH: SAFE_PATH, FULCRUM_VIP: t.vip, FULCRUM_VIP_PORT: vipPort, FULCRUM_RIP: t.address, FULCRUM_RIP_PORT: ripPort }),
  });
  const stdout = capture(child.stdout);
  const stderr = capture(child.stderr);
  let isDone = false;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  const finish = (r: CheckResult) => {
    if (isDone) return;
    isDone = true;
    clearTimeout(timer);
    t.signal?.removeEventListener('abort', onAbort);
    killGroup(child.pid);
    child.stdout.destroy();
    child.stderr.destroy();
    resolve(r);
  };
  const judge = () => {
    if (!exit) return;
    const { code, signal } = exit;
    if (code === null) return finish(make('PROCERR', { reason: `was killed by ${signal ?? 'a signal'}` }));
    if (code === 0) return finish(make('PROCOK', { exitCode: 0 }));
    if (ext.isDynamicWeight && code >= 2) return finish(make('PROCOK', { exitCode: code }, code - 2));
    const line = firstLine(stderr.text()) || firstLine(stdout.text());
    finish(make('PROCERR', { reason: `exited with ${code}${line ? `: ${line}` : ''}` }));
  };
  const onAbort = () => finish(make('PROCERR', { reason: 'was stopped before it finished' }));
  const timer = setTimeout(() => finish(make('PROCTOUT', {})), t.check.timeoutMs);
  t.signal?.addEventListener('abort', onAbort, { once: true });

  child.on('error', (e: NodeJS.ErrnoException) => {
    const words = (e.code && SPAWN_ERRORS[e.code]) ?? e.message;
    finish(make('PROCERR', { reason: `could not be started: ${words}` }));
  });
  child.on('exit', (code, signal) => {
    exit = { code, signal };
    // Leftovers in its group would hold our pipes (see above); the program is done, so they are too.
    killGroup(child.pid);
    const left = t.check.timeoutMs - (performance.now() - started);
    setTimeout(judge, Math.max(0, Math.min(DRAIN_MS, left)));
  });
  child.on('close', judge);
}

/**
 * Next's global types (next/types/global.d.ts) make NODE_ENV a required key of every ProcessEnv; a check program's
 * environment has no business with it, so the literal is widened here rather than given a made-up NODE_ENV.
 */
export function childEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  return vars as unknown as NodeJS.ProcessEnv;
}

/** SIGKILL to the process group the child leads; ESRCH (all gone) is the expected case after a clean exit. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group. EPERM cannot happen for our own child's group.
  }
}

function capture(stream: NodeJS.ReadableStream) {
  const chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (d: Buffer) => {
    if (size >= MAX_OUTPUT) return; // keep reading, so a chatty program never blocks on a full pipe
    chunks.push(d.subarray(0, MAX_OUTPUT - size));
    size += Math.min(d.length, MAX_OUTPUT - size);
  });
  stream.on('error', () => {});
  return { text: () => Buffer.concat(chunks).toString('utf8') };
}

const firstLine = (s: string): string => {
  const line =
    s
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? '';
  return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON - 1)}…` : line;
};
