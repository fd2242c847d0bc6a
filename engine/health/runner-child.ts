/**
 * The monitor's child process (forked by runner-process.ts): the engine's checkers and a CheckRunner, and nothing
 * else, at a lower CPU priority than the engine and its proxy workers.
 *
 * Why a lower priority: on an appliance whose CPUs are saturated by traffic, the work that matters most is carrying
 * clinicians' requests; the checks that decide where they go come a close second, and they need little: 2,000 checks
 * every 2 s take about a tenth of one core (bench/health.ts). At niceness 10 (FULCRUM_HEALTH_NICE) Linux's scheduler
 * gives this process a weight of 110 against 1,024 for each busy thread at niceness 0:
 *
 *   - CPUs not saturated (the normal case): it runs as soon as it is woken, like any other process; nothing changes.
 *   - CPUs saturated: it still gets its share, about 110 / (110 + 1,024 × n) of a CPU shared with n busy threads
 *     (≈ 10 % of a CPU against one, 5 % against two), taken from them only in proportion. When the checks need more
 *     than that, slots fire late (schedule.ts measures by how much): checks run less often than their interval and
 *     a dead server is found later, in proportion, never sooner or falsely: a check's deadline is judged only after
 *     the answers waiting for this process have been read (connect.ts, Deadlines), so a starved checker does not
 *     call a live server dead. It cannot be starved outright (the scheduler has no such policy for niceness).
 *
 * Why 10 and not 19 (measured beside a proxy saturating 2 cores, engine/health/README.md has the figures): at 19
 * the checks fell behind with nothing else running (slots up to 1.7 s late, so a dead server can be found past
 * interval × fall + 0.5 s); at 10 they kept up and detection stayed within it, at the price of the proxy's rps.
 *
 * It talks to the engine over the IPC channel only (runner-process.ts has the protocol) and ends when the channel
 * closes (the engine stopped or died) or on SIGTERM. SIGINT (a terminal's ^C reaching the whole process group) is
 * left to the engine, which stops it.
 */
import fs from 'node:fs';
import os from 'node:os';
import { CheckRunner } from './runner.ts';
import { defaultAgentChecker, defaultCheckers } from './checkers.ts';
import type { FromChild, ToChild, WireResult, WireTransition } from './runner-process.ts';
import type { AgentReport } from './types.ts';

/**
 * Lowers this process's priority to `nice` (never raises it). setpriority(2) on Linux acts on one thread: the
 * threads Node started before this line (libuv's pool, V8's platform workers) are set one by one from
 * /proc/self/task, and threads started later inherit the main thread's. Returns why it could not, if it could not.
 */
function lowerPriority(nice: number): { nice: number; problem?: string } {
  const target = Math.min(19, Math.max(os.getPriority(0), nice));
  let tids: number[] = [0];
  try {
    tids = fs.readdirSync('/proc/self/task').map(Number);
  } catch {
    // no /proc: the main thread alone, which does the checks
  }
  try {
    for (const tid of tids) os.setPriority(tid, target);
    return { nice: target };
  } catch (e) {
    return { nice: os.getPriority(0), problem: (e as Error).message };
  }
}

const priority = lowerPriority(Number(process.env.FULCRUM_HEALTH_NICE ?? 10) || 0);

let transitions: WireTransition[] = [];
let weights: [string, number | null][] = [];
let agents: [string, AgentReport, number][] = [];
let isQueued = false;
/** The sentence last sent for each check: a result whose sentence is the same goes without it. */
const sent = new Map<string, string>();

/** A message to the engine; one that finds the channel closed is dropped (the engine is gone: 'disconnect' ends us). */
function send(m: FromChild): void {
  if (process.connected) process.send!(m, undefined, {}, () => undefined);
}

function flush(): void {
  isQueued = false;
  if (transitions.length === 0 && weights.length === 0 && agents.length === 0) return;
  send({ op: 'events', transitions, weights, agents });
  transitions = [];
  weights = [];
  agents = [];
}

function queue(): void {
  if (isQueued) return;
  isQueued = true;
  setImmediate(flush);
}

const runner = new CheckRunner({
  checkers: defaultCheckers,
  agentChecker: defaultAgentChecker,
  events: {
    onTransition: (id, _previous, health, r, at) => {
      transitions.push([id, health, r.code, r.isPass, r.message, r.durationMs, at]);
      sent.set(id, r.message);
      queue();
    },
    onWeight: (id, weight) => {
      weights.push([id, weight ?? null]);
      queue();
    },
    onAgent: (id, report, at) => {
      agents.push([id, report, at]);
      queue();
    },
  },
});

process.on('message', (m: ToChild) => {
  if (m.op === 'set') {
    for (const id of m.change.remove) sent.delete(id);
    runner.set(m.change);
  } else if (m.op === 'runNow') runner.runNow();
  else if (m.op === 'refresh') {
    // Transitions first, so the engine never sees a result before the transition it caused.
    flush();
    const results: WireResult[] = runner.takeResults().map(({ id, result: r, at }) => {
      const isSame = sent.get(id) === r.message;
      if (!isSame) sent.set(id, r.message);
      return [id, r.code, r.isPass, isSame ? null : r.message, r.durationMs, at];
    });
    void runner.refresh().then((stats) => send({ op: 'results', id: m.id, results, stats: stats! }));
  }
});

const stop = () => {
  runner.close();
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.on('SIGINT', () => undefined);
send({ op: 'ready', nice: priority.nice, niceProblem: priority.problem });
