/**
 * The proxy's side of the access log (engine/log/access-log.ts): where this process's entries go, and the one function
 * both exchanges (HTTP/1.1 http-proxy.ts, HTTP/2 h2-exchange.ts) call when an exchange ends.
 *
 * A cluster worker writes its own file (`<data dir>/logs/access-<slot>.log`, the slot given by the primary in
 * FULCRUM_L7_ACCESS_LOG; worker.ts opens it): no entry crosses the IPC channel, which would cost a second
 * serialisation per request. In-process (`workers: 0`) entries go to the log given to `setAccessLog` (tests), and
 * nowhere when none was given.
 *
 * Cost: an exchange keeps four performance.now() marks and two byte counts; an entry the sample rate leaves out is
 * decided before any object is made. The termination codes (HAProxy's, see access-log.ts) come from where the
 * exchange ended:
 *
 *   where it ended                                   code
 *   ───────────────────────────────────────────────  ────
 *   the response ended                               --
 *   a redirect or other answer of the proxy's rules  LR
 *   the request refused (framing, size)              PR     (a body too slow: cD; the head too slow: cR)
 *   the response refused before any of it went out  PH     (after: PD)
 *   no server / queue full / queue timeout           SC / sQ / sQ
 *   connect refused / connect timeout                SC / sC
 *   server closed / timed out before its response    SH / sH
 *   client closed, or its idle timeout              C? / c? (? = the step: Q queue, C connect, H waiting, D data)
 */
import type { AccessEntry, AccessLog } from '../log/access-log.ts';
import type { RequestHead } from './http-codec.ts';
import type { Choice } from './dispatch.ts';
import type { ServiceRuntime } from './service.ts';

let sink: AccessLog | null = null;

/** Where this process's entries go (null: nowhere). Returns the previous log. */
export function setAccessLog(next: AccessLog | null): AccessLog | null {
  const previous = sink;
  sink = next;
  return previous;
}

/** The marks of one exchange (performance.now(); 0: not reached). */
export interface AccessMarks {
  /** The first byte of the request head. */
  headAt: number;
  /** The whole head was there. */
  startAt: number;
  /** A server was chosen (after the queue). */
  chosenAt: number;
  /** The request head went to the server (connected). */
  sentAt: number;
  /** The response head came. */
  resAt: number;
  /** Attempts after the first (a connect that failed, retried on another server). */
  retries?: number;
}

/**
 * The client field ("10.1.2.3:51514", "[2001:db8::1]:443") by port: a connection's address and port are the same for
 * all its requests, so the text is made once a connection rather than once a request. A port's text is for the
 * address it was made for and is made again for another. The tables are made at the first entry, one slot a port
 * (256 KiB each), as a sparse array's lookup by number hashes the number, which cost as much as the text saved.
 */
const PORTS = 65536;
let addressByPort: (string | null)[] = [];
let clientByPort: string[] = [];
function clientText(address: string, clientPort: number | undefined): string {
  const port = clientPort ?? 0;
  if (addressByPort[port] === address) return clientByPort[port];
  const text = `${address.includes(':') ? `[${address}]` : address}:${port}`;
  if (Number.isInteger(port) && port >= 0 && port < PORTS) {
    if (clientByPort.length === 0) {
      addressByPort = Array.from({ length: PORTS }, () => null);
      clientByPort = Array.from({ length: PORTS }, () => '');
    }
    addressByPort[port] = address;
    clientByPort[port] = text;
  }
  return text;
}

const NOT_REACHED = -1;
const ms = (from: number, to: number) => (from === 0 || to === 0 ? NOT_REACHED : Math.round((to - from) * 1000) / 1000);

/**
 * Records one ended exchange. `status`: what the client got (-1: nothing); `server`: the one that served (undefined:
 * none). Normal exchanges are kept by the service's sample rate, abnormal ones always (access-log.ts).
 */
export function logAccess(
  rt: ServiceRuntime,
  client: string,
  clientPort: number | undefined,
  head: RequestHead | null,
  server: string | undefined,
  status: number,
  bytesIn: number,
  bytesOut: number,
  m: AccessMarks,
  termination: string,
): void {
  const log = sink;
  if (log === null) return;
  // A plan made before the field existed (a replacement worker given an old plan) has none: every exchange.
  const rate = rt.plan.layer7.accessLog?.sampleRate ?? 1;
  const isNormal = termination === '--' && status < 500;
  if (isNormal && rate < 1 && !log.draw(rate)) return log.skip();
  const end = performance.now();
  const entry: AccessEntry = {
    client: clientText(client, clientPort),
    service: rt.plan.name,
    server,
    method: head?.method ?? '<BADREQ>',
    path: head?.target ?? '-',
    status,
    bytesIn,
    bytesOut,
    timings: {
      requestMs: ms(m.headAt, m.startAt),
      queueMs: ms(m.startAt, m.chosenAt),
      connectMs: ms(m.chosenAt, m.sentAt),
      responseMs: ms(m.sentAt, m.resAt),
      totalMs: ms(m.headAt, end),
    },
    termination,
    retries: m.retries ?? 0,
  };
  log.record(entry, 1);
}

/** The code of an exchange no server could be chosen for (exchange-rules.ts choiceFailure's cases). */
export function choiceTermination(error: Extract<Choice, { error: string }>['error'], lastError: Error | null): string {
  if (error === 'none' && lastError !== null) return (lastError as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'sC' : 'SC';
  return error === 'none' ? 'SC' : 'sQ';
}

/** The code of an exchange whose server failed before its response started (upstreamFailure's cases). */
export function upstreamTermination(err: Error, isConnect: boolean): string {
  return ((err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 's' : 'S') + (isConnect ? 'C' : 'H');
}

/** The step letter of an exchange phase, for a client that closed or timed out (HAProxy's second character). */
export function stepOf(phase: string): string {
  return phase === 'choose' ? 'Q' : phase === 'connect' ? 'C' : phase === 'wait' ? 'H' : 'D';
}
