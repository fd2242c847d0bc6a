/**
 * Rate limit per target (one e-mail channel, one webhook): at most one message per `intervalMs`. The first alert
 * after a quiet interval goes at once; the ones after it are held and go as one summary when the interval since the
 * last message ends. A server flapping every few seconds therefore costs its on-call engineer two messages per
 * interval at most, the second saying where things stand now.
 *
 *   alert ──► quiet for intervalMs? ── yes ──► send [alert], lastSent = now
 *                                    └─ no ──► hold; timer at lastSent + intervalMs ──► send [held…] as a summary
 *
 * At most `maxHeld` alerts are listed in a summary; beyond that they are counted. Time comes from `Date.now` and
 * `setTimeout`, so tests drive it with node:test's fake timers.
 */
import type { Alert } from './types.ts';

export interface LimiterOptions {
  intervalMs: number;
  maxHeld?: number;
}

export class AlertLimiter {
  private lastSentAt: number | undefined;
  private held: Alert[] = [];
  private omitted = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (alerts: Alert[], omitted: number) => void,
    private opts: LimiterOptions,
  ) {}

  setInterval(intervalMs: number): void {
    this.opts = { ...this.opts, intervalMs };
  }

  get heldCount(): number {
    return this.held.length + this.omitted;
  }

  push(alert: Alert): void {
    const now = Date.now();
    if (!this.timer && (this.lastSentAt === undefined || now - this.lastSentAt >= this.opts.intervalMs)) {
      this.lastSentAt = now;
      this.send([alert], 0);
      return;
    }
    if (this.held.length < (this.opts.maxHeld ?? 200)) this.held.push(alert);
    else this.omitted++;
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.lastSentAt! + this.opts.intervalMs - now));
  }

  private flush(): void {
    this.timer = undefined;
    if (!this.held.length) return;
    const [held, omitted] = [this.held, this.omitted];
    this.held = [];
    this.omitted = 0;
    this.lastSentAt = Date.now();
    this.send(held, omitted);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
