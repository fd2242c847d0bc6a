/**
 * `http` and `https`: send one HTTP/1.1 request and judge the answer by its status (a list of codes and ranges) and,
 * optionally, its body (text it must contain, or a regular expression). keepalived's HTTP_GET/SSL_GET and HAProxy's
 * `option httpchk` / `http-check expect` do the same.
 *
 *   client                               real server
 *   ── [TLS handshake, SNI, verify?] ──►                 https only: L6TOUT / L6RSP when it fails
 *   ── GET /path HTTP/1.1                ──►
 *      Host: <host or address:port>
 *      Connection: close
 *   ◄── HTTP/1.1 200 OK … \r\n\r\n [body]               status → L7OK / L7STS; body → L7RSP; nothing → L7TOUT
 *
 * The request is written by hand on a plain socket rather than through node:http: a check needs one status line and
 * perhaps a few KiB of body, and the http module's agent, parser and streams cost several times the CPU per check
 * (measured by bench/health.ts). At most 64 KiB of the answer is read; the connection is reset, not closed, after the
 * verdict (see connect.ts on TIME_WAIT). As there, over plain HTTP no TCP_NODELAY (the request is one write) and the
 * socket of the check's last run; no timer per check (connect.ts's shared deadlines), no 'abort' listener per run
 * (on-abort.ts); what a check's settings make of the request, and its pass's sentence, are worked out once; the
 * status is read from the bytes, and the head becomes a string only when the body is judged.
 */
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Checker, CheckTarget } from './types.ts';
import { errnoText, result, resultOf, targetText, verdict, type CheckResult, type Verdict } from './status.ts';
import { HttpCheckSchema, type HealthCheck } from '../config/index.ts';
import { clearDeadline, deadline, newSpare, socketFor, type Spare } from './connect.ts';
import { offAbort, onAbort } from './on-abort.ts';

const MAX_READ = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const DEFAULT_HTTP = HttpCheckSchema.parse({});

/** "200-399,404" → [[200,399],[404,404]]. The schema has checked the shape. */
export function parseStatusList(text: string): [number, number][] {
  return text.split(',').map((part) => {
    const [a, b] = part.split('-').map(Number);
    return [a, b ?? a];
  });
}

export const httpCheck: Checker = (t) => runHttp(t, false);
export const httpsCheck: Checker = (t) => runHttp(t, true);

/** What one check's settings and target make of every request it sends, worked out on its first run. */
interface Prepared {
  address: string;
  port: number | undefined;
  target: string;
  request: Buffer;
  expect: Expect;
  /** Plain HTTP: the socket of the last run (connect.ts, Spare). */
  spare: Spare;
}

/** By the check's settings object, which the monitor hands over unchanged on every run of one check. */
const prepared = new WeakMap<HealthCheck, Prepared>();

function prepare(t: CheckTarget): Prepared {
  const was = prepared.get(t.check);
  if (was && was.address === t.address && was.port === t.port) return was;
  const hc = t.check.http ?? DEFAULT_HTTP;
  const target = targetText(t.address, t.port);
  const host = hc.host ?? target;
  const request = Buffer.from(
    `${hc.method} ${hc.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: Fulcrum-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    'latin1',
  );
  const needsBody = hc.method !== 'HEAD' && (hc.expectBody !== undefined || hc.expectBodyRegex !== undefined);
  const expect: Expect = {
    target,
    path: hc.path,
    method: hc.method,
    accepted: parseStatusList(hc.expectStatus),
    expectStatus: hc.expectStatus,
    needsBody,
    expectBody: hc.expectBody,
    expectBodyRegex: hc.expectBodyRegex,
  };
  const p: Prepared = { address: t.address, port: t.port, target, request, expect, spare: newSpare() };
  prepared.set(t.check, p);
  return p;
}

function runHttp(t: CheckTarget, isTls: boolean): Promise<CheckResult> {
  const started = performance.now();
  const hc = t.check.http ?? DEFAULT_HTTP;
  const { target, request, expect, spare } = prepare(t);
  return new Promise((resolve) => {
    let phase: 'connect' | 'tls' | 'answer' = 'connect';
    let isDone = false;
    let socket: net.Socket;
    const elapsed = () => performance.now() - started;
    const finish = (r: CheckResult) => {
      if (isDone) return;
      isDone = true;
      clearDeadline(timer);
      if (t.signal) offAbort(t.signal, stop);
      if (!isTls) readers.delete(socket);
      if (phase === 'answer' && !isTls) socket.resetAndDestroy();
      else socket.destroy();
      resolve(r);
    };
    const timer = deadline(t.check.timeoutMs, started, () => {
      const p = { target, timeoutMs: t.check.timeoutMs };
      finish(result(phase === 'connect' ? 'L4TOUT' : phase === 'tls' ? 'L6TOUT' : 'L7TOUT', p, elapsed()));
    });
    const stop = () => finish(result('L4CON', { target, reason: 'the check was stopped' }, elapsed()));
    if (t.signal) onAbort(t.signal, stop);

    const onError = (e: NodeJS.ErrnoException) => {
      if (phase === 'connect') finish(result('L4CON', { target, reason: errnoText(e) }, elapsed()));
      else if (phase === 'tls') finish(result('L6RSP', { target, reason: tlsReason(e) }, elapsed()));
      else finish(result('L7RSP', { detail: `${target} ${errnoText(e)} before a complete answer to ${hc.method} ${hc.path}` }, elapsed()));
    };
    const onReady = () => {
      phase = 'answer';
      socket.write(request);
      const onBytes = readAnswer(expect, (r) => finish(r(elapsed())));
      if (isTls) socket.on('data', (chunk: Buffer) => onBytes(chunk, false));
      else readers.set(socket, onBytes);
      socket.on('end', () => onBytes(undefined, false));
    };
    if (isTls) {
      const servername = hc.serverName ?? (hc.host && !net.isIP(hc.host) ? hc.host.replace(/:\d+$/, '') : undefined);
      // TLS writes more than once (its Finished, then the request): Nagle could hold the request for a delayed ACK.
      const raw = net.connect({ host: t.address, port: t.port!, noDelay: true });
      socket = raw;
      raw.on('error', onError);
      raw.once('connect', () => {
        phase = 'tls';
        const s = tls.connect({ socket: raw, servername, rejectUnauthorized: hc.verifyTls, ALPNProtocols: ['http/1.1'] });
        socket = s;
        s.on('error', onError);
        s.once('secureConnect', onReady);
      });
    } else {
      socket = socketFor(spare, ONREAD).connect({ host: t.address, port: t.port! });
      socket.on('error', onError);
      // on(), not once(): one connect per run, and the spare drops its run's listeners when it closes (connect.ts, Spare).
      socket.on('connect', onReady);
    }
  });
}

function tlsReason(e: NodeJS.ErrnoException): string {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN')
    return 'the certificate is self-signed and TLS verification is on (turn verification off, or trust its CA)';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the certificate does not name the server: ${e.message}`;
  if (code === 'CERT_HAS_EXPIRED') return 'the certificate has expired';
  if (code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY')
    return 'the certificate is signed by a CA this appliance does not trust';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'the server closed the connection during the handshake (is it speaking TLS on this port?)';
  return code ? `${code}: ${e.message}` : e.message;
}

interface Expect {
  target: string;
  path: string;
  method: string;
  accepted: [number, number][];
  expectStatus: string;
  needsBody: boolean;
  expectBody?: string;
  expectBodyRegex?: string;
  /** The pass of a check that does not judge the body, kept for the status it last had (most answer one status). */
  ok?: Verdict & { status: number };
}

/** The pass without a body to judge, for `status`: the one kept in `x` when the status is the same. */
function okOf(x: Expect, status: number): Verdict {
  if (x.ok?.status !== status) x.ok = { ...verdict('L7OK', { detail: `HTTP ${status} from ${x.path} on ${x.target}` }), status };
  return x.ok;
}

/**
 * The status of a head that starts `HTTP/1.0 ddd` or `HTTP/1.1 ddd`, read from the bytes; 0 when it does not (or
 * fewer than 12 bytes have come). Spares a string and a regular expression per check.
 */
export function statusOf(b: Buffer): number {
  if (b.length < 12) return 0;
  // "HTTP/1." then 0 or 1, a space and three digits
  if (b[0] !== 0x48 || b[1] !== 0x54 || b[2] !== 0x54 || b[3] !== 0x50 || b[4] !== 0x2f || b[5] !== 0x31 || b[6] !== 0x2e) return 0;
  if ((b[7] !== 0x30 && b[7] !== 0x31) || b[8] !== 0x20) return 0;
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const d = b[i] - 0x30;
    if (d < 0 || d > 9) return 0;
    status = status * 10 + d;
  }
  return status;
}

/**
 * Over plain HTTP the answer is read into one buffer shared by every check (Node's `onread`), not into a new Buffer
 * pushed through a stream per read: that was a tenth of an HTTP check's CPU (bench/health.ts, --cpu-prof). The
 * callback runs synchronously, and what readAnswer keeps past it is copied out (most answers are judged from their
 * first read, and copy nothing).
 */
const READ_BUFFER = Buffer.alloc(MAX_READ);
/** The run each plain socket reads for (set when its request is written, deleted when the run settles). */
const readers = new WeakMap<net.Socket, (chunk: Buffer, isShared: boolean) => void>();
const ONREAD: net.OnReadOpts = {
  buffer: READ_BUFFER,
  callback(this: net.Socket, n: number, buf: Uint8Array): boolean {
    readers.get(this)?.((buf as Buffer).subarray(0, n), true);
    return true;
  },
};

/**
 * Reads the status line, the head and (when the body is judged) the body by its framing, then calls `done` once.
 * Returns what to call with each piece of the answer (`isShared`: a view of READ_BUFFER, valid for that call only),
 * and with undefined at its end.
 */
function readAnswer(x: Expect, done: (r: (ms: number) => CheckResult) => void): (chunk: Buffer | undefined, isShared: boolean) => void {
  let buf: Buffer = Buffer.alloc(0);
  let status = 0;
  let bodyStart = -1;
  let framing: { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' } = { kind: 'close' };
  let isSettled = false;
  const settle = (r: (ms: number) => CheckResult) => {
    if (isSettled) return;
    isSettled = true;
    done(r);
  };
  const bad = (why: string) => settle((ms) => result('L7RSP', { detail: `${x.target} answered ${x.method} ${x.path} with ${why}` }, ms));
  const judgeStatus = () => x.accepted.some(([a, b]) => status >= a && status <= b);
  const judgeBody = (body: Buffer) => {
    const text = body.toString('latin1');
    const ok = x.expectBody !== undefined ? text.includes(x.expectBody) : new RegExp(x.expectBodyRegex!).test(text);
    const what = x.expectBody !== undefined ? `the text ${JSON.stringify(x.expectBody)}` : `the pattern /${x.expectBodyRegex}/`;
    settle((ms) =>
      ok
        ? result('L7OK', { detail: `HTTP ${status} from ${x.path} on ${x.target} with ${what}` }, ms)
        : result('L7RSP', { detail: `HTTP ${status} from ${x.path} on ${x.target}, but the body does not contain ${what}` }, ms),
    );
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (bodyStart < 0) {
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length >= MAX_READ) bad('a head longer than 64 KiB');
        else if (buf.length >= 12 && statusOf(buf) === 0) bad(`something that is not HTTP (${JSON.stringify(buf.toString('latin1', 0, 24))})`);
        return;
      }
      status = end >= 12 ? statusOf(buf) : 0;
      if (status === 0) return bad(`something that is not HTTP (${JSON.stringify(buf.toString('latin1', 0, Math.min(end, 24)))})`);
      if (status >= 100 && status < 200) {
        // An interim answer (100 Continue, 103 Early Hints): the final one follows.
        buf = buf.subarray(end + 4);
        return buf.length > 0 ? onData(Buffer.alloc(0)) : undefined;
      }
      if (!judgeStatus()) return settle((ms) => result('L7STS', { status, path: x.path, target: x.target, expected: x.expectStatus }, ms));
      if (!x.needsBody) {
        const ok = okOf(x, status);
        return settle((ms) => resultOf(ok, ms));
      }
      const head = buf.toString('latin1', 0, end);
      bodyStart = end + 4;
      if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) framing = { kind: 'chunked' };
      else {
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (cl) framing = { kind: 'length', length: Number(cl[1]) };
      }
    }
    const body = buf.subarray(bodyStart);
    if (framing.kind === 'length' && body.length >= framing.length) return judgeBody(body.subarray(0, framing.length));
    if (framing.kind === 'chunked') {
      const decoded = dechunk(body);
      if (decoded.isComplete || decoded.body.length >= MAX_READ) return judgeBody(decoded.body);
    }
    if (body.length >= MAX_READ) judgeBody(body.subarray(0, MAX_READ));
  };
  const onEnd = () => {
    if (bodyStart >= 0) return judgeBody(framing.kind === 'chunked' ? dechunk(buf.subarray(bodyStart)).body : buf.subarray(bodyStart));
    bad(buf.length === 0 ? 'nothing (it closed the connection)' : 'an incomplete head');
  };
  return (chunk, isShared) => {
    if (isSettled) return;
    if (!chunk) return onEnd();
    onData(chunk);
    // Kept for the next piece: out of the shared buffer, which the next read overwrites.
    if (isShared && !isSettled && buf.buffer === READ_BUFFER.buffer) buf = Buffer.from(buf);
  };
}

/** Decodes as much of a chunked body as has arrived (RFC 9112 §7.1); extensions and trailers are skipped. */
export function dechunk(data: Buffer): { body: Buffer; isComplete: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(data.toString('latin1', at, eol).split(';')[0].trim(), 16);
    if (!Number.isFinite(size) || size < 0) break;
    if (size === 0) return { body: Buffer.concat(parts), isComplete: true };
    if (data.length < eol + 2 + size) {
      parts.push(data.subarray(eol + 2));
      break;
    }
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return { body: Buffer.concat(parts), isComplete: false };
}
