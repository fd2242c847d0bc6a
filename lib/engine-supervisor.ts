/**
 * The console watches the engine whether it started it or found it running (adopted after a console restart):
 * every 2 s it asks the engine for its status. After 3 misses in a row it decides:
 *
 *   engine process (last known pid)  │ action
 *   ─────────────────────────────────┼───────────────────────────────────────────────────────────────────────────
 *   gone                             │ start a new engine (it reconciles the kernel and the proxy to its record)
 *   alive but not answering          │ start nothing (a second engine would fight it for the kernel and the socket);
 *                                    │ say so, in the log once and in /status, until it answers again
 *   never seen (no pid known)        │ start one if this console may (FULCRUM_ENGINE_SOCKET unset), else say so
 *
 * A new engine is not started again within 10 s of the last start (it needs a moment to listen).
 */
export type SupervisorState =
  | { kind: 'running'; pid: number }
  | { kind: 'starting'; since: string }
  | { kind: 'not-answering'; pid: number; since: string }
  | { kind: 'unreachable'; since: string; reason: string };

export interface SupervisorOptions {
  /** The engine's pid when it answers, null when it does not. */
  probe: () => Promise<number | null>;
  /** Starts an engine; undefined when this console must not (it was told the socket of an engine run by others). */
  start?: () => void;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  isAlive?: (pid: number) => boolean;
  everyMs?: number;
  misses?: number;
  now?: () => number;
}

const isAliveDefault = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export function createEngineSupervisor(opts: SupervisorOptions) {
  const isAlive = opts.isAlive ?? isAliveDefault;
  const now = opts.now ?? Date.now;
  const limit = opts.misses ?? 3;
  let pid: number | null = null;
  let misses = 0;
  let lastStart = -Infinity;
  let state: SupervisorState = { kind: 'starting', since: new Date(now()).toISOString() };
  let timer: NodeJS.Timeout | undefined;
  let isChecking = false;

  const set = (next: SupervisorState, level: 'info' | 'warn' | 'error', msg: string) => {
    if (next.kind !== state.kind) opts.log(level, msg, { ...next });
    state = next;
  };

  async function check(): Promise<void> {
    if (isChecking) return;
    isChecking = true;
    try {
      const answered = await opts.probe().catch(() => null);
      if (answered !== null) {
        pid = answered;
        misses = 0;
        set({ kind: 'running', pid }, 'info', 'the engine answers');
        return;
      }
      if (++misses < limit) return;
      const since = new Date(now()).toISOString();
      if (pid !== null && isAlive(pid)) {
        set(
          { kind: 'not-answering', pid, since },
          'error',
          `the engine (pid ${pid}) is running but not answering (paused or stuck); not starting a second one`,
        );
        return;
      }
      if (!opts.start) {
        set(
          { kind: 'unreachable', since, reason: 'this console was given the socket of an engine it does not run' },
          'error',
          'the engine does not answer and this console may not start one',
        );
        return;
      }
      if (now() - lastStart < 10_000) return;
      lastStart = now();
      pid = null;
      set({ kind: 'starting', since }, 'warn', 'the engine is gone; starting a new one');
      opts.start();
    } finally {
      isChecking = false;
    }
  }

  return {
    get state(): SupervisorState {
      return state;
    },
    /** Begins watching; `check` runs now and every interval. */
    start() {
      void check();
      timer = setInterval(() => void check(), opts.everyMs ?? 2000);
      timer.unref();
    },
    /** An engine was just started by someone else (the console's first start): do not start another for 10 s. */
    noteStarted() {
      lastStart = now();
    },
    check,
    close() {
      if (timer) clearInterval(timer);
    },
  };
}

const g = globalThis as unknown as { __fulcrumSupervisor?: ReturnType<typeof createEngineSupervisor> };
export function setSupervisor(s: ReturnType<typeof createEngineSupervisor>): void {
  g.__fulcrumSupervisor = s;
}
/** What the console's supervisor last concluded, for /status; undefined where none runs (API tests). */
export function supervisorState(): SupervisorState | undefined {
  return g.__fulcrumSupervisor?.state;
}
