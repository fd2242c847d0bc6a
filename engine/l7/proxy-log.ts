/**
 * The proxy's log of refused messages. In a cluster worker an entry goes to the primary as a 'log' message
 * (messages.ts), which hands it to the data plane's `log` option like the workers' other entries; in-process
 * (workers: 0) it goes to the sink given to `setProxyLog` (tests), and nowhere when none was given.
 *
 * A client can make refusals as fast as it can send bytes, so entries are capped (50 a second per worker); the
 * first entry after a capped second says how many were left out. Counters (stats.ts) still count every answer.
 */
import type { FromWorker } from './messages.ts';

export type ProxyLogSink = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void;

export interface Refusal {
  /** Refusal code (http-refusals.ts). */
  code: string;
  status: number;
  reason: string;
  service: string;
  client: string;
  /** 'request': the client's message was refused; 'response': the real server's was. */
  side: 'request' | 'response';
  server?: string;
}

let maxPerSecond = 50;

const toPrimary: ProxyLogSink = (level, msg, fields) => {
  if (process.env.FULCRUM_L7_WORKER === '1' && process.connected) process.send!({ t: 'log', level, msg, fields } satisfies FromWorker);
};

let sink: ProxyLogSink | null = process.env.FULCRUM_L7_WORKER === '1' ? toPrimary : null;

/** Entries of one kind within the current second; the cap is per kind, so a flood of one never hides the other. */
class Cap {
  private second = 0;
  private inSecond = 0;
  private dropped = 0;
  constructor(private readonly noun: string) {}

  /** Under the cap: the note on entries left out before ('' when none); null when this one is left out. */
  admit(): string | null {
    if (sink === null) return null;
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.second) {
      this.second = now;
      this.inSecond = 0;
    }
    if (++this.inSecond > maxPerSecond) {
      this.dropped++;
      return null;
    }
    const more = this.dropped > 0 ? ` (${this.dropped} more ${this.noun} were not logged)` : '';
    this.dropped = 0;
    return more;
  }
}
const refusals = new Cap('refusals');
const resets = new Cap('stream resets');

/** Where entries go in this process (null: nowhere, the default in-process), and the cap. Returns the previous sink. */
export function setProxyLog(next: ProxyLogSink | null, perSecond = 50): ProxyLogSink | null {
  const previous = sink;
  sink = next;
  maxPerSecond = perSecond;
  return previous;
}

export function logRefusal(r: Refusal): void {
  const more = refusals.admit();
  if (more === null) return;
  const who = r.side === 'request' ? `a request from ${r.client}` : `a response from real server ${r.server ?? '?'} to ${r.client}`;
  // -1: the client got no status, only an HTTP/2 stream reset.
  const answer = r.status === -1 ? 'a stream reset' : r.status;
  sink!('warn', `layer 7 service ${r.service} refused ${who} with ${answer}: ${r.reason}${more}`, r);
}

/** A client connection closed for abusing its protocol (HTTP/2 rapid reset, control frame floods): no status. */
export function logConnectionRefusal(r: Omit<Refusal, 'status' | 'side' | 'server'>): void {
  const more = refusals.admit();
  if (more === null) return;
  sink!('warn', `layer 7 service ${r.service} closed the connection of ${r.client}: ${r.reason}${more}`, { ...r, side: 'connection' });
}

/** An HTTP/2 stream reset before its exchange completed (h2-resets.ts says who reset it and why). */
export interface StreamReset {
  service: string;
  client: string;
  stream: number;
  /** Who sent the RST_STREAM: the client, or the proxy (its own decision, or nghttp2's). */
  by: 'client' | 'proxy';
  /** The RST_STREAM error code's name (RFC 9113 §7). */
  error: string;
  reason: string;
  /** The access log's termination state and status of the same exchange. */
  termination: string;
  status: number;
}

/** A client's reset is ordinary (a browser cancelling): info; the proxy's is a refusal of sorts: warn. */
export function logStreamReset(r: StreamReset): void {
  const more = resets.admit();
  if (more === null) return;
  const level = r.by === 'client' ? 'info' : 'warn';
  sink!(level, `layer 7 service ${r.service}: HTTP/2 stream ${r.stream} of ${r.client} ended ${r.termination} (status ${r.status}): ${r.reason}${more}`, r);
}
