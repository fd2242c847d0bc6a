/**
 * `connect` and `send-expect`: open TCP to the target; with `sendExpect`, write the text and wait for the expected
 * text (or regular expression) in what comes back (keepalived's TCP_CHECK, HAProxy's tcp-check send/expect).
 *
 * A passing connect is closed with a reset (SO_LINGER 0, as HAProxy does for checks): a clean close would leave a
 * TIME_WAIT entry on this side per check, and 1,000 checks a second would hold 60,000 of them.
 *
 * What a check costs is measured by bench/health.ts (2,000 checks every 2 s, here and in the UML test kernel, where
 * every system call and clock reading is dear), and a plain connect makes no system call it does not need: no
 * TCP_NODELAY (nothing is written, or one request in one write, which Nagle never holds back), no read started on a
 * socket that is reset as soon as it connects, no timer of its own (see Deadlines), no new stream object per run
 * (see Spare), no 'abort' listener per run (on-abort.ts) and no sentence filled again for a pass (Prepared).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Checker, CheckTarget } from './types.ts';
import type { HealthCheck } from '../config/index.ts';
import { errnoText, result, resultOf, targetText, verdict } from './status.ts';
import type { CheckResult, Verdict } from './status.ts';
import { offAbort, onAbort } from './on-abort.ts';

/** How much of the answer a send-expect check reads before it gives up looking. */
const MAX_READ = 64 * 1024;

export const connectCheck: Checker = (t) => runTcp(t);

/** A check's deadline: `onLate` runs at `at` (performance.now() time) unless cleared first. */
export interface Deadline {
  at: number;
  onLate?: () => void;
}

/**
 * The deadlines of every check in flight (this file's and http.ts's), one timer per distinct timeout instead of one
 * per check: arming a Node timer reads the clock twice, which in a VM without a vDSO is two system calls (≈30 µs in
 * the UML test kernel, 3 % of a core there at 1,000 checks a second). Deadlines of one timeout arrive in the order the
 * checks started, so they form a queue; its timer waits for the oldest deadline not yet cleared, and a cleared one is
 * dropped when the timer passes it. The timer is unref'd: a check in flight holds its socket, which keeps the
 * process alive.
 *
 * A deadline that has passed is called late only after one more poll for I/O (setImmediate runs after it): when this
 * process was itself late (a long collection, a busy or starved CPU), timers run before the answers that have been
 * waiting on their sockets, and those answers came in time. Without that, a loaded one-CPU test guest reported
 * hundreds of healthy servers as timed out.
 */
class Deadlines {
  private items: Deadline[] = [];
  private head = 0;
  private timer?: NodeJS.Timeout;
  private late: Deadline[] = [];

  /** `now` is the caller's performance.now() reading (it has one: the check's start), to spare another. */
  add(timeoutMs: number, now: number, onLate: () => void): Deadline {
    const d: Deadline = { at: now + timeoutMs, onLate };
    this.items.push(d);
    if (!this.timer) this.arm(timeoutMs);
    return d;
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(delayMs)));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    const now = performance.now();
    const wasLate = this.late.length;
    while (this.head < this.items.length) {
      const d = this.items[this.head];
      if (d.onLate && d.at > now) break;
      this.head++;
      if (d.onLate) this.late.push(d);
    }
    if (wasLate === 0 && this.late.length > 0) setImmediate(() => this.callLate());
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      return;
    }
    if (this.head > 1024) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.arm(this.items[this.head].at - now);
  }

  private callLate(): void {
    const late = this.late;
    this.late = [];
    for (const d of late) {
      const f = d.onLate;
      d.onLate = undefined;
      f?.();
    }
  }
}

const deadlinesByTimeout = new Map<number, Deadlines>();

/** Calls `onLate` `timeoutMs` after `startedAt` (performance.now() time) unless the returned deadline is cleared. */
export function deadline(timeoutMs: number, startedAt: number, onLate: () => void): Deadline {
  let q = deadlinesByTimeout.get(timeoutMs);
  if (!q) deadlinesByTimeout.set(timeoutMs, (q = new Deadlines()));
  return q.add(timeoutMs, startedAt, onLate);
}

export function clearDeadline(d: Deadline): void {
  d.onLate = undefined;
}

/**
 * A check's socket is kept from one run to the next once it has closed: a net.Socket may connect again after
 * 'close' (Node's documented reconnect; each connect opens a new descriptor), which spares building a stream
 * object, and collecting one, on every run (measured: 15 % of a plain connect's CPU). Held by the check's Prepared
 * record (this file's and http.ts's, found once per run by the check's settings object), with the one 'close'
 * listener that hands it back, made once per check: a WeakMap of spares and a `once` closure per run cost three
 * WeakMap operations and three allocations per check. At most one spare per check. Plain TCP only (connect and
 * http); send-expect sets an encoding and https wraps the socket, so they take a new one each time.
 */
export interface Spare {
  socket: net.Socket | undefined;
  /** A 'close' listener: `this` is the socket that closed (a run's, not necessarily the latest's). */
  readonly release: (this: net.Socket) => void;
}

export function newSpare(): Spare {
  const spare: Spare = {
    socket: undefined,
    release(this: net.Socket) {
      // This run's listeners go with it; the next run adds its own.
      this.removeAllListeners();
      spare.socket = this;
    },
  };
  return spare;
}

/**
 * A socket for one run: the spare the check's last run left, or a new one (made with `onread`, which Node takes at
 * construction only: one check always passes the same); it becomes the spare once closed.
 */
export function socketFor(spare: Spare, onread?: net.OnReadOpts): net.Socket {
  let s = spare.socket;
  if (s) spare.socket = undefined;
  // Node reads `onread` in the constructor (net.connect hands it there); @types/node lists it for connect() only.
  else s = new net.Socket(onread ? ({ onread } as net.SocketConstructorOpts) : undefined);
  // on(), not once(): release() drops every listener of the run, itself included.
  s.on('close', spare.release);
  return s;
}

/** What a check's settings and target make of every run, worked out on its first: the target in words, the pass. */
interface Prepared {
  address: string;
  port: number | undefined;
  target: string;
  ok: Verdict;
  spare: Spare;
}

/** By the check's settings object, which the monitor hands over unchanged on every run of one check. */
const prepared = new WeakMap<HealthCheck, Prepared>();

function prepare(t: CheckTarget): Prepared {
  const was = prepared.get(t.check);
  if (was && was.address === t.address && was.port === t.port) return was;
  const target = targetText(t.address, t.port);
  const p: Prepared = { address: t.address, port: t.port, target, ok: verdict('L4OK', { target }), spare: newSpare() };
  prepared.set(t.check, p);
  return p;
}

/**
 * Shared by connect and send-expect: connects, then hands the socket to `onConnected` (the plain connect passes at
 * once). Settles exactly once; every path destroys the socket. Listeners are added with on(), not once(): a socket
 * connects once per run, and a spare drops all of its run's listeners when it closes (socketFor).
 */
function runTcp(t: CheckTarget): Promise<CheckResult> {
  const started = performance.now();
  const { target, ok, spare } = prepare(t);
  const se = t.check.sendExpect;
  return new Promise((resolve) => {
    let isDone = false;
    let isConnected = false;
    const socket = se ? new net.Socket() : socketFor(spare);
    socket.connect({ host: t.address, port: t.port! });
    // A plain connect reads nothing: paused, the socket starts no read when it connects.
    if (!se) socket.pause();
    const finish = (r: CheckResult, isReset = true) => {
      if (isDone) return;
      isDone = true;
      clearDeadline(timer);
      if (t.signal) offAbort(t.signal, stop);
      if (isReset && isConnected) socket.resetAndDestroy();
      else socket.destroy();
      resolve(r);
    };
    const elapsed = () => performance.now() - started;
    const timer = deadline(t.check.timeoutMs, started, () => {
      finish(
        isConnected
          ? result('L7TOUT', { target, timeoutMs: t.check.timeoutMs }, elapsed())
          : result('L4TOUT', { target, timeoutMs: t.check.timeoutMs }, elapsed()),
      );
    });
    const stop = () => finish(result('L4CON', { target, reason: 'the check was stopped' }, elapsed()));
    if (t.signal) onAbort(t.signal, stop);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (isConnected && se) finish(result('L7RSP', { detail: `${target} ${errnoText(e)} before sending the expected text` }, elapsed()), false);
      else finish(result('L4CON', { target, reason: errnoText(e) }, elapsed()), false);
    });
    socket.on('connect', () => {
      isConnected = true;
      if (!se) return finish(resultOf(ok, elapsed()));
      expectText(socket, se, target, (r) => finish(r(elapsed())));
    });
  });
}

function expectText(
  socket: net.Socket,
  se: NonNullable<CheckTarget['check']['sendExpect']>,
  target: string,
  done: (r: (ms: number) => CheckResult) => void,
): void {
  const matcher = se.isRegex ? new RegExp(se.expect) : undefined;
  let text = '';
  const quoted = JSON.stringify(se.expect.length > 60 ? `${se.expect.slice(0, 60)}…` : se.expect);
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
    if (matcher ? matcher.test(text) : text.includes(se.expect)) {
      return done((ms) => result('L7OK', { detail: `${target} answered with the expected ${se.isRegex ? 'pattern' : 'text'} ${quoted}` }, ms));
    }
    if (text.length >= MAX_READ) {
      done((ms) => result('L7RSP', { detail: `${target} sent ${MAX_READ} bytes without the expected ${se.isRegex ? 'pattern' : 'text'} ${quoted}` }, ms));
    }
  });
  socket.on('end', () => {
    const got = text.length === 0 ? 'nothing' : JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
    done((ms) =>
      result(
        'L7RSP',
        { detail: `${target} closed the connection after sending ${got}, without the expected ${se.isRegex ? 'pattern' : 'text'} ${quoted}` },
        ms,
      ),
    );
  });
  if (se.send) socket.write(se.send, 'latin1');
}
