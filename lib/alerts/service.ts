/**
 * The alert service: sources ──► dispatch ──► one rate limiter per target ──► its channel.
 *
 *   bus 'engine' health events ─► HealthTracker ─┐
 *   audit rows (polled, nudged by 'audit')  ─────┼─► dispatch ─► limiter(email) ─► SMTP
 *   audit chain check (every chainCheckMinutes) ─┤            └► limiter(webhook) ─► POST, signed
 *   certificate check (every 6 h)  ──────────────┘
 *
 * Alerts are best effort: a channel that fails is logged and counted (status), and the alert is not retried (the
 * syslog forwarder is the loss-free path for the audit trail and health transitions). Sources that read the
 * database start from now when the service starts: a console restart does not send old alerts again.
 */
import { bus, type ConsoleEvent } from '../bus.ts';
import { log } from '../log.ts';
import type { HealthTransitionEvent } from '../../engine/api-types.ts';
import { emailChannel, webhookChannel, type Channel } from './channels.ts';
import { AlertLimiter } from './limiter.ts';
import type { AlertSettings } from './settings.ts';
import { chainAlert, expiringCertificates, failedApplies, HealthTracker, newestAuditId } from './sources.ts';
import { messageOf, type Alert } from './types.ts';

const APPLY_POLL_MS = 10_000;
const CERT_CHECK_MS = 6 * 60 * 60 * 1000;

interface Target {
  channel: Channel;
  limiter: AlertLimiter;
  sent: number;
  failed: number;
  lastError: string | null;
}

export interface AlertServiceOptions {
  settings: AlertSettings;
  /** false: no timers and no bus (tests call the checks themselves). */
  isScheduled?: boolean;
}

export class AlertService {
  private settings: AlertSettings;
  private targets: Target[] = [];
  private readonly tracker = new HealthTracker();
  private auditCursor: number | undefined;
  private isChainBroken = false;
  private readonly certAlertedOn = new Map<string, string>();
  private timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void = () => {};
  private readonly inFlight = new Set<Promise<void>>();

  constructor(opts: AlertServiceOptions) {
    this.settings = opts.settings;
    this.buildTargets();
    if (opts.isScheduled !== false) {
      const onEvent = (e: ConsoleEvent) => {
        if (e.type === 'engine' && (e.event as { type?: string })?.type === 'health') this.onHealth(e.event as HealthTransitionEvent);
        if (e.type === 'audit' && e.outcome === 'failed') void this.checkApplies();
      };
      bus().on('event', onEvent);
      this.unsubscribe = () => bus().off('event', onEvent);
      this.schedule();
    }
  }

  private schedule(): void {
    for (const t of this.timers) clearInterval(t);
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const t = setInterval(() => void fn().catch((e) => log('warn', 'alert check failed', { err: (e as Error).message })), ms);
      t.unref();
      this.timers.push(t);
    };
    this.timers = [];
    every(APPLY_POLL_MS, () => this.checkApplies());
    // The chain walk and the certificate query cost something; while alerts are off they are skipped.
    every(this.settings.chainCheckMinutes * 60_000, async () => this.settings.isEnabled && (await this.checkChain()));
    every(CERT_CHECK_MS, async () => this.settings.isEnabled && (await this.checkCertificates()));
    void this.checkApplies()
      .then(() => this.checkCertificates())
      .catch(() => {});
  }

  private buildTargets(): void {
    for (const t of this.targets) t.limiter.close();
    const s = this.settings;
    const channels: Channel[] = [];
    if (s.email?.isEnabled) channels.push(emailChannel(s.email));
    if (s.webhook?.isEnabled) channels.push(webhookChannel(s.webhook));
    this.targets = channels.map((channel) => {
      const t: Target = { channel, sent: 0, failed: 0, lastError: null, limiter: undefined as unknown as AlertLimiter };
      t.limiter = new AlertLimiter((alerts, omitted) => this.deliver(t, alerts, omitted), { intervalMs: s.minIntervalMinutes * 60_000 });
      return t;
    });
  }

  private deliver(t: Target, alerts: Alert[], omitted: number): void {
    const p = t.channel
      .send(messageOf(alerts, omitted))
      .then(() => void t.sent++)
      .catch((e: Error) => {
        t.failed++;
        t.lastError = `${(e as NodeJS.ErrnoException).code ?? 'ERROR'}: ${e.message}`;
        log('warn', 'alert not delivered', { channel: t.channel.name, err: t.lastError, alerts: alerts.length + omitted });
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Resolves when every message handed to a channel so far has been sent or has failed (tests). */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  dispatch(alert: Alert): void {
    if (!this.settings.isEnabled) return;
    for (const t of this.targets) t.limiter.push(alert);
  }

  onHealth(e: HealthTransitionEvent): void {
    for (const a of this.tracker.onTransition(e)) this.dispatch(a);
  }

  async checkApplies(): Promise<void> {
    if (this.auditCursor === undefined) {
      this.auditCursor = await newestAuditId();
      return;
    }
    const r = await failedApplies(this.auditCursor);
    this.auditCursor = r.lastId;
    for (const a of r.alerts) this.dispatch(a);
  }

  async checkChain(now = new Date()): Promise<void> {
    const a = await chainAlert(now);
    if (a && !this.isChainBroken) this.dispatch(a);
    this.isChainBroken = !!a;
  }

  async checkCertificates(now = new Date()): Promise<void> {
    const day = now.toISOString().slice(0, 10);
    for (const a of await expiringCertificates(now, this.settings.certificateWarnDays)) {
      if (this.certAlertedOn.get(a.subject) === day) continue;
      this.certAlertedOn.set(a.subject, day);
      this.dispatch(a);
    }
  }

  sendTest(actor: string): void {
    const at = new Date().toISOString();
    // A test goes straight to each channel, past the rate limit: whoever asked wants to see it now.
    for (const t of this.targets)
      this.deliver(
        t,
        [
          {
            kind: 'test',
            at,
            subject: 'test',
            severity: 'info',
            title: `Test alert from the Fulcrum console (asked for by ${actor})`,
            text: `This is a test. If you can read it, alerts reach you by ${t.channel.name}.`,
          },
        ],
        0,
      );
  }

  reconfigure(settings: AlertSettings): void {
    const isNewInterval = settings.chainCheckMinutes !== this.settings.chainCheckMinutes;
    this.settings = settings;
    this.buildTargets();
    if (isNewInterval && this.timers.length) this.schedule();
  }

  status() {
    return {
      isEnabled: this.settings.isEnabled,
      targets: this.targets.map((t) => ({ channel: t.channel.name, sent: t.sent, failed: t.failed, held: t.limiter.heldCount, lastError: t.lastError })),
    };
  }

  close(): void {
    for (const t of this.timers) clearInterval(t);
    for (const t of this.targets) t.limiter.close();
    this.unsubscribe();
  }
}
