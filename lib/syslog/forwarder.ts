/**
 * Syslog out: audit events, health transitions and (when asked) layer 7 access log lines, as RFC 5424 messages, to
 * one syslog server.
 *
 *   AuditEvent / HealthTransition rows ──(id > cursor)──► format ──► DiskQueue (data dir) ──► transport ──► server
 *        ▲ nudged by the bus ('audit', engine 'health' events) and polled every `pollMs` (rows written alone)
 *   engine's access log files ──GET /v1/logs?cursor=…──┘
 *
 * Access lines: the engine's workers write them to their files (engine/log/access-log.ts), already sampled by each
 * service's layer7.accessLog.sampleRate (errors and aborts always kept), so what is forwarded is what the file has,
 * no second sampling. Each pump asks the engine for the lines past its access cursor (by file and byte offset:
 * engine/log/read.ts), oldest first, a page of 1,000 at a time, and queues them like rows; nothing crosses from the
 * proxy's hot path. The engine being away leaves the lines in its files for the next pump (as long as its retention
 * keeps them: 5 × 10 MB a worker). Turned on, it starts at the files' current end; turned off, the cursor is
 * forgotten, so turning it on again does not send what was written meanwhile.
 *
 * The tables are the source: the forwarder reads rows past its cursors (one per table, kept in syslog-cursor.json and
 * recovered from the queue's newest records after a crash), appends their messages to the queue, saves the cursors,
 * then drains the queue in order, acknowledging each record only after the transport took it. A server that is down
 * leaves the records queued; they are retried with backoff (1 s doubling to 30 s) and go out in order, once each.
 * When first turned on the cursors start at the newest rows: history before that is not sent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { db } from '../db.ts';
import { bus, type ConsoleEvent } from '../bus.ts';
import { log } from '../log.ts';
import { engine } from '../engine.ts';
import { laterCursor } from '../../engine/log/read.ts';
import type { LogsResponse } from '../../engine/client/index.ts';
import { accessMessage, auditMessage, formatRfc5424, healthMessage, MSGID, type AccessEntryLike } from './format.ts';
import { DiskQueue } from './queue.ts';
import { createTransport, type Transport } from './transport.ts';
import type { SyslogSettings } from './settings.ts';

interface Cursors {
  audit: number;
  health: number;
  /** The engine's access log cursor (engine/log/read.ts); absent while access logs are not sent. */
  access?: string;
}

export interface SyslogStatus {
  isEnabled: boolean;
  queued: number;
  dropped: number;
  sent: number;
  isConnected: boolean;
  lastError: string | null;
  lastErrorAt: string | null;
}

export interface ForwarderOptions {
  dataDir: string;
  settings: SyslogSettings;
  hostname?: string;
  /** 0: no timer (tests call pump). */
  pollMs?: number;
  /** Rows read per table per pump. */
  batch?: number;
  /** Reads the engine's logs (default: the engine's GET /v1/logs through its client). */
  readLogs?: (query: Record<string, string>) => Promise<LogsResponse>;
}

const MAX_BACKOFF_MS = 30_000;
/** Access lines asked for at once (the engine's limit), and pages per pump (the rest waits for the next pump). */
const ACCESS_PAGE = 1000;
const ACCESS_PAGES_PER_PUMP = 50;

/** The queue record that carries the access cursor reached (the last of a page's records) starts with this. */
const ACCESS_SRC = 'access=';

export class SyslogForwarder {
  private settings: SyslogSettings;
  private readonly queue: DiskQueue;
  private readonly cursorFile: string;
  private cursors?: Cursors;
  private transport?: Transport;
  private running?: Promise<void>;
  private isAgain = false;
  private timer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private backoffMs = 1000;
  private isFailing = false;
  private isEngineFailing = false;
  private readonly hostname: string;
  private readonly unsubscribe: () => void;
  private stats = { sent: 0, lastError: null as string | null, lastErrorAt: null as string | null };

  constructor(private readonly opts: ForwarderOptions) {
    this.settings = opts.settings;
    this.hostname = opts.hostname ?? os.hostname();
    this.queue = new DiskQueue({ dir: opts.dataDir, maxMessages: opts.settings.queueMaxMessages });
    this.cursorFile = path.join(opts.dataDir, 'syslog-cursor.json');
    const onEvent = (e: ConsoleEvent) => {
      if (e.type === 'audit' || (e.type === 'engine' && (e.event as { type?: string })?.type === 'health')) this.kick();
    };
    bus().on('event', onEvent);
    this.unsubscribe = () => bus().off('event', onEvent);
    if (opts.pollMs) {
      this.timer = setInterval(() => this.kick(), opts.pollMs);
      this.timer.unref();
    }
  }

  status(): SyslogStatus {
    return {
      isEnabled: this.settings.isEnabled,
      queued: this.queue.size,
      dropped: this.queue.dropped,
      isConnected: !!this.transport?.isConnected,
      ...this.stats,
    };
  }

  /** New settings take effect at once: the connection is made again to wherever they point. */
  reconfigure(settings: SyslogSettings): void {
    if (!settings.isEnabled || !settings.sendAccessLogs) this.forgetAccessCursor();
    this.settings = settings;
    this.queue.maxMessages = settings.queueMaxMessages;
    this.transport?.close();
    this.transport = undefined;
    this.backoffMs = 1000;
    this.kick();
  }

  /** Starts a pump unless one is running (then it runs once more after it). */
  kick(): void {
    if (this.running) {
      this.isAgain = true;
      return;
    }
    this.running = this.pump().finally(() => {
      this.running = undefined;
      if (this.isAgain) {
        this.isAgain = false;
        this.kick();
      }
    });
  }

  /** Enqueues the rows written since the last pump, then sends what is queued. Never throws. */
  async pump(): Promise<void> {
    if (!this.settings.isEnabled) return;
    try {
      await this.enqueueNewRows();
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    await this.enqueueAccessLines();
    await this.drain();
  }

  /** Resolves when no pump is running (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Queues a test message (the settings page's "send a test message"). */
  sendTest(actor: string): void {
    this.queue.append([
      {
        src: 'test:0',
        msg: formatRfc5424({
          facility: this.settings.facility,
          severity: 'notice',
          at: new Date(),
          hostname: this.hostname,
          kind: 'test',
          data: { actor },
          text: `test message from the Fulcrum console, asked for by ${actor}`,
        }),
      },
    ]);
    this.kick();
  }

  /**
   * Queues access log entries, only when `sendAccessLogs` is on (off by default: there can be thousands a second);
   * the pump gives it the engine's lines. `cursor`: the engine's access cursor after them, saved with them (the last
   * record carries it too, for a crash between the two). Answers how many were queued.
   */
  forwardAccess(entries: readonly { at: Date; entry: AccessEntryLike }[], cursor?: string): number {
    if (!this.settings.isEnabled || !this.settings.sendAccessLogs || !entries.length) return 0;
    const base = { facility: this.settings.facility, hostname: this.hostname };
    const droppedBefore = this.queue.dropped;
    this.queue.append(
      entries.map((x, i) => ({
        src: cursor !== undefined && i === entries.length - 1 ? ACCESS_SRC + cursor : 'access',
        msg: formatRfc5424(accessMessage(x.entry, x.at, base)),
      })),
    );
    if (this.queue.dropped > droppedBefore)
      log('warn', 'syslog queue full: the oldest messages were dropped', { dropped: this.queue.dropped - droppedBefore, limit: this.queue.maxMessages });
    this.kick();
    return entries.length;
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.unsubscribe();
    this.transport?.close();
  }

  private async loadCursors(): Promise<Cursors> {
    if (this.cursors) return this.cursors;
    let c: Cursors | undefined;
    if (fs.existsSync(this.cursorFile)) c = JSON.parse(fs.readFileSync(this.cursorFile, 'utf8')) as Cursors;
    else {
      // First time on: start at the newest rows.
      const [a, h] = await Promise.all([db().auditEvent.aggregate({ _max: { id: true } }), db().healthTransition.aggregate({ _max: { id: true } })]);
      c = { audit: a._max.id ?? 0, health: h._max.id ?? 0 };
    }
    // A crash after appending and before saving the cursors: the queue knows better.
    for (const src of this.queue.sources()) {
      if (src.startsWith(ACCESS_SRC)) {
        // Only while access logs were on when the cursors were saved (the first page, from the end, saves one at
        // once): a record from before they were turned off must not bring its cursor back.
        if (c.access !== undefined) c.access = laterCursor(c.access, src.slice(ACCESS_SRC.length));
        continue;
      }
      const [kind, id] = src.split(':');
      if (kind === 'audit' || kind === 'health') c[kind] = Math.max(c[kind], Number(id));
    }
    this.saveCursors(c);
    return (this.cursors = c);
  }

  private saveCursors(c: Cursors): void {
    const tmp = `${this.cursorFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(c), { mode: 0o600 });
    fs.renameSync(tmp, this.cursorFile);
  }

  private async enqueueNewRows(): Promise<void> {
    const c = { ...(await this.loadCursors()) };
    const take = this.opts.batch ?? 500;
    const base = { facility: this.settings.facility, hostname: this.hostname };
    for (;;) {
      const [audit, health] = await Promise.all([
        db().auditEvent.findMany({ where: { id: { gt: c.audit } }, orderBy: { id: 'asc' }, take }),
        db().healthTransition.findMany({ where: { id: { gt: c.health } }, orderBy: { id: 'asc' }, take }),
      ]);
      if (!audit.length && !health.length) return;
      // Both kinds in time order, so a collector reading one stream sees them as they happened.
      const items = [
        ...(this.settings.sendAuditEvents ? audit.map((r) => ({ at: r.at.getTime(), src: `audit:${r.id}`, msg: formatRfc5424(auditMessage(r, base)) })) : []),
        ...(this.settings.sendHealthTransitions
          ? health.map((r) => ({ at: r.at.getTime(), src: `health:${r.id}`, msg: formatRfc5424(healthMessage(r, base)) }))
          : []),
      ].sort((x, y) => x.at - y.at);
      if (audit.length) c.audit = audit[audit.length - 1].id;
      if (health.length) c.health = health[health.length - 1].id;
      const droppedBefore = this.queue.dropped;
      this.queue.append(items);
      this.saveCursors(c);
      this.cursors = { ...c };
      if (this.queue.dropped > droppedBefore)
        log('warn', 'syslog queue full: the oldest messages were dropped', { dropped: this.queue.dropped - droppedBefore, limit: this.queue.maxMessages });
      if (audit.length < take && health.length < take) return;
    }
  }

  /**
   * Queues the engine's access lines past the cursor (from the files' end the first time), page by page. An engine
   * that cannot be asked is said once, in the log and the status, and asked again at the next pump: its files wait.
   */
  private async enqueueAccessLines(): Promise<void> {
    if (!this.settings.sendAccessLogs) return;
    const readLogs = this.opts.readLogs ?? ((q: Record<string, string>) => engine().logs(q));
    try {
      let cursor = (await this.loadCursors()).access ?? 'end';
      for (let page = 0; page < ACCESS_PAGES_PER_PUMP; page++) {
        const r = await readLogs({ kind: 'access', cursor, limit: String(ACCESS_PAGE) });
        if (r.cursor === undefined) throw new Error('the engine answered without a cursor: it predates access log forwarding; restart it');
        const entries = r.lines.flatMap((l) => {
          const entry = asAccessEntry(l);
          return entry ? [{ at: new Date(l.time), entry }] : [];
        });
        this.forwardAccess(entries, r.cursor);
        cursor = r.cursor;
        this.cursors = { ...this.cursors!, access: cursor };
        this.saveCursors(this.cursors);
        if (!r.isTruncated) break;
      }
      this.isEngineFailing = false;
    } catch (e) {
      if (!this.isEngineFailing)
        log('warn', 'access log lines cannot be read from the engine; they wait in its files for the next try', { err: (e as Error).message });
      this.isEngineFailing = true;
      this.stats.lastError = `ENGINE: access log lines cannot be read (${(e as Error).message})`;
      this.stats.lastErrorAt = new Date().toISOString();
    }
  }

  /** Access logs turned off: the next turn-on starts at the files' end, not where this one stopped. */
  private forgetAccessCursor(): void {
    if (this.cursors) this.cursors = { audit: this.cursors.audit, health: this.cursors.health };
    // (A record in the queue still naming the old cursor is not taken back on load: see loadCursors.)
    if (!fs.existsSync(this.cursorFile)) return;
    const c = JSON.parse(fs.readFileSync(this.cursorFile, 'utf8')) as Cursors;
    if (c.access === undefined) return;
    delete c.access;
    this.saveCursors(c);
  }

  private async drain(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.transport ??= createTransport(this.settings);
    for (;;) {
      const records = this.queue.peek(200);
      if (!records.length) return;
      for (const r of records) {
        try {
          await this.transport.send(r.msg);
        } catch (e) {
          this.fail(e as Error);
          return;
        }
        this.queue.ack(r.seq);
        this.stats.sent++;
        this.backoffMs = 1000;
        this.isFailing = false;
      }
    }
  }

  private fail(e: Error): void {
    const isFirst = !this.isFailing;
    this.isFailing = true;
    this.stats.lastError = `${(e as NodeJS.ErrnoException).code ?? 'ERROR'}: ${e.message}`;
    this.stats.lastErrorAt = new Date().toISOString();
    if (isFirst) log('warn', 'syslog server not reachable; messages stay queued', { err: this.stats.lastError, queued: this.queue.size });
    this.transport?.close();
    this.transport = undefined;
    this.retryTimer = setTimeout(() => this.kick(), this.backoffMs);
    this.retryTimer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }
}

/** A line the engine read from an access log, if it has the fields of one (a line of another shape is skipped). */
function asAccessEntry(l: Record<string, unknown>): AccessEntryLike | undefined {
  const t = l.timings as Record<string, unknown> | undefined;
  const isText = (k: string) => typeof l[k] === 'string';
  const isNumber = (v: unknown) => typeof v === 'number';
  if (!['client', 'service', 'method', 'path', 'termination'].every(isText) || !['status', 'bytesIn', 'bytesOut'].every((k) => isNumber(l[k])))
    return undefined;
  if (!t || !['requestMs', 'queueMs', 'connectMs', 'responseMs', 'totalMs'].every((k) => isNumber(t[k]))) return undefined;
  return l as unknown as AccessEntryLike;
}

export { MSGID };
