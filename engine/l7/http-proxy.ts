/**
 * The http mode: one HttpSession per client connection, one Exchange per request on it.
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
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  type BodyMode,
  ChunkedTracker,
  CRLFCRLF,
  getHeader,
  HttpParseError,
  leadingEmptyLines,
  parseRequestText,
  parseResponseHead,
  parseResponseText,
  partialHeadError,
  requestBody,
  responseBody,
  serializeHead,
  STATUS_TEXT,
  type RequestHead,
  type ResponseHead,
} from './http-codec.ts';
import { REFUSALS, type RefusalCode } from './http-refusals.ts';
import { forwardedFields, interimFields, keptLines, requestHeadText, upgradeOf } from './forward-head.ts';
import { logRefusal } from './proxy-log.ts';
import { applyHeaderRules, plainIp } from './rules.ts';
import {
  choiceFailure,
  isListedResponse,
  isSafeToRetry,
  ownResponseFields,
  routeRequest,
  serverConnection,
  upstreamFailure,
  type Routing,
} from './exchange-rules.ts';
import { choose, release, type Choice, type ChooseRequest } from './dispatch.ts';
import { countResponse } from './stats.ts';
import type { ServerState, ServiceRuntime } from './service.ts';
import type { ConnHandler, UpstreamConn } from './upstream.ts';
import { isReadingPaused, own, pauseReading, resumeReading, setReader } from './reader.ts';
import { writeDirect } from './writer.ts';
import { idleTimerOf, watchIdle } from './idle.ts';
import { bodyRateGuard, type BodyRateGuard } from './slow-client.ts';
import { choiceTermination, logAccess, stepOf, upstreamTermination } from './access.ts';

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

/** Answers up to this size are converted to one latin1 string at once (startResponse). */
const SMALL_RESPONSE = 32_768;
/** Response heads are the server's business, but a runaway one must not eat memory. */
const MAX_RESPONSE_HEAD = 65_536;

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
    // Chunks are borrowed (reader.ts): whatever is kept past the call is copied.
    setReader(socket, (d) => this.onData(d));
    watchIdle(socket, rt.plan.layer7.timeouts.clientMs, () => {
      // Waiting for the server is not the client's fault: only an idle or stalled client is timed out.
      if (!this.ex || this.ex.phase === 'body' || this.ex.phase === 'tunnel') this.destroy('c');
    });
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    socket.on('end', () => {
      // Half-close (the server socket allows it): finish the exchange in flight, then close.
      this.isClosing = true;
      if (!this.ex) socket.end();
      else if (this.ex.phase === 'tunnel') this.ex.clientEnded();
    });
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

type Phase = 'choose' | 'connect' | 'body' | 'wait' | 'response' | 'tunnel' | 'done';

/** What a retry changes on an exchange, HTTP/1.1's (Exchange) or HTTP/2's (h2-exchange.ts). */
export interface Retrying extends ChooseRequest {
  server: ServerState | null;
  isFreshOnly: boolean;
  persistentName?: string;
  exclude: Set<ServerState> | null;
  phase: string;
}

/**
 * Sends an exchange whose server connection failed back to the scheduler. A reused keep-alive connection the server
 * had just closed is not the server's fault: the same server is tried again on a new connection, and its other idle
 * ones, which a restarted server has closed too, are dropped; any other failure excludes the server. Persistence
 * keeps pointing at a server only when the failure was such a stale connection.
 */
export function retryElsewhere(rt: ServiceRuntime, ex: Retrying, server: ServerState, wasReused: boolean, isConnect: boolean): void {
  if (wasReused && !isConnect) {
    ex.isFreshOnly = true;
    server.pool.closeIdle();
  } else (ex.exclude ??= new Set()).add(server);
  ex.server = null;
  release(rt, server);
  ex.phase = 'choose';
  ex.persistentName = ex.persistentName === server.name && !wasReused ? undefined : ex.persistentName;
  choose(rt, ex);
}

/** Whether a server's connection stays open after this response (RFC 9112 §9.3: persistence by version and Connection). */
export function keepsServerConnection(res: ResponseHead): boolean {
  return !res.connection.includes('close') && (res.minor === 1 || res.connection.includes('keep-alive'));
}

/** A real server's response the codec refused: logged once, the same way for both protocols (the client gets 502). */
export function logResponseRefusal(rt: ServiceRuntime, client: string, server: ServerState | null, err: HttpParseError): void {
  logRefusal({ code: err.code, status: 502, reason: err.message, service: rt.plan.name, client, side: 'response', server: server?.name });
}

/** A response head came from `server` `elapsed` ms after the request began: latency and status counters. */
export function countServerResponse(rt: ServiceRuntime, server: ServerState, elapsed: number, status: number): void {
  server.counters.latencySumMs += elapsed;
  server.counters.latencyCount++;
  rt.state.counters.latencySumMs += elapsed;
  rt.state.counters.latencyCount++;
  countResponse(server.counters, status);
  countResponse(rt.state.counters, status);
}

class Exchange implements ConnHandler, ChooseRequest, Routing {
  readonly s: HttpSession;
  readonly rt: ServiceRuntime;
  readonly head: RequestHead;
  phase: Phase = 'choose';
  // choose request
  group = '';
  hashKey = '';
  persistentName?: string;
  exclude: Set<ServerState> | null = null;
  cancel?: () => void;
  get isGone(): boolean {
    return this.phase === 'done';
  }
  private attempts = 0;
  /** For the access log (AccessMarks.retries). */
  get retries(): number {
    return this.attempts;
  }
  private lastError: Error | null = null;
  isFreshOnly = false;
  server: ServerState | null = null;
  private conn: UpstreamConn | null = null;
  isPersistent = false;
  private outHead = '';
  // access log marks (access.ts) and counts
  readonly headAt: number;
  readonly startAt = performance.now();
  chosenAt = 0;
  sentAt = 0;
  resAt = 0;
  private readonly headBytes: number;
  private outBytes = 0;
  private served: string | undefined;
  /** The access log's termination code of a local answer (local()). */
  private term = 'LR';
  // request body
  private reqMode: BodyMode = BODY_NONE;
  private reqRemaining = 0;
  private reqChunks: ChunkedTracker | null = null;
  private reqDone = true;
  private reqBodySent = false;
  private reqBytes = 0;
  /** The body's minimum rate (slow-client.ts), while it is being forwarded. */
  private rate: BodyRateGuard | null = null;
  // response
  private resBuf: Buffer | null = null;
  private res: ResponseHead | null = null;
  private resMode: BodyMode = BODY_NONE;
  private resRemaining = 0;
  private resChunks: ChunkedTracker | null = null;
  private resStarted = false;
  private resEnded = false;
  private tunnel: { destroy(): void } | null = null;
  /** The client connection closes after this exchange (its wish, or framing we cannot keep). */
  private closeAfter = false;
  /** The server connection can serve another exchange; independent of the client's wishes. */
  private isUpstreamReusable = true;
  private isUpgrade = false;
  // persistence to write back (exchange-rules.ts)
  sourceKeyValue = '';
  cookieFirstSeen: number | undefined;
  cookieLastSeen: number | undefined;

  constructor(s: HttpSession, rt: ServiceRuntime, head: RequestHead, headBytes: number) {
    this.s = s;
    this.rt = rt;
    this.head = head;
    this.headBytes = headBytes;
    this.headAt = s.headAt;
  }

  start(): void {
    const { s, rt, head } = this;
    const l7 = rt.plan.layer7;
    rt.state.counters.requests++;
    const wantsClose = head.minor === 0 ? !head.connection.includes('keep-alive') : head.connection.includes('close');
    if (wantsClose) this.closeAfter = true;

    this.reqMode = requestBody(head);
    if (this.reqMode === BODY_CHUNKED) {
      this.reqChunks = new ChunkedTracker();
      this.reqDone = false;
    } else if (this.reqMode === BODY_LENGTH) {
      if (head.contentLength > l7.limits.maxBodyBytes) return this.refuse('H1_BODY_TOO_LARGE');
      this.reqRemaining = head.contentLength;
      this.reqDone = false;
    }
    // Both Content-Length and chunked came: only chunked goes on, and neither connection serves another request.
    if (head.isAmbiguous) {
      this.closeAfter = true;
      this.isUpstreamReusable = false;
    }

    // Redirects, content switching, rewrites and persistence (exchange-rules.ts, shared with HTTP/2).
    const target = routeRequest(rt, head, s, this);
    if (typeof target !== 'string') return this.redirect(target.status, target.location);

    // The head the server gets (forward-head.ts): the client's lines as they came, less hop-by-hop ones, framing
    // fields the codec replaced and the client-naming fields forwarding.ts rewrites for this peer, plus ours.
    const upgrade = upgradeOf(head);
    this.isUpgrade = upgrade !== undefined;
    this.outHead = requestHeadText(head, target, rt.forwarding.forPeer(s.clientIp), l7.requestHeaders, s, upgrade);

    // Hold the body until a server is connected.
    if (!this.reqDone) pauseReading(s.socket);
    choose(rt, this);
  }

  // ───── server chosen ─────

  done(choice: Choice): void {
    if (this.phase === 'done') {
      if ('server' in choice) release(this.rt, choice.server);
      return;
    }
    if ('error' in choice) {
      const a = choiceFailure(this.rt, choice.error, this.lastError);
      this.term = choiceTermination(choice.error, this.lastError);
      return this.local(a.status, a.body, a.isClosing, a.contentType);
    }
    this.chosenAt = performance.now();
    this.server = choice.server;
    this.served = choice.server.name;
    this.isPersistent = choice.isPersistent;
    this.connect();
  }

  private connect(): void {
    this.phase = 'connect';
    serverConnection(
      this.rt,
      this.server!,
      this.s,
      this.isFreshOnly,
      () => this.phase === 'done',
      (err, conn) => (err ? this.upstreamFailed(err, true) : this.send(conn!)),
    );
  }

  private send(conn: UpstreamConn): void {
    this.conn = conn;
    conn.handler = this;
    this.sentAt = performance.now();
    const server = this.server!;
    server.counters.requests++;
    const sock = conn.socket;
    server.counters.bytesIn += this.outHead.length;
    if (this.reqDone) {
      writeDirect(sock, this.outHead);
      this.phase = 'wait';
      return;
    }
    this.phase = 'body';
    // Its minimum rate is judged from now on (slow-client.ts).
    this.rate = bodyRateGuard(
      this.rt.plan.layer7,
      this.head,
      () => isReadingPaused(this.s.socket),
      () => {
        if (this.phase !== 'done') this.refuse('H1_BODY_TOO_SLOW');
      },
    );
    sock.cork();
    sock.write(this.outHead, 'latin1');
    const pending = this.s.buf;
    this.s.buf = null;
    if (pending !== null) this.onClientBody(pending);
    sock.uncork();
    if (this.phase === 'body' && !this.s.isDead) resumeReading(this.s.socket);
  }

  // ───── request body ─────

  onClientBody(chunk: Buffer): void {
    if (this.phase === 'tunnel') return this.tunnelToServer(chunk);
    let take = chunk.length;
    if (this.reqMode === BODY_LENGTH) {
      take = Math.min(this.reqRemaining, chunk.length);
      this.reqRemaining -= take;
      if (this.reqRemaining === 0) this.reqDone = true;
    } else {
      const tracker = this.reqChunks!;
      let end: number;
      try {
        end = tracker.scan(chunk);
      } catch (err) {
        if (!(err instanceof HttpParseError)) throw err;
        return this.refuse(err.code, err.status);
      }
      if (end !== -1) {
        take = end;
        this.reqDone = true;
      }
      if (tracker.dataBytes > this.rt.plan.layer7.limits.maxBodyBytes) return this.refuse('H1_BODY_TOO_LARGE');
    }
    this.reqBytes += take;
    const rate = this.rate;
    rate?.add(take);
    const conn = this.conn!;
    if (take > 0) {
      this.reqBodySent = true;
      this.server!.counters.bytesIn += take;
      const isOk = writeDirect(conn.socket, own(take === chunk.length ? chunk : chunk.subarray(0, take)));
      if (!isOk && !this.reqDone) {
        const client = this.s.socket;
        rate?.hold();
        pauseReading(client);
        conn.socket.once('drain', () => {
          if (this.phase === 'body') resumeReading(client);
        });
      }
    }
    if (this.reqDone) {
      rate?.stop();
      if (take < chunk.length) {
        // The next pipelined request: keep it for later.
        this.s.buf = own(chunk.subarray(take));
        pauseReading(this.s.socket);
      }
      if (this.phase === 'body') this.phase = 'wait';
    }
  }

  // ───── response ─────

  onData(chunk: Buffer): void {
    const server = this.server!;
    server.counters.bytesOut += chunk.length;
    if (this.res === null) {
      const buf = this.resBuf === null ? chunk : Buffer.concat([this.resBuf, chunk]);
      // A small answer (the usual) is read as one string: its head is parsed from it and its body sliced from it.
      const all = buf.length <= SMALL_RESPONSE ? buf.toString('latin1') : null;
      const end = all !== null ? all.indexOf('\r\n\r\n') : buf.indexOf(CRLFCRLF);
      if (end === -1) {
        if (buf.length > MAX_RESPONSE_HEAD) return this.badResponse(new HttpParseError('H1_RESPONSE_HEAD_TOO_LARGE', true));
        const bad = partialHeadError(buf);
        if (bad !== undefined) return this.badResponse(new HttpParseError(bad, true));
        this.resBuf = this.resBuf === null ? own(chunk) : buf;
        return;
      }
      this.resBuf = null;
      let res: ResponseHead;
      try {
        res = all !== null ? parseResponseText(all, end, buf) : parseResponseHead(buf, end);
      } catch (err) {
        return this.badResponse(err);
      }
      const rest = buf.subarray(end + 4);
      if (res.status < 200 && res.status !== 101) {
        // Interim (100 Continue, 103 Early Hints): pass it on (never to an HTTP/1.0 client, RFC 9110 §15.2) and keep
        // reading for the final response.
        if (this.head.minor !== 0) this.writeClient(Buffer.from(serializeHead(`HTTP/1.1 ${res.status} ${res.reason}`, interimFields(res)), 'latin1'));
        if (rest.length > 0) this.onData(rest);
        return;
      }
      this.res = res;
      return this.startResponse(res, rest, all, end + 4);
    }
    this.forwardBody(chunk);
  }

  /** `all`: the chunk as latin1 when it was small, in which the body starts at `bodyAt`. */
  private startResponse(res: ResponseHead, rest: Buffer, all: string | null, bodyAt: number): void {
    const { rt, s, head } = this;
    const server = this.server!;
    if (res.status === 101 && !this.isUpgrade) return this.badResponse(new HttpParseError('H1_UNASKED_101', true));
    this.resMode = res.status === 101 ? BODY_NONE : responseBody(res, head.method);
    if (this.resMode === BODY_CHUNKED) this.resChunks = new ChunkedTracker(true);
    else if (this.resMode === BODY_LENGTH) this.resRemaining = res.contentLength;
    // Body bytes that came with the head: a framing error in them can still be answered with a clean 502.
    let take = 0;
    if (this.resMode !== BODY_NONE && rest.length > 0) {
      try {
        take = this.bodyExtent(rest);
      } catch (err) {
        return this.badResponse(err);
      }
    }
    this.resAt = performance.now();
    countServerResponse(rt, server, this.resAt - this.startAt, res.status);

    if (res.status === 101) return this.startTunnel(res, rest);
    if (this.resMode === BODY_UNTIL_CLOSE || !this.reqDone) {
      this.closeAfter = true;
      this.isUpstreamReusable = false;
    }
    // A server that framed a message two ways, or sent bytes after one without a body, is not asked again.
    if (res.isAmbiguous || (this.resMode === BODY_NONE && rest.length > 0)) this.isUpstreamReusable = false;

    // Header rules and application-cookie persistence work on the name/value list; otherwise the server's lines are
    // forwarded as they came (less hop-by-hop ones) and ours are appended.
    const isListed = isListedResponse(rt);
    const out: string[] = isListed ? forwardedFields(res) : [];
    if (rt.rules.responseHeaders.length > 0) applyHeaderRules(out, rt.rules.responseHeaders);
    ownResponseFields(rt, out, s.isTls, server, this);
    if (this.closeAfter || s.isClosing || s.listener.isClosed) {
      this.closeAfter = true;
      out.push('Connection', 'close');
    } else if (head.minor === 0) out.push('Connection', 'keep-alive');

    this.resStarted = true;
    this.phase = 'response';
    const client = s.socket;
    let text: string;
    if (isListed) text = serializeHead(`HTTP/1.1 ${res.status} ${res.reason}`, out);
    else {
      const raw = res.raw;
      text = res.minor === 1 ? (res.headerStart === raw.length ? raw + '\r\n' : raw.slice(0, res.headerStart)) : `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
      text += keptLines(res);
      for (let i = 0; i < out.length; i += 2) text += out[i] + ': ' + out[i + 1] + '\r\n';
      text += '\r\n';
    }
    rt.state.counters.bytesOut += text.length;
    this.outBytes += text.length;
    if (this.resMode === BODY_NONE) {
      writeDirect(client, text);
      return this.finish();
    }
    if (rest.length === 0) {
      writeDirect(client, text);
      return;
    }
    // The usual small response: head and body leave in one write (one string, one send).
    if (take <= 16_384) {
      rt.state.counters.bytesOut += take;
      this.outBytes += take;
      if (!writeDirect(client, text + (all !== null ? all.slice(bodyAt, bodyAt + take) : rest.toString('latin1', 0, take)))) this.backpressure();
    } else {
      writeDirect(client, text);
      this.writeClient(own(rest.subarray(0, take)));
    }
    this.afterBody(take, rest.length);
  }

  /** How much of `chunk` belongs to the response body; sets resEnded when the body ends inside it. Throws on bad chunking. */
  private bodyExtent(chunk: Buffer): number {
    if (this.resMode === BODY_LENGTH) {
      const take = Math.min(this.resRemaining, chunk.length);
      this.resRemaining -= take;
      if (this.resRemaining === 0) this.resEnded = true;
      return take;
    }
    if (this.resMode === BODY_CHUNKED) {
      const end = this.resChunks!.scan(chunk);
      if (end === -1) return chunk.length;
      this.resEnded = true;
      return end;
    }
    return chunk.length;
  }

  private forwardBody(chunk: Buffer): void {
    let take: number;
    try {
      take = this.bodyExtent(chunk);
    } catch (err) {
      // Part of the response is out: cutting the connection is all that is left; the refusal is still logged.
      if (err instanceof HttpParseError) logResponseRefusal(this.rt, this.s.clientIp, this.server, err);
      return this.abort('PD');
    }
    if (take > 0) this.writeClient(own(take === chunk.length ? chunk : chunk.subarray(0, take)));
    this.afterBody(take, chunk.length);
  }

  private afterBody(take: number, length: number): void {
    if (!this.resEnded) return;
    // Bytes after the end of the response: the server broke framing; do not reuse this connection.
    if (take < length) this.isUpstreamReusable = false;
    this.finish();
  }

  private backpressure(): void {
    const conn = this.conn;
    if (conn === null) return;
    pauseReading(conn.socket);
    this.s.socket.once('drain', () => resumeReading(conn.socket));
  }

  private writeClient(data: Buffer): void {
    this.rt.state.counters.bytesOut += data.length;
    this.outBytes += data.length;
    if (!writeDirect(this.s.socket, data)) this.backpressure();
  }

  /**
   * 101 Switching Protocols: from here the exchange is a byte tunnel (WebSocket …). Both sockets keep their readers;
   * the client's bytes come through onClientBody, the server's through onData/the tunnel handler. It ends when
   * either side closes (a clean end is passed on as FIN) or after tunnelMs without traffic.
   */
  private startTunnel(res: ResponseHead, rest: Buffer): void {
    this.phase = 'tunnel';
    const { s, rt } = this;
    const server = this.server!;
    const conn = this.conn!;
    const out = forwardedFields(res);
    out.push('Connection', 'Upgrade');
    const up = getHeader(res.headers, 'upgrade');
    if (up !== undefined) out.push('Upgrade', up);
    const client = s.socket;
    const upstream = conn.socket;
    writeDirect(client, serializeHead(`HTTP/1.1 101 ${res.reason}`, out));
    if (rest.length > 0) writeDirect(client, own(rest));
    if (s.buf !== null) {
      writeDirect(upstream, s.buf);
      s.buf = null;
    }
    const tunnelMs = rt.plan.layer7.timeouts.tunnelMs;
    idleTimerOf(client)?.set(tunnelMs);
    idleTimerOf(upstream)?.set(tunnelMs);
    this.tunnel = { destroy: () => s.destroy() };
    server.tunnels.add(this.tunnel);
    conn.handler = {
      onData: (d) => {
        server.counters.bytesOut += d.length;
        rt.state.counters.bytesOut += d.length;
        if (!writeDirect(client, own(d))) this.backpressure();
      },
      onClose: (err) => (err ? s.destroy() : client.end()),
      onTimeout: () => s.destroy(),
    };
    if (isReadingPaused(client)) resumeReading(client);
  }

  private tunnelToServer(chunk: Buffer): void {
    const server = this.server!;
    server.counters.bytesIn += chunk.length;
    const up = this.conn?.socket;
    if (!up) return;
    if (!writeDirect(up, own(chunk))) {
      const client = this.s.socket;
      pauseReading(client);
      up.once('drain', () => resumeReading(client));
    }
  }

  /** The client half-closed its side of a tunnel: pass the FIN on. */
  clientEnded(): void {
    this.conn?.socket.end();
  }

  private finish(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.logged(this.res!.status, '--');
    this.rate?.stop();
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      // A client that closes does not spoil the server connection: it goes back to the pool for the next client.
      const isReusable = this.isUpstreamReusable && this.reqDone && keepsServerConnection(this.res!);
      if (isReusable) conn.pool.release(conn);
      else conn.destroy();
    }
    this.releaseServer();
    this.s.exchangeDone(this.closeAfter);
  }

  private releaseServer(): void {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    release(this.rt, server);
  }

  // ───── failures ─────

  onClose(err: Error | undefined): void {
    if (this.phase === 'done' || this.phase === 'tunnel') return;
    if (this.resMode === BODY_UNTIL_CLOSE && this.res !== null) return this.finish();
    this.upstreamFailed(err ?? new Error('the server closed the connection'), false);
  }

  onTimeout(): void {
    if (this.phase === 'done' || this.phase === 'tunnel') return;
    this.upstreamFailed(Object.assign(new Error('the server did not answer in time'), { code: 'ETIMEDOUT' }), false);
  }

  /** A connection to the server failed, before or after sending. Retry when that is safe, else answer. */
  private upstreamFailed(err: Error, isConnect: boolean): void {
    const server = this.server!;
    const conn = this.conn;
    const wasReused = conn?.isReused ?? false;
    this.conn = null;
    conn?.destroy();
    const isTimeout = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    if (this.resStarted) return this.abort(isTimeout ? 'sD' : 'SD');
    const isSafe = isSafeToRetry(isConnect, this.head.method, this.reqBodySent || this.reqMode !== 0, this.res !== null || this.resBuf !== null, isTimeout);
    const maxAttempts = this.rt.byName.size + 2;
    this.lastError = err;
    if (isSafe && ++this.attempts < maxAttempts && !this.s.isDead) return retryElsewhere(this.rt, this, server, wasReused, isConnect);
    const a = upstreamFailure(err, isConnect);
    this.term = upstreamTermination(err, isConnect);
    this.local(a.status, a.body, a.isClosing);
  }

  /** Answers locally (redirects, errors, maintenance page) and ends the exchange. */
  private local(status: number, body: string, isClosing: boolean, contentType?: string, headers: string[] = []): void {
    const closeAfter = isClosing || this.closeAfter || !this.reqDone;
    countResponse(this.rt.state.counters, status);
    this.releaseServer();
    this.phase = 'done';
    this.rate?.stop();
    this.outBytes += this.s.writeLocal(status, headers, body.endsWith('\n') || body.startsWith('<') ? body : `${body}\n`, closeAfter, contentType);
    this.logged(status, this.term);
    this.s.exchangeDone(closeAfter);
  }

  private redirect(status: number, location: string): void {
    this.local(status, `Redirecting to ${location}\n`, false, undefined, ['Location', location]);
  }

  /** Refuses the client's request (before it is forwarded, or its body on the way): its status, logged. */
  private refuse(code: RefusalCode, status: number = REFUSALS[code].status): void {
    logRefusal({ code, status, reason: REFUSALS[code].message, service: this.rt.plan.name, client: this.s.clientIp, side: 'request' });
    this.term = code === 'H1_BODY_TOO_SLOW' ? 'cD' : 'PR';
    this.abortWith(status, REFUSALS[code].message);
  }

  /** Refuses the server's response before any of it went out: 502, logged, and that server connection is closed. */
  private badResponse(err: unknown): void {
    if (!(err instanceof HttpParseError)) throw err;
    logResponseRefusal(this.rt, this.s.clientIp, this.server, err);
    this.term = 'PH';
    this.abortWith(502, `The real server sent a response that cannot be forwarded safely: ${err.message}`);
  }

  private abortWith(status: number, text: string): void {
    if (!this.resStarted && this.phase !== 'done') {
      const conn = this.conn;
      this.conn = null;
      conn?.destroy();
      return this.local(status, text, true);
    }
    this.abort(`${this.term[0]}D`);
  }

  /** Ends everything now: the client went away, or the response cannot be completed. `code`: for the access log. */
  abort(code = 'PD'): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.logged(this.res?.status ?? -1, code);
    this.rate?.stop();
    this.cancel?.();
    if (this.tunnel !== null) this.server?.tunnels.delete(this.tunnel);
    const conn = this.conn;
    this.conn = null;
    conn?.destroy();
    this.releaseServer();
    this.s.destroy();
  }

  private logged(status: number, code: string): void {
    logAccess(this.rt, this.s.clientIp, this.s.clientPort, this.head, this.served, status, this.headBytes + this.reqBytes, this.outBytes, this, code);
  }
}
