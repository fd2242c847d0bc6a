/**
 * The layer 7 data plane's lifecycle policies, apart from the cluster plumbing in index.ts: how soon a crashed
 * worker is replaced, and how long close() lets requests in flight finish.
 *
 * Restarts back off exponentially, so a worker that dies at once (a broken install, a bug a configuration
 * triggers) is not forked in a tight loop that starves the machine and floods the log:
 *
 *   crash in a row   1     2     3     4     …    10 and on
 *   wait (ms)        100   200   400   800   …    30 000
 *
 * A worker that ran for a stable minute before it died starts the count again: one crash a day always waits 100 ms.
 */

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A worker that ran this long before exiting resets the count. */
  stableMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 30_000, stableMs: 60_000 };

export class RestartBackoff {
  readonly options: BackoffOptions;
  /** Crashes since the last stable worker. */
  crashesInARow = 0;

  constructor(options: Partial<BackoffOptions> = {}) {
    this.options = { ...DEFAULT_BACKOFF, ...options };
  }

  /** A worker that ran for `uptimeMs` exited: the wait before its replacement is forked. */
  next(uptimeMs: number): number {
    const { initialMs, maxMs, stableMs } = this.options;
    if (uptimeMs >= stableMs) this.crashesInARow = 0;
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(this.crashesInARow, 30));
    this.crashesInARow++;
    return delay;
  }
}

/** Time for the restart policy; tests give their own, so they step through delays without waiting for them. */
export interface RestartClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

export const SYSTEM_CLOCK: RestartClock = {
  now: () => performance.now(),
  schedule: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** How a worker ended, for the log: "exited with code 1", "was killed by SIGKILL". */
export function exitText(code: number | null, signal: string | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
}

export const CLOSE_GRACE_ENV = 'FULCRUM_L7_CLOSE_GRACE_MS';
const DEFAULT_CLOSE_GRACE_MS = 5000;
const MAX_CLOSE_GRACE_MS = 600_000;

/**
 * How long close() lets requests in flight finish: the option when given (tests, embedders), else the daemon's
 * FULCRUM_L7_CLOSE_GRACE_MS, else 5 s. A value in the environment that is not a whole number of milliseconds from
 * 0 to 600000 is not taken: `problem` says so, for the log, and the default holds.
 */
export function closeGrace(option: number | undefined, env: string | undefined): { ms: number; problem?: string } {
  if (option !== undefined) return { ms: option };
  if (env === undefined || env.trim() === '') return { ms: DEFAULT_CLOSE_GRACE_MS };
  const ms = Number(env.trim());
  if (/^\d+$/.test(env.trim()) && ms <= MAX_CLOSE_GRACE_MS) return { ms };
  return {
    ms: DEFAULT_CLOSE_GRACE_MS,
    problem: `${CLOSE_GRACE_ENV}=${JSON.stringify(env)} is not a whole number of milliseconds from 0 to ${MAX_CLOSE_GRACE_MS}; using ${DEFAULT_CLOSE_GRACE_MS} ms`,
  };
}
