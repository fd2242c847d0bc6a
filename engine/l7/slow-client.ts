/**
 * Slow-client protection for request bodies: a minimum transfer rate, judged over fixed windows while the body is
 * being forwarded. An idle timeout alone lets a client that sends one byte just inside every timeout hold a
 * connection — and the real server's worker reading the body — for as long as it likes.
 *
 *   during the window the proxy   the client sent                         verdict
 *   held the body back            anything                                not judged: the real server was slow
 *   read freely                   at least bytesPerSecond × the window    fine, next window
 *   read freely                   less, and the body is not done          too slow: 408 (H1_BODY_TOO_SLOW), logged
 *
 * The first window starts when the body may flow (the server is connected and has the head), or, for a request
 * that waits for `100 Continue`, at its first body byte. Heads have their own whole-head deadline
 * (timeouts.httpRequestMs, http-proxy.ts). A body that ends stops the guard, so only a client still owing bytes
 * is judged. One interval per request with a body; requests without one never get here.
 */
import type { Layer7Options } from '../config/index.ts';
import type { RequestHead } from './http-codec.ts';

export type WindowVerdict = 'ok' | 'held' | 'slow';

/** The verdict on one window: `bytes` came, `need` were due, `wasHeld` if the proxy paused reading in it. */
export function judgeWindow(bytes: number, need: number, wasHeld: boolean): WindowVerdict {
  if (wasHeld) return 'held';
  return bytes >= need ? 'ok' : 'slow';
}

export class BodyRateGuard {
  /** Bytes due per window. */
  readonly need: number;
  readonly windowMs: number;
  private bytes = 0;
  private wasHeld = false;
  private timer: NodeJS.Timeout | null = null;
  private isStopped = false;
  private readonly isHeldNow: () => boolean;
  private readonly onSlow: () => void;

  /** `isHeldNow`: whether the proxy has reading paused right now; `onSlow`: called once, when a window fails. */
  constructor(bytesPerSecond: number, windowMs: number, isHeldNow: () => boolean, onSlow: () => void) {
    this.need = Math.ceil((bytesPerSecond * windowMs) / 1000);
    this.windowMs = windowMs;
    this.isHeldNow = isHeldNow;
    this.onSlow = onSlow;
  }

  /** Starts the windows (once; not after stop). */
  start(): void {
    if (this.timer !== null || this.isStopped) return;
    this.timer = setInterval(() => this.tick(), this.windowMs);
    this.timer.unref();
  }

  /** Body bytes that came from the client; the first starts the windows if they have not started. */
  add(n: number): void {
    this.bytes += n;
    if (this.timer === null) this.start();
  }

  /** The proxy paused reading the client (the real server cannot take more): this window is not the client's. */
  hold(): void {
    this.wasHeld = true;
  }

  /** Ends one window: judges it and starts the next. The interval calls it; tests may too. */
  tick(): void {
    const verdict = judgeWindow(this.bytes, this.need, this.wasHeld || this.isHeldNow());
    this.bytes = 0;
    // Still paused as the window closes: the next one starts held as well.
    this.wasHeld = this.isHeldNow();
    if (verdict !== 'slow') return;
    this.stop();
    this.onSlow();
  }

  stop(): void {
    this.isStopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * The guard for a request body that may flow now, started unless the request waits for 100 Continue (then its first
 * body byte starts it); null when the service sets no minimum rate.
 */
export function bodyRateGuard(
  l7: Pick<Layer7Options, 'limits' | 'timeouts'>,
  head: Pick<RequestHead, 'get'>,
  isHeldNow: () => boolean,
  onSlow: () => void,
): BodyRateGuard | null {
  const rate = l7.limits.minBodyBytesPerSecond;
  if (rate === 0) return null;
  const guard = new BodyRateGuard(rate, l7.timeouts.bodyRateWindowMs, isHeldNow, onSlow);
  if (head.get('expect')?.toLowerCase() !== '100-continue') guard.start();
  return guard;
}
