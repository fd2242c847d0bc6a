/**
 * One HTTP/1.1 request and its response (http-proxy.ts makes one per request of a client connection). It is the
 * handler of the server connection while it owns it (upstream.ts's ConnHandler, as undici's dispatch handlers are)
 * and acts on what the pieces decide:
 *
 *   framing.ts             where the request body and the response (head, body) begin and end
 *   exchange-rules.ts      routing, redirects, persistence (exchange-persistence.ts), header rules, local answers
 *   exchange-retry.ts      whether a failed request goes to another server, and to which
 *   forward-head.ts        the heads as they go on
 *   h1-tunnel.ts           what a 101 turns the exchange into
 *
 * Phases: choose → connect → (body) → wait → response → done, or → tunnel → done.
 */
import { BODY_NONE, BODY_UNTIL_CLOSE, type RequestHead, type ResponseHead, serializeHead } from './http-codec.ts';
import { HttpParseError, REFUSALS, type RefusalCode } from './http-refusals.ts';
import { BodyFraming, keepsServerConnection, ResponseHeadReader } from './framing.ts';
import { BodyPump } from './h1-request-body.ts';
import { forwardedFields, interimFields, requestHeadText, responseHeadText, upgradeOf } from './forward-head.ts';
import { logRefusal } from './proxy-log.ts';
import {
  choiceFailure,
  countServerResponse,
  isListedResponse,
  logResponseRefusal,
  responseFields,
  routeRequest,
  serverConnection,
  upstreamFailure,
  type Routing,
} from './exchange-rules.ts';
import { isSafeToRetry, isWithinAttempts, retryElsewhere } from './exchange-retry.ts';
import { choose, release, type Choice, type ChooseRequest } from './dispatch.ts';
import { countResponse } from './stats.ts';
import type { ServerState, ServiceRuntime } from './service.ts';
import type { ConnHandler, UpstreamConn } from './upstream.ts';
import { own, pauseReading, resumeReading } from './reader.ts';
import { writeDirect } from './writer.ts';
import { choiceTermination, logAccess, upstreamTermination } from './access.ts';
import { Tunnel } from './h1-tunnel.ts';
import type { HttpSession } from './http-proxy.ts';

export type Phase = 'choose' | 'connect' | 'body' | 'wait' | 'response' | 'tunnel' | 'done';

export class Exchange implements ConnHandler, ChooseRequest, Routing {
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
  /** The request body, its framing and its way to the server. */
  private readonly req: BodyPump;
  private readonly resHead: ResponseHeadReader;
  /** The final response's head, and its body's framing, once it came. */
  private res: ResponseHead | null = null;
  private body: BodyFraming | null = null;
  private resStarted = false;
  private tunnel: Tunnel | null = null;
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
    this.req = new BodyPump(head, rt.plan.layer7.limits.maxBodyBytes);
    this.resHead = new ResponseHeadReader();
  }

  start(): void {
    const { s, rt, head } = this;
    const l7 = rt.plan.layer7;
    rt.state.counters.requests++;
    const wantsClose = head.minor === 0 ? !head.connection.includes('keep-alive') : head.connection.includes('close');
    if (wantsClose) this.closeAfter = true;
    if (this.req.isTooLarge) return this.refuse('H1_BODY_TOO_LARGE');
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
    if (!this.req.isDone) pauseReading(s.socket);
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
    if (this.req.isDone) {
      writeDirect(sock, this.outHead);
      this.phase = 'wait';
      return;
    }
    this.phase = 'body';
    // Its minimum rate is judged from now on (slow-client.ts).
    this.req.startRate(this.rt.plan.layer7, this.head, this.s.socket, () => {
      if (this.phase !== 'done') this.refuse('H1_BODY_TOO_SLOW');
    });
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
    if (this.tunnel !== null) return this.tunnel.toServer(chunk);
    const req = this.req;
    let take: number;
    try {
      take = req.forward(chunk, this.s.socket, this.conn!.socket, this.server!, this);
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      return this.refuse(err.code, err.status);
    }
    if (!req.isDone) return;
    if (take < chunk.length) {
      // The next pipelined request: keep it for later.
      this.s.buf = own(chunk.subarray(take));
      pauseReading(this.s.socket);
    }
    if (this.phase === 'body') this.phase = 'wait';
  }

  // ───── response ─────

  onData(chunk: Buffer): void {
    this.server!.counters.bytesOut += chunk.length;
    if (this.res !== null) return this.forwardBody(chunk);
    const reader = this.resHead;
    let res: ResponseHead | null;
    try {
      res = reader.read(chunk);
    } catch (err) {
      return this.badResponse(err);
    }
    if (res === null) return;
    const { rest, text, bodyAt } = reader;
    reader.clear();
    if (res.status < 200 && res.status !== 101) {
      // Interim (100 Continue, 103 Early Hints): pass it on (never to an HTTP/1.0 client, RFC 9110 §15.2) and keep
      // reading for the final response.
      if (this.head.minor !== 0) this.writeClient(Buffer.from(serializeHead(`HTTP/1.1 ${res.status} ${res.reason}`, interimFields(res)), 'latin1'));
      if (rest.length > 0) this.onData(rest);
      return;
    }
    this.res = res;
    this.startResponse(res, rest, text, bodyAt);
  }

  /** `all`: the chunk as latin1 when it was small, in which the body starts at `bodyAt`. */
  private startResponse(res: ResponseHead, rest: Buffer, all: string | null, bodyAt: number): void {
    const { rt, s } = this;
    const server = this.server!;
    if (res.status === 101 && !this.isUpgrade) return this.badResponse(new HttpParseError('H1_UNASKED_101', true));
    const body = (this.body = new BodyFraming(res, this.head.method));
    // Body bytes that came with the head: a framing error in them can still be answered with a clean 502.
    let take = 0;
    if (body.mode !== BODY_NONE && rest.length > 0) {
      try {
        take = body.extent(rest);
      } catch (err) {
        return this.badResponse(err);
      }
    }
    this.resAt = performance.now();
    countServerResponse(rt, server, this.resAt - this.startAt, res.status);

    if (res.status === 101) {
      this.phase = 'tunnel';
      this.tunnel = new Tunnel(rt, s, server, this.conn!, res, rest);
      return;
    }
    if (body.mode === BODY_UNTIL_CLOSE || !this.req.isDone) {
      this.closeAfter = true;
      this.isUpstreamReusable = false;
    }
    // A server that framed a message two ways, or sent bytes after one without a body, is not asked again.
    if (res.isAmbiguous || (body.mode === BODY_NONE && rest.length > 0)) this.isUpstreamReusable = false;

    // Header rules and application-cookie persistence work on the name/value list; otherwise the server's lines are
    // forwarded as they came (less hop-by-hop ones) and ours are appended.
    const isListed = isListedResponse(rt);
    const out = responseFields(rt, isListed ? forwardedFields(res) : [], s.isTls, server, this);
    if (this.closeAfter || s.isClosing || s.listener.isClosed) {
      this.closeAfter = true;
      out.push('Connection', 'close');
    } else if (this.head.minor === 0) out.push('Connection', 'keep-alive');

    this.resStarted = true;
    this.phase = 'response';
    const text = responseHeadText(res, out, isListed);
    rt.state.counters.bytesOut += text.length;
    this.outBytes += text.length;
    const client = s.socket;
    if (body.mode === BODY_NONE) {
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

  private forwardBody(chunk: Buffer): void {
    let take: number;
    try {
      take = this.body!.extent(chunk);
    } catch (err) {
      // Part of the response is out: cutting the connection is all that is left; the refusal is still logged.
      if (err instanceof HttpParseError) logResponseRefusal(this.rt, this.s.clientIp, this.server, err);
      return this.abort('PD');
    }
    if (take > 0) this.writeClient(own(take === chunk.length ? chunk : chunk.subarray(0, take)));
    this.afterBody(take, chunk.length);
  }

  private afterBody(take: number, length: number): void {
    if (!this.body!.isEnded) return;
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

  /** The client half-closed its side of a tunnel: pass the FIN on. */
  clientEnded(): void {
    this.tunnel?.clientEnded();
  }

  private finish(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.logged(this.res!.status, '--');
    this.req.stop();
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      // A client that closes does not spoil the server connection: it goes back to the pool for the next client.
      const isReusable = this.isUpstreamReusable && this.req.isDone && keepsServerConnection(this.res!);
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
    if (this.body?.mode === BODY_UNTIL_CLOSE) return this.finish();
    this.upstreamFailed(err ?? new Error('the server closed the connection'), false);
  }

  onTimeout(): void {
    if (this.phase === 'done' || this.phase === 'tunnel') return;
    this.upstreamFailed(Object.assign(new Error('the server did not answer in time'), { code: 'ETIMEDOUT' }), false);
  }

  /** A connection to the server failed, before or after sending. Retry when that is safe (exchange-retry.ts), else answer. */
  private upstreamFailed(err: Error, isConnect: boolean): void {
    const server = this.server!;
    const conn = this.conn;
    const wasReused = conn?.isReused ?? false;
    this.conn = null;
    conn?.destroy();
    const isTimeout = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    if (this.resStarted) return this.abort(isTimeout ? 'sD' : 'SD');
    const hasBody = this.req.isSent || this.req.mode !== BODY_NONE;
    const isSafe = isSafeToRetry(isConnect, this.head.method, hasBody, this.res !== null || this.resHead.isPartial, isTimeout);
    this.lastError = err;
    if (isSafe && isWithinAttempts(this.rt, ++this.attempts) && !this.s.isDead) return retryElsewhere(this.rt, this, server, wasReused, isConnect);
    const a = upstreamFailure(err, isConnect);
    this.term = upstreamTermination(err, isConnect);
    this.local(a.status, a.body, a.isClosing);
  }

  /** Answers locally (redirects, errors, maintenance page) and ends the exchange. */
  private local(status: number, body: string, isClosing: boolean, contentType?: string, headers: string[] = []): void {
    const closeAfter = isClosing || this.closeAfter || !this.req.isDone;
    countResponse(this.rt.state.counters, status);
    this.releaseServer();
    this.phase = 'done';
    this.req.stop();
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
    this.req.stop();
    this.cancel?.();
    this.tunnel?.forget();
    const conn = this.conn;
    this.conn = null;
    conn?.destroy();
    this.releaseServer();
    this.s.destroy();
  }

  private logged(status: number, code: string): void {
    const bytesIn = this.headBytes + this.req.bytes;
    logAccess(this.rt, this.s.clientIp, this.s.clientPort, this.head, this.served, status, bytesIn, this.outBytes, this, code);
  }
}
