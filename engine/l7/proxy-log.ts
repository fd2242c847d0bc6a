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
let second = 0;
let inSecond = 0;
let dropped = 0;

/** Where entries go in this process (null: nowhere, the default in-process), and the cap. Returns the previous sink. */
export function setProxyLog(next: ProxyLogSink | null, perSecond = 50): ProxyLogSink | null {
  const previous = sink;
  sink = next;
  maxPerSecond = perSecond;
  return previous;
}

export function logRefusal(r: Refusal): void {
  const more = admit();
  if (more === null) return;
  const who = r.side === 'request' ? `a request from ${r.client}` : `a response from real server ${r.server ?? '?'} to ${r.client}`;
  sink!('warn', `layer 7 service ${r.service} refused ${who} with ${r.status}: ${r.reason}${more}`, r);
}

/** A client connection closed for abusing its protocol (HTTP/2 rapid reset, control frame floods): no status. */
export function logConnectionRefusal(r: Omit<Refusal, 'status' | 'side' | 'server'>): void {
  const more = admit();
  if (more === null) return;
  sink!('warn', `layer 7 service ${r.service} closed the connection of ${r.client}: ${r.reason}${more}`, { ...r, side: 'connection' });
}

/** Under the cap: the note on entries left out before ('' when none); null when this one is left out. */
function admit(): string | null {
  if (sink === null) return null;
  const now = Math.floor(Date.now() / 1000);
  if (now !== second) {
    second = now;
    inSecond = 0;
  }
  if (++inSecond > maxPerSecond) {
    dropped++;
    return null;
  }
  const more = dropped > 0 ? ` (${dropped} more refusals were not logged)` : '';
  dropped = 0;
  return more;
}
