/**
 * How an HTTP/2 stream that was reset is logged, the way HAProxy logs it: an access log entry with a termination
 * state (first letter who ended it — C the client, P the proxy; second the step, as for HTTP/1.1: R the request, Q
 * the queue, C the connect, H waiting for the response head, D data) and the status the client actually got (-1 when
 * it got none but the reset), plus a proxy log entry with the reason: the RST_STREAM's error code and, for a reset
 * of the proxy's, why.
 *
 * Who reset a stream is not something node:http2 says (a stream's rstCode is the code either way), so h2-tap.ts,
 * which sees every frame, notes the client's RST_STREAM frames and tells of the ones going out. A stream nghttp2
 * resets before it is ever announced (an upper-case field name, too many fields, a stream over the concurrency
 * limit) is known only from its outgoing RST_STREAM.
 */
import { logAccess } from './access.ts';
import { logStreamReset } from './proxy-log.ts';
import type { ServiceRuntime } from './service.ts';

/** RFC 9113 §7. */
const NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

export function errorName(code: number): string {
  return NAMES[code] ?? `0x${code.toString(16)}`;
}

/** A stream closed under an exchange: who reset it, or null when nobody did (it ended, or the connection went). */
export interface ResetCause {
  by: 'client' | 'proxy';
  error: string;
  reason: string;
}

/**
 * `clientCode`: the RST_STREAM the client sent for the stream (h2-tap.ts), if any; `rstCode`: node:http2's code of the
 * closed stream. A code other than NO_ERROR that the client did not send is the proxy's (nghttp2's own checks, or a
 * reset the exchange made).
 */
export function resetCause(clientCode: number | undefined, rstCode: number | undefined): ResetCause | null {
  if (clientCode !== undefined) {
    const error = errorName(clientCode);
    return { by: 'client', error, reason: `the client reset the stream (RST_STREAM ${error})` };
  }
  if (rstCode === undefined || rstCode === 0) return null;
  const error = errorName(rstCode);
  return { by: 'proxy', error, reason: `the proxy's HTTP/2 layer reset the stream (RST_STREAM ${error})` };
}

/** Connection details a reset entry names. */
export interface ResetClient {
  readonly clientIp: string;
  readonly clientPort: number | undefined;
}

/**
 * A stream reset before it had an exchange (reset by the client in the same read as its HEADERS, or by nghttp2 before
 * announcing it): an access entry with no request (HAProxy's `<BADREQ>`) and status -1, and the reason.
 */
export function logUnansweredReset(rt: ServiceRuntime, c: ResetClient, stream: number, cause: ResetCause): void {
  const termination = cause.by === 'client' ? 'CR' : 'PR';
  logAccess(rt, c.clientIp, c.clientPort, null, undefined, -1, 0, 0, NO_MARKS, termination);
  logStreamReset({ service: rt.plan.name, client: c.clientIp, stream, ...cause, termination, status: -1 });
}

const NO_MARKS = { headAt: 0, startAt: 0, chosenAt: 0, sentAt: 0, resAt: 0 };
