/**
 * Inactivity timeouts for the data plane's sockets, swept in coarse steps.
 *
 * socket.setTimeout() keeps one Node timer per socket and moves it to the back of its list on every read and every
 * write (two of each per proxied request). Here a read or write only zeroes a counter (`touch`); one interval per
 * step size counts every watched socket up, and a socket whose count passes its limit times out:
 *
 *   timeout        step (a power of two, at most an eighth of it, 8 ms … 1024 ms)   fires after
 *   100 ms         8 ms                                                              100 … 116 ms of silence
 *   60 s           1024 ms                                                           60 … 62 s
 *
 * A timeout never fires early, and late by at most two steps. Like socket.setTimeout() it only reports: the owner
 * decides (close, or ignore it while it waits on the other side). It keeps firing, once a period, while the socket
 * stays silent. Intervals run only while something is watched, and never hold the process open.
 */
import type net from 'node:net';

/** Where a watched socket, and its handle (for reader.ts's read callback), keep their timer. */
export const kIdle = Symbol('fulcrum.idle');
type Watched = net.Socket & { [kIdle]?: IdleTimer; _handle?: { [kIdle]?: IdleTimer } | null };

class Wheel {
  readonly stepMs: number;
  readonly timers = new Set<IdleTimer>();
  private interval: NodeJS.Timeout | null = null;

  constructor(stepMs: number) {
    this.stepMs = stepMs;
  }

  add(t: IdleTimer): void {
    this.timers.add(t);
    if (this.interval === null) {
      this.interval = setInterval(() => this.sweep(), this.stepMs);
      this.interval.unref();
    }
  }

  delete(t: IdleTimer): void {
    this.timers.delete(t);
    if (this.timers.size === 0 && this.interval !== null) {
      clearInterval(this.interval);
      this.interval = null;
    }
  }

  private sweep(): void {
    for (const t of this.timers) {
      if (++t.idle > t.limit) {
        t.idle = 0;
        t.fire();
      }
    }
  }
}

const wheels = new Map<number, Wheel>();

/** The step for a timeout: the power of two nearest below an eighth of it, within 8 … 1024 ms. */
export function stepFor(ms: number): number {
  let step = 8;
  while (step < 1024 && step * 2 <= ms / 8) step *= 2;
  return step;
}

export class IdleTimer {
  /** Steps swept since the last activity. */
  idle = 0;
  /** Steps of silence after which it fires: one more than the timeout spans, so it never fires early. */
  limit = 0;
  /** Called with `self` as `this`: one shared function serves every socket of a kind, no closure per socket. */
  readonly onTimeout: (this: unknown) => void;
  private readonly self: unknown;
  private wheel: Wheel | null = null;

  constructor(onTimeout: (this: unknown) => void, self?: unknown) {
    this.onTimeout = onTimeout;
    this.self = self;
  }

  fire(): void {
    this.onTimeout.call(this.self);
  }

  /** Starts the timeout, or changes it; 0 stops it. Counts as activity. */
  set(ms: number): void {
    this.stop();
    this.idle = 0;
    if (ms <= 0) return;
    const step = stepFor(ms);
    this.limit = Math.ceil(ms / step);
    let w = wheels.get(step);
    if (w === undefined) wheels.set(step, (w = new Wheel(step)));
    this.wheel = w;
    w.add(this);
  }

  stop(): void {
    if (this.wheel !== null) {
      this.wheel.delete(this);
      this.wheel = null;
    }
  }
}

/** 'close' of a watched socket: one function for all of them (a once() per socket costs a closure and a wrapper). */
function stopOnClose(this: Watched): void {
  this[kIdle]?.stop();
}

/**
 * Watches `socket` for silence of `ms` (0: not yet). Reads (reader.ts) and writes (writer.ts) on it count as
 * activity. `onTimeout` is called with `self` as `this`. The timer stops when the socket closes.
 */
export function watchIdle<T>(socket: net.Socket, ms: number, onTimeout: (this: T) => void, self?: T): IdleTimer {
  const t = new IdleTimer(onTimeout as (this: unknown) => void, self);
  const s = socket as Watched;
  s[kIdle] = t;
  if (s._handle) s._handle[kIdle] = t;
  t.set(ms);
  socket.on('close', stopOnClose);
  return t;
}

/** Activity on a socket (a no-op for a socket nobody watches). */
export function touch(socket: net.Socket): void {
  const t = (socket as Watched)[kIdle];
  if (t !== undefined) t.idle = 0;
}

/** The socket's timer, if it is watched. */
export function idleTimerOf(socket: net.Socket): IdleTimer | undefined {
  return (socket as Watched)[kIdle];
}
