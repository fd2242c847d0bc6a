/**
 * What HTTP/1.1's Exchange (http-exchange.ts) and an HTTP/2 stream's (h2-exchange.ts) have in common. Both speak
 * HTTP/1.1 to the real server, so from the choice of a server to the end of the response body they take the same
 * steps; this class holds them once, and each subclass says only how its client side differs:
 *
 *   done(choice) ─► connect ─► send* ─► onData: response head (interim* for 1xx) ─► respond* ─► forwardBody
 *     (forwardData*) ─► finish ─► finished*
 *   no server ─► local ─► answer*            server failed ─► upstreamFailed ─► retryElsewhere | local | abort
 *   request refused ─► refuse                response refused ─► badResponse: a 502 while nothing went out, else abort
 *   abort ─► aborted*                                                                          (* the subclass's)
 *
 * Accepts a client side that is alive at start(); a subclass's own fields hold the request body and the client's
 * connection or stream. The phases are the access log's steps (access.ts stepOf).
 */
import { BODY_NONE, BODY_UNTIL_CLOSE, type RequestHead, type ResponseHead } from './http-codec.ts';
import { HttpParseError, REFUSALS, type RefusalCode } from './http-refusals.ts';
import { type BodyFraming, keepsServerConnection, ResponseHeadReader } from './framing.ts';
import {
  choiceFailure,
  type ConnectingClient,
  countServerResponse,
  logResponseRefusal,
  type RouteClient,
  type Routing,
  serverConnection,
  upstreamFailure,
} from './exchange-rules.ts';
import { isSafeToRetry, isWithinAttempts, retryElsewhere } from './exchange-retry.ts';
import { release, type Choice, type ChooseRequest } from './dispatch.ts';
import { countResponse } from './stats.ts';
import { logRefusal } from './proxy-log.ts';
import { choiceTermination, upstreamTermination } from './access.ts';
import type { ServerState, ServiceRuntime } from './service.ts';
import type { ConnHandler, UpstreamConn } from './upstream.ts';
import { resumeReading } from './reader.ts';

export type Phase = 'choose' | 'connect' | 'body' | 'wait' | 'response' | 'tunnel' | 'done';

/** The client connection, as both protocols' exchanges need it. */
export interface ExchangeClient extends RouteClient, ConnectingClient {
  readonly isDead: boolean;
}

export abstract class ExchangeCore<C extends ExchangeClient, B extends BodyFraming> implements ConnHandler, ChooseRequest, Routing {
  readonly client: C;
  readonly rt: ServiceRuntime;
  readonly head: RequestHead;
  phase: Phase = 'choose';
  // choose request (dispatch.ts) and routing (exchange-rules.ts)
  group = '';
  hashKey = '';
  persistentName?: string;
  isPersistent = false;
  sourceKeyValue = '';
  cookieFirstSeen: number | undefined;
  cookieLastSeen: number | undefined;
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
  protected conn: UpstreamConn | null = null;
  /** The request head as the server gets it (forward-head.ts). */
  protected outHead = '';
  // access log marks (access.ts) and counts
  readonly startAt = performance.now();
  chosenAt = 0;
  sentAt = 0;
  resAt = 0;
  protected outBytes = 0;
  protected served: string | undefined;
  /** The access log's termination code of a local answer (local()). */
  protected term = 'LR';
  // response
  protected readonly resHead = new ResponseHeadReader();
  /** The final response's head, and its body's framing, once it came. */
  protected res: ResponseHead | null = null;
  protected body: B | null = null;
  protected resStarted = false;
  /** The request asked for an upgrade: a 101 may answer it (never over HTTP/2, RFC 9113 §8.6). */
  protected isUpgrade = false;
  /** The proxy paused the server connection until the client drains; resumed before the pool gets it back. */
  protected isServerHeld = false;
  /** The server connection can serve another exchange; independent of the client's wishes. */
  protected isUpstreamReusable = true;

  constructor(client: C, rt: ServiceRuntime, head: RequestHead) {
    this.client = client;
    this.rt = rt;
    this.head = head;
  }

  // ───── what the subclass does on its client side ─────

  /** The request head (and what there is of the body) to the server on `conn`, now the exchange's. */
  protected abstract send(conn: UpstreamConn): void;
  /** A 1xx (not 101) on to the client. */
  protected abstract interim(res: ResponseHead): void;
  protected abstract framing(res: ResponseHead): B;
  /** The final response on to the client; `take` bytes of `rest` are its body's (`all`, `bodyAt`: ResponseHeadReader). */
  protected abstract respond(res: ResponseHead, body: B, rest: Buffer, take: number, all: string | null, bodyAt: number): void;
  /** `take` bytes of the response body, at the start of `chunk` (borrowed), on to the client. */
  protected abstract forwardData(chunk: Buffer, take: number): void;
  /** The proxy's own answer on to the client (phase done, server released), logged; the exchange ends. */
  protected abstract answer(status: number, text: string, isClosing: boolean, contentType: string | undefined, headers: string[]): void;
  /** The response is all out and the server connection dealt with. */
  protected abstract finished(): void;
  /** After abort() let go of the server: the client side ends too. */
  protected abstract aborted(): void;
  /** The termination code of an abort() that names none. */
  protected abstract abortCode(): string;
  protected abstract stopRequest(): void;
  protected abstract isRequestDone(): boolean;
  /** Some of the request body went to a server, or there is one to send (a retry would send it again). */
  protected abstract hasRequestBody(): boolean;
  /** The client cannot take an answer any more (a retry would be for nobody). */
  protected abstract isClientGone(): boolean;
  protected abstract logged(status: number, code: string): void;

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
      this.client,
      this.isFreshOnly,
      () => this.phase === 'done',
      (err, conn) => (err ? this.upstreamFailed(err, true) : this.send(conn!)),
    );
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
    if (res.status === 101 && !this.isUpgrade) return this.badResponse(new HttpParseError('H1_UNASKED_101', true));
    if (res.status < 200 && res.status !== 101) {
      // Interim (100 Continue, 103 Early Hints): passed on, then the final response is read.
      this.interim(res);
      if (rest.length > 0) this.onData(rest);
      return;
    }
    this.res = res;
    this.startResponse(res, rest, text, bodyAt);
  }

  private startResponse(res: ResponseHead, rest: Buffer, all: string | null, bodyAt: number): void {
    const body = (this.body = this.framing(res));
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
    countServerResponse(this.rt, this.server!, this.resAt - this.startAt, res.status);
    this.respond(res, body, rest, take, all, bodyAt);
  }

  private forwardBody(chunk: Buffer): void {
    let take: number;
    try {
      take = this.body!.extent(chunk);
    } catch (err) {
      // Part of the response is out: cutting the connection is all that is left; the refusal is still logged.
      if (err instanceof HttpParseError) logResponseRefusal(this.rt, this.client.clientIp, this.server, err);
      return this.abort('PD');
    }
    if (take > 0) this.forwardData(chunk, take);
    this.afterBody(take, chunk.length);
  }

  protected afterBody(take: number, length: number): void {
    if (!this.body!.isEnded) return;
    // Bytes after the end of the response: the server broke framing; do not reuse this connection.
    if (take < length) this.isUpstreamReusable = false;
    this.finish();
  }

  protected finish(): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.logged(this.res!.status, '--');
    this.stopRequest();
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      // A client that closes does not spoil the server connection: it goes back to the pool for the next client.
      if (this.isUpstreamReusable && this.isRequestDone() && keepsServerConnection(this.res!)) {
        if (this.isServerHeld) resumeReading(conn.socket);
        conn.pool.release(conn);
      } else conn.destroy();
    }
    this.releaseServer();
    this.finished();
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
    const isSafe = isSafeToRetry(isConnect, this.head.method, this.hasRequestBody(), this.res !== null || this.resHead.isPartial, isTimeout);
    this.lastError = err;
    if (isSafe && isWithinAttempts(this.rt, ++this.attempts) && !this.isClientGone()) return retryElsewhere(this.rt, this, server, wasReused, isConnect);
    const a = upstreamFailure(err, isConnect);
    this.term = upstreamTermination(err, isConnect);
    this.local(a.status, a.body, a.isClosing);
  }

  /** Answers locally (redirects, errors, maintenance page) and ends the exchange. */
  protected local(status: number, body: string, isClosing: boolean, contentType?: string, headers: string[] = []): void {
    countResponse(this.rt.state.counters, status);
    this.releaseServer();
    this.phase = 'done';
    this.stopRequest();
    this.answer(status, body.endsWith('\n') || body.startsWith('<') ? body : `${body}\n`, isClosing, contentType, headers);
  }

  /** Refuses the client's request (before it is forwarded, or its body on the way): its status, logged. */
  protected refuse(code: RefusalCode, status: number = REFUSALS[code].status): void {
    logRefusal({ code, status, reason: REFUSALS[code].message, service: this.rt.plan.name, client: this.client.clientIp, side: 'request' });
    this.term = code === 'H1_BODY_TOO_SLOW' ? 'cD' : 'PR';
    this.abortWith(status, REFUSALS[code].message);
  }

  /** Refuses the server's response before any of it went out: 502, logged, and that server connection is closed. */
  private badResponse(err: unknown): void {
    if (!(err instanceof HttpParseError)) throw err;
    logResponseRefusal(this.rt, this.client.clientIp, this.server, err);
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
  abort(code = this.abortCode()): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.logged(this.res?.status ?? -1, code);
    this.stopRequest();
    this.cancel?.();
    const conn = this.conn;
    this.conn = null;
    conn?.destroy();
    this.releaseServer();
    this.aborted();
  }
}
