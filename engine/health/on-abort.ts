/**
 * A check's abort, heard without an EventTarget listener per run. The runner gives each check one AbortSignal for
 * its whole life and runs it every interval; adding and removing an 'abort' listener on every run went through
 * Node's EventTarget (a listener record, a weak reference, option parsing) and cost about 6 % of the monitor
 * child's CPU at 1,000 checks a second (bench/health.ts, --cpu-prof). Here each signal gets one listener, on first
 * use, and each run adds its callback to a plain Set kept for that signal (onAbort) and takes it out when it settles
 * (offAbort).
 *
 * Accepts any number of runs on one signal at once (each hears the abort once). As with addEventListener, a signal
 * already aborted calls nothing.
 */

/** The callbacks of the runs in flight on each signal; the signal's one listener calls them all. */
const waiting = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `f` once if `signal` aborts before offAbort(signal, f). */
export function onAbort(signal: AbortSignal, f: () => void): void {
  let runs = waiting.get(signal);
  if (!runs) {
    const set = new Set<() => void>();
    runs = set;
    waiting.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        const all = [...set];
        set.clear();
        for (const f of all) f();
      },
      { once: true },
    );
  }
  runs.add(f);
}

/** Forgets `f` (a run that settled); harmless when it was never added or has been called. */
export function offAbort(signal: AbortSignal, f: () => void): void {
  waiting.get(signal)?.delete(f);
}
