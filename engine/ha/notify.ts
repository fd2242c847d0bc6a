/**
 * keepalived's notify FIFO: every VRRP state change, in order, as one line (keepalived.conf(5), vrrp_notify_fifo):
 *
 *   INSTANCE "fulcrum_eth0" MASTER 150        type, name in quotes, state, priority
 *   GROUP "fulcrum" BACKUP                    a sync group (no priority)
 *   INSTANCE "fulcrum_eth0" MASTER_RX_LOWER_PRI 150   (a master heard a lower priority; not a state: ignored)
 *
 * States: MASTER, BACKUP, FAULT, STOP (keepalived stopping), DELETED (an instance removed by a reload).
 *
 * The engine creates the FIFO (mkfifo, mode 0600) before keepalived starts and holds it open read-write: opening a
 * FIFO read-only blocks until a writer comes, and reading returns end-of-file each time the writer closes; a
 * read-write descriptor does neither, so the reader survives keepalived's restarts and reloads. It is read through
 * a non-blocking pipe socket on the event loop, not the thread pool.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { EngineError } from '../errors.ts';

export const VRRP_STATES = ['MASTER', 'BACKUP', 'FAULT', 'STOP', 'DELETED'] as const;
export type VrrpState = (typeof VRRP_STATES)[number];

export interface NotifyLine {
  kind: 'INSTANCE' | 'GROUP';
  name: string;
  state: VrrpState;
  priority?: number;
}

const LINE = /^(INSTANCE|GROUP) "([^"]+)" ([A-Z_]+)(?: (\d+))?$/;

/** One FIFO line → a state change, or undefined for anything else (priority notices, future line kinds). */
export function parseNotifyLine(line: string): NotifyLine | undefined {
  const m = LINE.exec(line.trim());
  if (!m || !(VRRP_STATES as readonly string[]).includes(m[3])) return undefined;
  return { kind: m[1] as NotifyLine['kind'], name: m[2], state: m[3] as VrrpState, ...(m[4] !== undefined ? { priority: Number(m[4]) } : {}) };
}

export class NotifyFifo {
  private socket: net.Socket | undefined;
  private buffer = '';

  constructor(
    readonly path: string,
    private readonly onLine: (line: NotifyLine) => void,
    private readonly onOther: (text: string) => void = () => undefined,
  ) {}

  /** Creates the FIFO if it is not there (a plain file in its place is replaced) and starts reading. Idempotent. */
  open(): void {
    if (this.socket) return;
    try {
      const st = fs.statSync(this.path, { throwIfNoEntry: false });
      if (st && !st.isFIFO()) fs.rmSync(this.path);
      if (!st || !st.isFIFO()) execFileSync('mkfifo', ['-m', '600', this.path]);
      const fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
      this.socket = new net.Socket({ fd, readable: true, writable: false });
    } catch (e) {
      throw new EngineError('HA_FIFO_FAILED', { path: this.path, reason: (e as Error).message });
    }
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => this.take(chunk));
    // A read error on a FIFO we hold open is not expected; dropping the socket lets the next apply open it again.
    this.socket.on('error', () => this.close());
    // The daemon's event loop must not stay alive for this alone.
    this.socket.unref();
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const parsed = parseNotifyLine(line);
      if (parsed) this.onLine(parsed);
      else if (line.trim()) this.onOther(line);
    }
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.buffer = '';
  }
}
