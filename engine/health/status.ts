/**
 * Every result a checker can report: a code (modelled on HAProxy's check status, src/check.c), whether it counts as a
 * pass, and a sentence a person can act on. Checkers return `result(code, params, durationMs)`, or `resultOf(verdict(code,
 * params), durationMs)` for a sentence they keep; nothing else makes a CheckResult, so a code and its sentence never
 * drift apart.
 *
 *   layer   │ pass     │ fail
 *   ────────┼──────────┼───────────────────────────────────────────
 *   ICMP    │ L3OK     │ L3TOUT (no echo reply), L3ERR (unreachable, no permission)
 *   TCP     │ L4OK     │ L4TOUT (no SYN-ACK in time), L4CON (refused, reset, unreachable)
 *   TLS     │ L6OK     │ L6TOUT (handshake timed out), L6RSP (handshake failed, certificate refused)
 *   text    │ L7OK     │ L7STS (wrong HTTP status), L7RSP (wrong body, wrong or no expected text, bad answer),
 *           │          │ L7TOUT (connected, no answer in time)
 *   process │ PROCOK   │ PROCERR (exit ≠ 0, or could not start), PROCTOUT (killed at the timeout)
 *   DICOM   │ DCMOK    │ DCMREJ (association rejected), DCMABRT (aborted), DCMSTS (C-ECHO status ≠ 0),
 *           │          │ DCMRSP (not a DICOM answer), DCMTOUT (no answer in time)
 *   none    │ —        │ NOCHK (not checked: no check configured, or the target is outside the allowed networks)
 */

export const CHECK_STATUS = {
  L3OK: { isPass: true, message: 'Echo reply from {target} in {ms} ms' },
  L3TOUT: { isPass: false, message: 'No echo reply from {target} within {timeoutMs} ms' },
  L3ERR: { isPass: false, message: 'Ping to {target} failed: {reason}' },
  L4OK: { isPass: true, message: 'TCP connect to {target} succeeded' },
  L4TOUT: { isPass: false, message: 'No answer to a TCP connect to {target} within {timeoutMs} ms' },
  L4CON: { isPass: false, message: 'TCP connect to {target} failed: {reason}' },
  L6OK: { isPass: true, message: 'TLS handshake with {target} succeeded' },
  L6TOUT: { isPass: false, message: 'TLS handshake with {target} did not finish within {timeoutMs} ms' },
  L6RSP: { isPass: false, message: 'TLS handshake with {target} failed: {reason}' },
  L7OK: { isPass: true, message: '{detail}' },
  L7STS: { isPass: false, message: 'HTTP {status} from {path} on {target} (expected {expected})' },
  L7RSP: { isPass: false, message: '{detail}' },
  L7TOUT: { isPass: false, message: 'Connected to {target} but no answer within {timeoutMs} ms' },
  PROCOK: { isPass: true, message: '{command} exited with {exitCode}' },
  PROCERR: { isPass: false, message: '{command} {reason}' },
  PROCTOUT: { isPass: false, message: '{command} did not finish within {timeoutMs} ms and was killed' },
  DCMOK: { isPass: true, message: 'C-ECHO to {calledAeTitle} on {target} succeeded' },
  DCMREJ: { isPass: false, message: 'C-ECHO refused: {reason}' },
  DCMABRT: { isPass: false, message: 'DICOM association with {target} aborted: {reason}' },
  DCMSTS: { isPass: false, message: 'C-ECHO to {calledAeTitle} on {target} answered status {status}' },
  DCMRSP: { isPass: false, message: 'Not a DICOM answer from {target}: {reason}' },
  DCMTOUT: { isPass: false, message: 'No DICOM answer from {target} within {timeoutMs} ms (while {phase})' },
  NOCHK: { isPass: true, message: '{reason}' },
} as const satisfies Record<string, { isPass: boolean; message: string }>;

export type CheckCode = keyof typeof CHECK_STATUS;

export interface CheckResult {
  code: CheckCode;
  isPass: boolean;
  /** The sentence shown beside the server ("HTTP 503 from /health on 10.0.0.61:80 (expected 200-399)"). */
  message: string;
  /** How long the check took, start to verdict. */
  durationMs: number;
  /** external with isDynamicWeight: the weight the exit code asked for (code − 2). */
  weight?: number;
}

/** `{name}` placeholders filled from params; a missing one is a programming error, so it throws (tests catch it). */
function fill(template: string, params: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => {
    if (params[k] === undefined) throw new Error(`check message "${template}" needs {${k}}`);
    return String(params[k]);
  });
}

export function result(code: CheckCode, params: Record<string, unknown>, durationMs: number, extra: { weight?: number } = {}): CheckResult {
  const def = CHECK_STATUS[code];
  // The same literal as resultOf's, so every result has one shape (a spread made a second, and the runner's
  // callbacks deoptimised on it: --trace-deopt, 'wrong map'); a weight is added only when there is one.
  const r: CheckResult = { code, isPass: def.isPass, message: fill(def.message, params), durationMs: Math.round(durationMs * 10) / 10 };
  if ('weight' in extra) r.weight = extra.weight;
  return r;
}

/** A code and its sentence, filled once: what a check that keeps passing reports on every run. */
export interface Verdict {
  readonly code: CheckCode;
  readonly isPass: boolean;
  readonly message: string;
}

/**
 * `result` without the duration, for a checker to keep and hand to resultOf() on every run: filling the sentence
 * (a regular expression over the template) and the params object it takes cost more than the rest of a passing
 * connect's bookkeeping (bench/health.ts: 1,000 checks a second).
 */
export function verdict(code: CheckCode, params: Record<string, unknown>): Verdict {
  return { code, isPass: CHECK_STATUS[code].isPass, message: fill(CHECK_STATUS[code].message, params) };
}

/** The CheckResult of `v` after `durationMs`, as result() makes it. */
export function resultOf(v: Verdict, durationMs: number): CheckResult {
  return { code: v.code, isPass: v.isPass, message: v.message, durationMs: Math.round(durationMs * 10) / 10 };
}

/** "10.0.0.61:80", "[2001:db8::61]:80". */
export function targetText(address: string, port?: number): string {
  const a = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? a : `${a}:${port}`;
}

/** Node's errno names in words, for the sentence after "failed:". */
export function errnoText(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens on that port)';
    case 'ECONNRESET':
      return 'connection reset by the server';
    case 'EHOSTUNREACH':
      return 'host unreachable (no route, or the host does not answer ARP)';
    case 'ENETUNREACH':
      return 'network unreachable from this appliance';
    case 'EPIPE':
      return 'the server closed the connection';
    case 'EADDRNOTAVAIL':
      return 'no local address to connect from';
    default:
      return e.code ? `${e.code} (${e.message})` : e.message;
  }
}
