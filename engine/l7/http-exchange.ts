/**
 * One HTTP/1.1 request and its response (http-proxy.ts makes one per request of a client connection). It is the
 * handler of the server connection while it owns it (upstream.ts's ConnHandler, as undici's dispatch handlers are)
 * and acts on what the pieces decide:
 *
 *   exchange-core.ts       the steps from a chosen server to the response's end, failures and retries (shared with
 *                          HTTP/2's h2-exchange.ts); what follows is HTTP/1.1's client side
 *   framing.ts             where the request body and the response (head, body) begin and end
 *   exchange-rules.ts      routing, redirects, persistence (exchange-persistence.ts), header rules, local answers
 *   exchange-retry.ts      whether a failed request goes to another server, and to which
 *   forward-head.ts        the heads as they go on
 *   h1-tunnel.ts           what a 101 turns the exchange into
 *
 * Phases: choose → connect → (body) → wait → response → done, or → tunnel → done.
 */
import { BODY_NONE, BODY_UNTIL_CLOSE, type RequestHead, type ResponseHead, serializeHead } from './http-codec.ts';
import { HttpParseError } from './http-refusals.ts';
import { BodyFraming } from './framing.ts';
import { BodyPump } from './h1-request-body.ts';
import { forwardedFields, interimFields, requestHeadText, responseHeadText, upgradeOf } from './forward-head.ts';
import { isListedResponse, responseFields, routeRequest } from './exchange-rules.ts';
import { ExchangeCore } from './exchange-core.ts';
import { choose } from './dispatch.ts';
import type { ServiceRuntime } from './service.ts';
import type { UpstreamConn } from './upstream.ts';
import { own, pauseReading, resumeReading } from './reader.ts';
import { writeDirect } from './writer.ts';
import { logAccess } from './access.ts';
import { Tunnel } from './h1-tunnel.ts';
import type { HttpSession } from './http-proxy.ts';

export type { Phase } from './exchange-core.ts';

export class Exchange extends ExchangeCore<HttpSession, BodyFraming> {
  /** The first byte of the request head (access.ts). */
  readonly headAt: number;
  private readonly headBytes: number;
  /** The request body, its framing and its way to the server. */
  private readonly req: BodyPump;
  private tunnel: Tunnel | null = null;
  /** The client connection closes after this exchange (its wish, or framing we cannot keep). */
  private closeAfter = false;

  constructor(s: HttpSession, rt: ServiceRuntime, head: RequestHead, headBytes: number) {
    super(s, rt, head);
    this.headBytes = headBytes;
    this.headAt = s.headAt;
    this.req = new BodyPump(head, rt.plan.layer7.limits.maxBodyBytes);
  }

  start(): void {
    const { client: s, rt, head } = this;
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
    if (typeof target !== 'string') return this.local(target.status, `Redirecting to ${target.location}\n`, false, undefined, ['Location', target.location]);

    // The head the server gets (forward-head.ts): the client's lines as they came, less hop-by-hop ones, framing
    // fields the codec replaced and the client-naming fields forwarding.ts rewrites for this peer, plus ours.
    const upgrade = upgradeOf(head);
    this.isUpgrade = upgrade !== undefined;
    this.outHead = requestHeadText(head, target, rt.forwarding.forPeer(s.clientIp), l7.requestHeaders, s, upgrade);

    // Hold the body until a server is connected.
    if (!this.req.isDone) pauseReading(s.socket);
    choose(rt, this);
  }

  protected send(conn: UpstreamConn): void {
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
    this.req.startRate(this.rt.plan.layer7, this.head, this.client.socket, () => {
      if (this.phase !== 'done') this.refuse('H1_BODY_TOO_SLOW');
    });
    sock.cork();
    sock.write(this.outHead, 'latin1');
    const pending = this.client.buf;
    this.client.buf = null;
    if (pending !== null) this.onClientBody(pending);
    sock.uncork();
    if (this.phase === 'body' && !this.client.isDead) resumeReading(this.client.socket);
  }

  // ───── request body ─────

  onClientBody(chunk: Buffer): void {
    if (this.tunnel !== null) return this.tunnel.toServer(chunk);
    const req = this.req;
    let take: number;
    try {
      take = req.forward(chunk, this.client.socket, this.conn!.socket, this.server!, this);
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      return this.refuse(err.code, err.status);
    }
    if (!req.isDone) return;
    if (take < chunk.length) {
      // The next pipelined request: keep it for later.
      this.client.buf = own(chunk.subarray(take));
      pauseReading(this.client.socket);
    }
    if (this.phase === 'body') this.phase = 'wait';
  }

  // ───── response ─────

  /** Never to an HTTP/1.0 client (RFC 9110 §15.2). */
  protected interim(res: ResponseHead): void {
    if (this.head.minor !== 0) this.writeClient(Buffer.from(serializeHead(`HTTP/1.1 ${res.status} ${res.reason}`, interimFields(res)), 'latin1'));
  }

  protected framing(res: ResponseHead): BodyFraming {
    return new BodyFraming(res, this.head.method);
  }

  protected respond(res: ResponseHead, body: BodyFraming, rest: Buffer, take: number, all: string | null, bodyAt: number): void {
    const { rt, client: s } = this;
    const server = this.server!;
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

  protected forwardData(chunk: Buffer, take: number): void {
    this.writeClient(own(take === chunk.length ? chunk : chunk.subarray(0, take)));
  }

  private backpressure(): void {
    const conn = this.conn;
    if (conn === null) return;
    pauseReading(conn.socket);
    this.client.socket.once('drain', () => resumeReading(conn.socket));
  }

  private writeClient(data: Buffer): void {
    this.rt.state.counters.bytesOut += data.length;
    this.outBytes += data.length;
    if (!writeDirect(this.client.socket, data)) this.backpressure();
  }

  /** The client half-closed its side of a tunnel: pass the FIN on. */
  clientEnded(): void {
    this.tunnel?.clientEnded();
  }

  protected finished(): void {
    this.client.exchangeDone(this.closeAfter);
  }

  // ───── the client side of the shared steps (exchange-core.ts) ─────

  protected answer(status: number, text: string, isClosing: boolean, contentType: string | undefined, headers: string[]): void {
    const closeAfter = isClosing || this.closeAfter || !this.req.isDone;
    this.outBytes += this.client.writeLocal(status, headers, text, closeAfter, contentType);
    this.logged(status, this.term);
    this.client.exchangeDone(closeAfter);
  }

  protected aborted(): void {
    this.tunnel?.forget();
    this.client.destroy();
  }

  protected abortCode(): string {
    return 'PD';
  }

  protected stopRequest(): void {
    this.req.stop();
  }

  protected isRequestDone(): boolean {
    return this.req.isDone;
  }

  protected hasRequestBody(): boolean {
    return this.req.isSent || this.req.mode !== BODY_NONE;
  }

  protected isClientGone(): boolean {
    return this.client.isDead;
  }

  protected logged(status: number, code: string): void {
    const bytesIn = this.headBytes + this.req.bytes;
    logAccess(this.rt, this.client.clientIp, this.client.clientPort, this.head, this.served, status, bytesIn, this.outBytes, this, code);
  }
}
