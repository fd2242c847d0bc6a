/**
 * The http mode: one HttpSession per client connection (this file: request heads, pipelining, local answers, the
 * connection's end), one Exchange per request on it (http-exchange.ts, and the pieces it names).
 *
 *   client bytes ─► head parsed (http-codec) ─► rules: redirects, rewrite, route, persistence
 *     ─► choose a server (dispatch: scheduler, queue, fallback) ─► pooled or new connection (upstream)
 *     ─► request head (hop-by-hop stripped, X-Forwarded-*, header rules) and body forwarded as they come
 *     ─► response head (hop-by-hop stripped, header rules, HSTS, persistence cookie) and body forwarded
 *     ─► connection back to the pool when both messages ended cleanly; next request on the client connection
 *
 * Bodies are never buffered whole: each side is paused while the other cannot take more (write() returned false).
 * Requests are handled one at a time; a pipelined request waits in the session's buffer until the one before it has
 * its response.
 *
 * Failures and what the client sees:
 *   no server, queue full or queue timeout                         503 (or the maintenance page)
 *   connect refused/failed, on every server tried                  502
 *   connect or server timeout before the response started         504
 *   failure after the response started                            the client connection is cut (nothing else is honest)
 *   a request the codec refuses (http-refusals.ts)                its 4xx/501/505, logged, and the connection closes
 *   a response the codec refuses, before any of it was forwarded  502, logged; that server connection is closed
 * A connect failure is retried on another server (nothing was sent yet); a failure after sending is retried only
 * for an idempotent request without a body, before any response byte came back.
 */
import type net from 'node:net';
import { HttpParseError, leadingEmptyLines, parseRequestText, partialHeadError, serializeHead, STATUS_TEXT, type RequestHead } from './http-codec.ts';
import { REFUSALS, type RefusalCode } from './http-refusals.ts';
import { logRefusal } from './proxy-log.ts';
import { plainIp } from './rules.ts';
import { countResponse } from './stats.ts';
import type { ServiceRuntime } from './service.ts';
import { isReadingPaused, own, pauseReading, resumeReading, setReader } from './reader.ts';
import { writeDirect } from './writer.ts';
import { watchIdle } from './idle.ts';
import { logAccess, stepOf } from './access.ts';
import { Exchange } from './http-exchange.ts';

export interface Session {
  /** Close now if no request is in flight; otherwise after it. */
  closeIfIdle(): void;
  destroy(): void;
}

export interface ListenerRef {
  readonly address: string;
  readonly port: number;
  rt: ServiceRuntime | null;
  isClosed: boolean;
  readonly sessions: Set<Session>;
}

const kSession = Symbol('fulcrum.http-session');
type SessionSocket = net.Socket & { [kSession]?: HttpSession };

/** 'error' and 'close' of a session's socket (`this`). */
function sessionGone(this: SessionSocket): void {
  this[kSession]?.destroy();
}

function sessionEnded(this: SessionSocket): void {
  this[kSession]?.clientEnded();
}

export class HttpSession implements Session {
  readonly socket: net.Socket;
  readonly listener: ListenerRef;
  readonly isTls: boolean;
  readonly clientIp: string;
  readonly clientPort: number | undefined;
  /** When the first byte of the next request head came (the access log's request time). */
  headAt = 0;
  /** Unparsed client bytes: a partial head, or a pipelined request waiting its turn. */
  buf: Buffer | null = null;
  ex: Exchange | null = null;
  isClosing = false;
  isDead = false;
  private headTimer: NodeJS.Timeout | null = null;
  private readonly serviceCounters;

  constructor(socket: net.Socket, listener: ListenerRef, isTls: boolean, rt: ServiceRuntime) {
    this.socket = socket;
    this.listener = listener;
    this.isTls = isTls;
    this.clientIp = plainIp(socket.remoteAddress);
    this.clientPort = socket.remotePort;
    this.serviceCounters = rt.state.counters;
    this.serviceCounters.activeConnections++;
    this.serviceCounters.totalConnections++;
    listener.sessions.add(this);
    // Shared functions, not closures: an idle keep-alive connection holds as little as it can (bench:l7's
    // l7-conn-memory). Chunks are borrowed (reader.ts): whatever is kept past the call is copied.
    (socket as SessionSocket)[kSession] = this;
    setReader(socket, HttpSession.prototype.onData, this);
    watchIdle(socket, rt.plan.layer7.timeouts.clientMs, HttpSession.prototype.clientIdle, this);
    socket.on('error', sessionGone);
    socket.on('close', sessionGone);
    socket.on('end', sessionEnded);
  }

  /** No byte from the client for clientMs. Waiting for the server is not the client's fault: only an idle or stalled client is timed out. */
  clientIdle(): void {
    if (!this.ex || this.ex.phase === 'body' || this.ex.phase === 'tunnel') this.destroy('c');
  }

  /** Half-close (the server socket allows it): finish the exchange in flight, then close. */
  clientEnded(): void {
    this.isClosing = true;
    if (!this.ex) this.socket.end();
    else if (this.ex.phase === 'tunnel') this.ex.clientEnded();
  }

  onData(chunk: Buffer): void {
    this.serviceCounters.bytesIn += chunk.length;
    const ex = this.ex;
    if (ex !== null && (ex.phase === 'body' || ex.phase === 'tunnel')) {
      ex.onClientBody(chunk);
      return;
    }
    if (ex !== null) {
      // A pipelined request (or bytes while we choose a server): hold them; stop reading until our turn.
      this.buf = this.buf === null ? own(chunk) : Buffer.concat([this.buf, chunk]);
      if (this.buf.length > 65_536) pauseReading(this.socket);
      return;
    }
    if (this.buf === null) {
      this.headAt = performance.now();
      this.parseNext(chunk);
    } else {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.parseNext(null);
    }
  }

  /** Parses the next request head from `borrowed` (a chunk not yet kept) or, when null, from `this.buf`. */
  parseNext(borrowed: Buffer | null): void {
    let buf = borrowed ?? this.buf;
    if (buf === null || this.isDead) return;
    const rt = this.listener.rt;
    if (rt === null) return this.destroy();
    const limits = rt.plan.layer7.limits;
    if (buf[0] === 13) {
      // Empty lines before a request line are ignored (RFC 9112 §2.2).
      const n = leadingEmptyLines(buf);
      if (n === buf.length) {
        // They count towards the head's deadline: else CRLFs sent just inside every clientMs hold the connection.
        this.buf = null;
        return this.armHeadTimer(rt);
      }
      buf = buf.subarray(n);
    }
    // An acceptable head ends within maxHeaderBytes: only that much is read as text (usually the whole chunk).
    const text = buf.toString('latin1', 0, Math.min(buf.length, limits.maxHeaderBytes));
    const end = text.indexOf('\r\n\r\n');
    if (end === -1) {
      if (buf.length > limits.maxHeaderBytes) return this.refuse(rt, 'H1_HEAD_TOO_LARGE');
      // A bare LF would never be followed by CRLFCRLF: refuse it now rather than at the head timeout.
      const bad = partialHeadError(buf);
      if (bad !== undefined) return this.refuse(rt, bad);
      if (borrowed !== null) this.buf = own(buf);
      return this.armHeadTimer(rt);
    }
    if (this.headTimer !== null) {
      clearTimeout(this.headTimer);
      this.headTimer = null;
    }
    if (end + 4 > limits.maxHeaderBytes) return this.refuse(rt, 'H1_HEAD_TOO_LARGE');
    let head: RequestHead;
    try {
      head = parseRequestText(text, end, buf);
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      return this.refuse(rt, err.code, err.status);
    }
    this.buf = end + 4 >= buf.length ? null : borrowed !== null ? own(buf.subarray(end + 4)) : buf.subarray(end + 4);
    const ex = new Exchange(this, rt, head, end + 4);
    this.ex = ex;
    ex.start();
  }

  /** Slow-client protection: the whole head must arrive within httpRequestMs of its first byte (408, logged). */
  private armHeadTimer(rt: ServiceRuntime): void {
    if (this.headTimer !== null) return;
    this.headTimer = setTimeout(() => {
      this.headTimer = null;
      if (!this.ex) this.refuse(rt, 'H1_HEAD_TIMEOUT');
    }, rt.plan.layer7.timeouts.httpRequestMs);
  }

  /** Answers a request we will not forward with the refusal's status and reason, logs it, and closes after. */
  refuse(rt: ServiceRuntime, code: RefusalCode, status: number = REFUSALS[code].status): void {
    const reason = REFUSALS[code].message;
    logRefusal({ code, status, reason, service: rt.plan.name, client: this.clientIp, side: 'request' });
    this.isClosing = true;
    this.buf = null;
    countResponse(rt.state.counters, status);
    const out = this.writeLocal(status, [], `${reason}\n`, true);
    logAccess(
      rt,
      this.clientIp,
      this.clientPort,
      null,
      undefined,
      status,
      0,
      out,
      { headAt: this.headAt, startAt: 0, chosenAt: 0, sentAt: 0, resAt: 0 },
      code === 'H1_HEAD_TIMEOUT' ? 'cR' : 'PR',
    );
    this.socket.end();
  }

  /** The address the client connected to, as a Host value. */
  vipHost(): string {
    const a = this.socket.localAddress ?? '';
    return `${a.includes(':') ? `[${a}]` : a}:${this.socket.localPort}`;
  }

  /**
   * The head goes out as latin1 (header values such as a redirect's Location carry the request's bytes as they
   * came); the body as UTF-8, which its Content-Type names. A body that is not ASCII (a redirect text naming a raw
   * path, a config string) is therefore written as bytes: a latin1 string write would send fewer bytes than the
   * UTF-8 Content-Length announces, and the client would take the next answer's first bytes as this body's end.
   */
  writeLocal(status: number, headers: string[], body: string, isClosing: boolean, contentType = 'text/plain; charset=utf-8'): number {
    const bodyBytes = Buffer.byteLength(body);
    const h = [...headers, 'Content-Type', contentType, 'Content-Length', String(bodyBytes), 'Cache-Control', 'no-store'];
    if (isClosing) h.push('Connection', 'close');
    const head = serializeHead(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}`, h);
    const out = bodyBytes === body.length ? head + body : Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body, 'utf8')]);
    this.serviceCounters.bytesOut += out.length;
    if (!this.socket.destroyed) writeDirect(this.socket, out);
    return out.length;
  }

  /** The exchange ended: next request, or close. */
  exchangeDone(closeAfter: boolean): void {
    this.ex = null;
    if (this.isDead) return;
    if (closeAfter || this.isClosing || this.listener.isClosed) {
      this.socket.end();
      return;
    }
    if (isReadingPaused(this.socket)) resumeReading(this.socket);
    if (this.buf !== null) this.parseNext(null);
  }

  /** A request whose head is still coming is not idle: it is answered (Connection: close) before the close. */
  closeIfIdle(): void {
    this.isClosing = true;
    if (!this.ex && this.buf === null) this.socket.end();
  }

  /** `cause`: the access log's first character for an exchange in flight ('C' the client closed, 'c' it timed out). */
  destroy(cause = 'C'): void {
    if (this.isDead) return;
    this.isDead = true;
    if (this.headTimer) clearTimeout(this.headTimer);
    this.serviceCounters.activeConnections--;
    this.listener.sessions.delete(this);
    if (this.ex !== null) this.ex.abort(cause + stepOf(this.ex.phase));
    this.socket.destroy();
  }
}
