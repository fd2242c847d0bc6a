/**
 * One HTTP/2 stream proxied to a real server in HTTP/1.1 (h2-session.ts makes it, with the request already turned
 * into an HTTP/1.1 head by the codec). It is the HTTP/1.1 Exchange (http-exchange.ts) with a stream instead of a
 * socket on the client's side: the same ExchangeCore (exchange-core.ts: from the chosen server to the response's end,
 * failures and retries), and the same pieces: exchange-rules.ts (redirects, routes, rewrites, persistence,
 * HSTS, the proxy's own answers, when to retry), forward-head.ts (hop-by-hop fields, X-Forwarded-*, Forwarded,
 * header rules), dispatch.ts (scheduler, queue, fallback), upstream.ts (pool), slow-client.ts, stats.ts.
 *
 *   stream HEADERS ─► routeRequest ─► choose ─► pooled or new connection ─► request head (+ body: DATA frames, sent
 *     with their Content-Length, else chunked) ─► response head parsed by the codec ─► HEADERS (fields made lower
 *     case, connection-specific ones dropped, RFC 9113 §8.2.2) ─► body as DATA (chunked framing removed) ─► END_STREAM
 *
 * What differs from HTTP/1.1, by the protocol: a failure ends the stream (RST_STREAM), never the connection; a 1xx
 * goes on as an informational HEADERS frame; a request's trailers follow its last chunk (lastChunk), a chunked
 * response's its last DATA frame; there is no upgrade.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, requestBody, type RequestHead, type ResponseHead } from './http-codec.ts';
import { chunkOf, h2Fields, ResponseBody } from './h2-body.ts';
import { forwardedFields, interimFields, requestHeadText, type RequestClient } from './forward-head.ts';
import { responseFields, routeRequest } from './exchange-rules.ts';
import { type ExchangeClient, ExchangeCore } from './exchange-core.ts';
import { logRefusal, logStreamReset } from './proxy-log.ts';
import type { ResetCause } from './h2-resets.ts';
import { choose } from './dispatch.ts';
import { logAccess, stepOf } from './access.ts';
import type { ServiceRuntime } from './service.ts';
import type { UpstreamConn } from './upstream.ts';
import { own, pauseReading, resumeReading } from './reader.ts';
import { writeDirect } from './writer.ts';
import { bodyRateGuard, type BodyRateGuard } from './slow-client.ts';
import type { ListenerRef } from './http-proxy.ts';

const { NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR } = http2.constants;
const LAST_CHUNK = '0\r\n\r\n';

/** The client connection, as an exchange needs it (h2-session.ts). */
export interface H2Client extends RequestClient, ExchangeClient {
  readonly socket: net.Socket;
  readonly listener: ListenerRef;
  readonly isDead: boolean;
  exchangeDone(ex: H2Exchange): void;
  /** Why a stream's header blocks (its trailers, here) made it malformed (h2-tap.ts), or undefined. */
  malformedReason(stream: number): string | undefined;
  /** Resets a malformed stream (PROTOCOL_ERROR) and logs why. */
  malformed(stream: http2.ServerHttp2Stream, reason: string, hasExchange?: boolean): void;
}

/**
 * Trailer fields that never go on to the real server (RFC 9110 §6.5.1: framing, routing and connection fields
 * cannot be trailers; a receiver could act on them as if they had been in the head).
 */
const NO_TRAILER = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade', 'trailer']);

/**
 * The last chunk of a request body sent on chunked, with the client's trailers (RFC 9112 §7.1.2) when it sent any:
 * node:http2 gives them as a name/value list, each already checked by h2-tap.ts (no CR, LF or NUL can end a line).
 */
export function lastChunk(trailers: readonly string[] | null): string {
  if (trailers === null) return LAST_CHUNK;
  let text = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) {
    const name = trailers[i];
    if (name.charCodeAt(0) === 58 || NO_TRAILER.has(name)) continue;
    text += `${name}: ${trailers[i + 1]}\r\n`;
  }
  return `${text}\r\n`;
}

export class H2Exchange extends ExchangeCore<H2Client, ResponseBody> {
  readonly stream: http2.ServerHttp2Stream;
  // access log marks (access.ts): the head came whole in its HEADERS frame
  readonly headAt = this.startAt;
  // request body
  private hasBody = false;
  private isReqChunked = false;
  private reqDone = true;
  private reqBodySent = false;
  private reqBytes = 0;
  private isListening = false;
  /** The request's trailers (node:http2's raw list), once they came. */
  private reqTrailers: string[] | null = null;
  /** The proxy paused the stream (the server cannot take more): not the client's slowness. */
  private isClientHeld = false;
  private rate: BodyRateGuard | null = null;

  constructor(c: H2Client, rt: ServiceRuntime, stream: http2.ServerHttp2Stream, head: RequestHead) {
    super(c, rt, head);
    this.stream = stream;
  }

  start(): void {
    const { client: c, rt, head } = this;
    const l7 = rt.plan.layer7;
    rt.state.counters.requests++;
    rt.state.counters.bytesIn += head.raw.length + 4;
    const mode = requestBody(head);
    if (mode === BODY_LENGTH && head.contentLength > l7.limits.maxBodyBytes) return this.refuse('H1_BODY_TOO_LARGE');
    this.hasBody = mode !== BODY_NONE;
    this.isReqChunked = mode === BODY_CHUNKED;
    this.reqDone = !this.hasBody;
    // Trailers come before the body's end, maybe before a server is chosen: kept until the last chunk is written.
    // Over Content-Length they have nowhere to go in HTTP/1.1 and are dropped, as HAProxy does.
    if (this.hasBody) this.stream.once('trailers', (_h: unknown, _f: unknown, raw: string[]) => this.onClientTrailers(raw));
    // Redirects, content switching, rewrites and persistence: the same function as HTTP/1.1's.
    const target = routeRequest(rt, head, c, this);
    if (typeof target !== 'string') return this.local(target.status, `Redirecting to ${target.location}\n`, false, undefined, ['location', target.location]);
    this.outHead = requestHeadText(head, target, rt.forwarding.forPeer(c.clientIp), l7.requestHeaders, c, undefined);
    // The body waits in the stream (its flow-control window holds the client back) until a server is connected.
    choose(rt, this);
  }

  protected send(conn: UpstreamConn): void {
    this.conn = conn;
    this.sentAt = performance.now();
    conn.handler = this;
    const server = this.server!;
    server.counters.requests++;
    server.counters.bytesIn += this.outHead.length;
    writeDirect(conn.socket, this.outHead);
    if (this.reqDone) {
      this.phase = 'wait';
      return;
    }
    this.phase = 'body';
    this.rate = bodyRateGuard(
      this.rt.plan.layer7,
      this.head,
      () => this.isClientHeld,
      () => {
        if (this.phase !== 'done') this.refuse('H1_BODY_TOO_SLOW');
      },
    );
    if (this.isListening) {
      this.stream.resume();
      return;
    }
    this.isListening = true;
    this.stream.on('data', (d: Buffer) => this.onClientBody(d));
    this.stream.on('end', () => this.onClientEnd());
  }

  private onClientBody(d: Buffer): void {
    if (this.phase !== 'body' && this.phase !== 'wait' && this.phase !== 'response') return;
    const conn = this.conn;
    if (conn === null || this.reqDone) return;
    this.reqBytes += d.length;
    if (this.reqBytes > this.rt.plan.layer7.limits.maxBodyBytes) return this.refuse('H1_BODY_TOO_LARGE');
    if (d.length === 0) return;
    this.rate?.add(d.length);
    this.reqBodySent = true;
    this.server!.counters.bytesIn += d.length;
    this.rt.state.counters.bytesIn += d.length;
    const out = this.isReqChunked ? chunkOf(d) : d;
    if (!writeDirect(conn.socket, out) && !this.isClientHeld) {
      this.isClientHeld = true;
      this.rate?.hold();
      this.stream.pause();
      conn.socket.once('drain', () => {
        this.isClientHeld = false;
        if (this.phase !== 'done') this.stream.resume();
      });
    }
  }

  /** A trailer field HTTP/2 forbids makes the whole request malformed (RFC 9113 §8.1.1): reset, the server cut. */
  private onClientTrailers(raw: string[]): void {
    if (this.phase === 'done') return;
    const bad = this.client.malformedReason(this.stream.id ?? 0);
    if (bad === undefined) {
      this.reqTrailers = raw;
      return;
    }
    this.client.malformed(this.stream, bad, true);
    this.term = 'PR';
    this.abort('PR');
  }

  private onClientEnd(): void {
    if (this.reqDone || this.phase === 'done') return;
    this.reqDone = true;
    this.rate?.stop();
    if (this.isReqChunked && this.conn !== null) writeDirect(this.conn.socket, lastChunk(this.reqTrailers));
    if (this.phase === 'body') this.phase = 'wait';
    // The response may have ended before the body did (then the server connection was not reusable).
  }

  // ───── response ─────

  /** An informational HEADERS frame (RFC 9113 §8.1). */
  protected interim(res: ResponseHead): void {
    if (!this.stream.destroyed) this.stream.additionalHeaders(h2Fields(interimFields(res), res.status, false));
  }

  protected framing(res: ResponseHead): ResponseBody {
    return new ResponseBody(res, this.head.method);
  }

  protected respond(res: ResponseHead, body: ResponseBody, rest: Buffer, take: number): void {
    const { rt, client: c } = this;
    const server = this.server!;
    if (body.mode === BODY_UNTIL_CLOSE || !this.reqDone || res.isAmbiguous || (body.mode === BODY_NONE && rest.length > 0)) this.isUpstreamReusable = false;

    const out = responseFields(rt, forwardedFields(res), c.isTls, server, this);
    if (this.stream.destroyed) return this.abort();
    this.resStarted = true;
    this.phase = 'response';
    rt.state.counters.bytesOut += res.raw.length + 4;
    this.outBytes += res.raw.length + 4;
    const isChunked = body.mode === BODY_CHUNKED;
    // A chunked body may end with trailers (gRPC's status is one): they follow the last DATA as a HEADERS frame.
    this.stream.respond(h2Fields(out, res.status, isChunked), { endStream: body.mode === BODY_NONE, waitForTrailers: isChunked });
    if (isChunked) this.stream.once('wantTrailers', () => this.sendTrailers());
    if (body.mode === BODY_NONE) return this.finish();
    if (take > 0) body.data(rest, take, this.writeClient);
    this.afterBody(take, rest.length);
  }

  protected forwardData(chunk: Buffer, take: number): void {
    this.body!.data(chunk, take, this.writeClient);
  }

  /** Response data (borrowed) to the client as DATA; a full window pauses the server (an arrow: body.data's callback). */
  private readonly writeClient = (d: Buffer): void => {
    if (d.length === 0 || this.stream.destroyed) return;
    this.rt.state.counters.bytesOut += d.length;
    this.outBytes += d.length;
    if (this.stream.write(own(d)) || this.isServerHeld || this.conn === null) return;
    // The client's window is full: stop reading the server until the stream drains.
    const conn = this.conn;
    this.isServerHeld = true;
    pauseReading(conn.socket);
    this.stream.once('drain', () => {
      this.isServerHeld = false;
      if (!conn.isDead) resumeReading(conn.socket);
    });
  };

  /** The response's trailers (none: node:http2 ends the stream with an empty DATA frame); a bad one resets it. */
  private sendTrailers(): void {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const t = this.body!.trailers();
    if ('fields' in t) {
      stream.sendTrailers(t.fields);
      return;
    }
    // The response is out already: the client learns of it by the reset (RFC 9113 §8.1.1), the log by the reason.
    logRefusal({ code: 'H2_MALFORMED_FIELD', status: 502, reason: t.problem, service: this.rt.plan.name, client: this.client.clientIp, side: 'response' });
    stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  protected finished(): void {
    const stream = this.stream;
    if (!stream.destroyed && !stream.writableEnded) stream.end();
    // The answer is complete while the client still sends a body: it may stop (RFC 9113 §8.1).
    if (!this.reqDone && !stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
    this.client.exchangeDone(this);
  }

  // ───── the client side of the shared steps (exchange-core.ts): a failure ends the stream, the connection stays ─────

  protected answer(status: number, text: string, _isClosing: boolean, contentType = 'text/plain; charset=utf-8', extra: string[]): void {
    const stream = this.stream;
    if (!stream.destroyed && !stream.headersSent) {
      const bytes = Buffer.from(text, 'utf8');
      const h: http2.OutgoingHttpHeaders = { ':status': status, 'content-type': contentType, 'content-length': bytes.length, 'cache-control': 'no-store' };
      for (let i = 0; i < extra.length; i += 2) h[extra[i]] = extra[i + 1];
      this.rt.state.counters.bytesOut += bytes.length;
      this.outBytes += bytes.length;
      stream.respond(h);
      if (this.reqDone) stream.end(this.head.method === 'HEAD' ? undefined : bytes);
      else stream.end(bytes, () => stream.close(NGHTTP2_NO_ERROR));
    }
    this.logged(status, this.term);
    this.client.exchangeDone(this);
  }

  /**
   * The stream closed while the exchange was still going: reset by the client or by the proxy (h2-resets.ts; logged
   * with who, why and the status the client got), or without a reset (the connection went).
   */
  streamClosed(cause: ResetCause | null): void {
    if (this.phase === 'done') return;
    if (cause === null) return this.abort();
    const termination = `${cause.by === 'client' ? 'C' : 'P'}${stepOf(this.phase)}`;
    const status = this.resStarted ? this.res!.status : -1;
    logStreamReset({ service: this.rt.plan.name, client: this.client.clientIp, stream: this.stream.id ?? 0, ...cause, termination, status });
    this.abort(termination);
  }

  /** The stream is reset; the server connection is closed already (exchange-core.ts abort). */
  protected aborted(): void {
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
    this.client.exchangeDone(this);
  }

  protected abortCode(): string {
    return `C${stepOf(this.phase)}`;
  }

  protected stopRequest(): void {
    this.rate?.stop();
  }

  protected isRequestDone(): boolean {
    return this.reqDone;
  }

  protected hasRequestBody(): boolean {
    return this.reqBodySent || this.hasBody;
  }

  protected isClientGone(): boolean {
    return this.client.isDead || this.stream.destroyed;
  }

  protected logged(status: number, code: string): void {
    const c = this.client;
    logAccess(this.rt, c.clientIp, c.socket.remotePort, this.head, this.served, status, this.head.raw.length + 4 + this.reqBytes, this.outBytes, this, code);
  }
}
