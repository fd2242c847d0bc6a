/**
 * HTTP/2 from clients (RFC 9113): a TLS connection that chose `h2` by ALPN, or, when the service allows h2c, a plain
 * one that starts with the HTTP/2 preface (prior knowledge, §3.3). Real servers are spoken to in HTTP/1.1, one stream
 * at a time per server connection, from the same pools as HTTP/1.1 clients (h2-exchange.ts).
 *
 * Why node:http2 for the framing: HTTP/2 is binary framing, HPACK with its dynamic table and Huffman code, flow
 * control per stream and per connection, and a stream state machine — the part of the protocol where the known
 * attacks live. node:http2 is nghttp2 (the library curl, Apache and h2load use), kept up to date with Node's security
 * releases (1.61 here: CONTINUATION flood, CVE-2024-27983 / CVE-2024-28182) and validating what RFC 9113 §8 asks: the
 * pseudo-fields, connection-specific fields (§8.2.2: Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
 * Upgrade and TE other than "trailers" make the stream malformed and it is reset), upper-case names, Content-Length
 * against the DATA received. Its per-stream objects cost more than the HTTP/1.1 path's, which is measured in
 * `bench l7-h2:` against HAProxy and nginx; framing of our own would be a large, security-critical codec to keep.
 *
 * Each stream's head becomes an HTTP/1.1 head (requestHead below: `:authority` becomes Host, Cookie fields are joined
 * with "; ", §8.2.3) and is parsed by the same codec as an HTTP/1.1 request, so every field check and refusal is the
 * HTTP/1.1 one; a refusal answers that stream with its status, the connection stays.
 *
 * HTTP/2's own protections, per connection (schema layer7.http2):
 *   SETTINGS_MAX_CONCURRENT_STREAMS   maxConcurrentStreams; a stream beyond it is refused (RST_STREAM by nghttp2)
 *   SETTINGS_MAX_HEADER_LIST_SIZE     limits.maxHeaderBytes, as for HTTP/1.1; a larger head resets the stream
 *   CONTINUATION flood                nghttp2 ends the connection (GOAWAY) after a few CONTINUATION frames carry no
 *                                     END_HEADERS, and the header list limit bounds what they may hold
 *   SETTINGS per frame                at most 32 entries (Node's maxSettings), else GOAWAY
 *   rapid reset (CVE-2023-44487)      more than maxResets streams reset by the client within abuseWindowMs: GOAWAY
 *                                     ENHANCE_YOUR_CALM and the connection closes; logged
 *   SETTINGS / PING flood             more than maxControlFrames within abuseWindowMs: the same
 *   idle connection                   closed after timeouts.clientMs with no stream open
 */
import http2 from 'node:http2';
import type net from 'node:net';
import { HttpParseError, parseRequestText, type RequestHead } from './http-codec.ts';
import { H2Exchange, type H2Client } from './h2-exchange.ts';
import type { ListenerRef, Session } from './http-proxy.ts';
import { logConnectionRefusal, logRefusal } from './proxy-log.ts';
import { plainIp } from './rules.ts';
import { countResponse } from './stats.ts';
import { FieldTap } from './h2-tap.ts';
import { errorName, logUnansweredReset, resetCause } from './h2-resets.ts';
import { logAccess } from './access.ts';
import type { ServiceRuntime } from './service.ts';

const NO_MARKS = { headAt: 0, startAt: 0, chosenAt: 0, sentAt: 0, resAt: 0 };
const { NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_PROTOCOL_ERROR, NGHTTP2_COMPRESSION_ERROR } = http2.constants;
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One http2 server object per service runtime: it only holds the settings and makes sessions; it listens nowhere. */
const servers = new WeakMap<ServiceRuntime, http2.Http2Server>();
/** The session being made: node:http2 emits 'session' synchronously inside emit('connection'). */
let adopting: H2Session | null = null;

function serverFor(rt: ServiceRuntime): http2.Http2Server {
  let srv = servers.get(rt);
  if (srv !== undefined) return srv;
  const l7 = rt.plan.layer7;
  srv = http2.createServer({
    settings: { maxConcurrentStreams: l7.http2.maxConcurrentStreams, maxHeaderListSize: l7.limits.maxHeaderBytes, enablePush: false },
    // Fields per head: HAProxy's default tune.http.maxhdr is 101; 128 is Node's, kept.
    maxHeaderListPairs: 128,
    maxSettings: 32,
    maxOutstandingPings: 10,
  });
  srv.on('session', (session: http2.ServerHttp2Session) => adopting?.adopt(session));
  servers.set(rt, srv);
  return srv;
}

/** Whether `chunk`, the first bytes of a plain connection, starts (as far as it goes) with the HTTP/2 preface. */
export function isH2Preface(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, H2_PREFACE.length);
  return n >= 3 && chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
}

export class H2Session implements Session, H2Client {
  readonly socket: net.Socket;
  readonly listener: ListenerRef;
  readonly isTls: boolean;
  readonly clientIp: string;
  isDead = false;
  /** The client's bytes on their way to node:http2, with every header block checked (h2-tap.ts). */
  readonly tap: FieldTap;
  private session: http2.ServerHttp2Session | null = null;
  private readonly exchanges = new Set<H2Exchange>();
  /** Streams whose reset onProxyReset logged before node:http2 announced them (destroyed) — not logged twice. */
  private readonly loggedResets = new Set<number>();
  private readonly counters;
  private readonly service: string;
  private windowStart = Date.now();
  private resets = 0;
  private controls = 0;
  private isClosing = false;

  constructor(socket: net.Socket, listener: ListenerRef, isTls: boolean, rt: ServiceRuntime) {
    this.socket = socket;
    this.listener = listener;
    this.isTls = isTls;
    this.clientIp = plainIp(socket.remoteAddress);
    this.service = rt.plan.name;
    this.counters = rt.state.counters;
    this.counters.activeConnections++;
    this.counters.totalConnections++;
    listener.sessions.add(this);
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    this.tap = new FieldTap(socket, (reason, isCompression) => {
      logConnectionRefusal({ code: isCompression ? 'H2_COMPRESSION_ERROR' : 'H2_FRAMING', reason, service: this.service, client: this.clientIp });
      this.destroy(isCompression ? NGHTTP2_COMPRESSION_ERROR : NGHTTP2_PROTOCOL_ERROR);
    });
    this.tap.onReset = (stream, code) => this.onProxyReset(stream, code);
    adopting = this;
    try {
      serverFor(rt).emit('connection', this.tap);
    } finally {
      adopting = null;
    }
    if (this.session === null) this.destroy();
  }

  adopt(session: http2.ServerHttp2Session): void {
    this.session = session;
    const rt = this.listener.rt!;
    session.on('stream', (stream: http2.ServerHttp2Stream, _h: unknown, _f: unknown, raw: string[]) => this.onStream(stream, raw));
    session.on('remoteSettings', () => this.count('controls'));
    session.on('ping', () => this.count('controls'));
    session.on('error', () => this.destroy());
    session.on('close', () => this.destroy());
    session.setTimeout(rt.plan.layer7.timeouts.clientMs, () => {
      // Waiting for a server is not the client's fault: only a connection with no stream open is idle.
      if (this.exchanges.size === 0) this.destroy();
    });
  }

  vipHost(): string {
    const a = this.socket.localAddress ?? '';
    return `${a.includes(':') ? `[${a}]` : a}:${this.socket.localPort}`;
  }

  get clientPort(): number | undefined {
    return this.socket.remotePort;
  }

  private onStream(stream: http2.ServerHttp2Stream, raw: string[]): void {
    // An announced stream has its id (undefined only before its HEADERS are sent, for streams this side opens).
    const id = stream.id ?? 0;
    const tap = this.tap;
    if (id > tap.lastStream) tap.lastStream = id;
    tap.unannounced.delete(id);
    stream.on('error', () => undefined);
    // A reset that came in the same read as the HEADERS has already closed the stream when it is announced.
    if (stream.destroyed) {
      const cause = resetCause(tap.clientResets.get(id), stream.rstCode);
      tap.clientResets.delete(id);
      const rt = this.listener.rt;
      // nghttp2's own reset may have gone out (and been logged) before node:http2 announced the stream.
      const isLogged = this.loggedResets.delete(id);
      if (cause !== null && rt !== null && !isLogged) logUnansweredReset(rt, this, id, cause);
      return this.count('resets');
    }
    // A malformed request is this side's reset, not the client's: it does not count towards rapid reset.
    const bad = this.tap.malformed.get(id);
    if (bad !== undefined) {
      this.tap.malformed.delete(id);
      return this.malformed(stream, bad);
    }
    stream.on('aborted', () => this.count('resets'));
    let ex: H2Exchange | null = null;
    stream.on('close', () => {
      tap.malformed.delete(id);
      const clientCode = tap.clientResets.get(id);
      tap.clientResets.delete(id);
      // A connection that went takes its streams with a code of its own (CANCEL): that is no one's reset.
      const isGone = this.isDead || this.session === null || this.session.destroyed;
      ex?.streamClosed(resetCause(clientCode, isGone ? undefined : stream.rstCode));
    });
    const rt = this.listener.rt;
    if (rt === null || this.listener.isClosed || this.isClosing) {
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    let head: RequestHead;
    try {
      head = requestHead(raw, stream.endAfterHeaders, rt.plan.layer7.limits.maxHeaderBytes);
    } catch (err) {
      if (!(err instanceof HttpParseError)) throw err;
      logRefusal({ code: err.code, status: err.status, reason: err.message, service: rt.plan.name, client: this.clientIp, side: 'request' });
      countResponse(rt.state.counters, err.status);
      stream.respond({ ':status': err.status, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      stream.end(`${err.message}\n`);
      return;
    }
    ex = new H2Exchange(this, rt, stream, head);
    this.exchanges.add(ex);
    ex.start();
  }

  malformedReason(stream: number): string | undefined {
    return this.tap.malformed.get(stream);
  }

  /**
   * A request with a field HTTP/2 forbids is malformed (RFC 9113 §8.1.1): a stream error PROTOCOL_ERROR, nothing of it
   * forwarded. Logged with 400, the status the same request gets over HTTP/1.1; the client gets the reset.
   */
  malformed(stream: http2.ServerHttp2Stream, reason: string, hasExchange = false): void {
    const rt = this.listener.rt;
    if (rt !== null) {
      // The client gets no status, only the reset: -1 in both logs (the exchange logs its own access entry).
      if (!hasExchange) logAccess(rt, this.clientIp, this.clientPort, null, undefined, -1, 0, 0, NO_MARKS, 'PR');
      logRefusal({
        code: 'H2_MALFORMED_FIELD',
        status: -1,
        reason: `${reason}; the stream was reset (PROTOCOL_ERROR)`,
        service: rt.plan.name,
        client: this.clientIp,
        side: 'request',
      });
      countResponse(rt.state.counters, 400);
    }
    if (!stream.destroyed) stream.close(NGHTTP2_PROTOCOL_ERROR);
  }

  /**
   * A RST_STREAM going out (h2-tap.ts). For an announced stream its exchange logs the reset when the stream closes; a
   * stream nghttp2 reset before announcing it (a field it refuses, too many fields, over the concurrency limit) is
   * logged here, with the tap's reason when it found one.
   */
  private onProxyReset(stream: number, code: number): void {
    const tap = this.tap;
    if (!tap.unannounced.delete(stream)) return;
    const rt = this.listener.rt;
    const why = tap.malformed.get(stream);
    tap.malformed.delete(stream);
    if (rt === null) return;
    if (this.loggedResets.size >= 1024) this.loggedResets.clear();
    this.loggedResets.add(stream);
    const error = errorName(code);
    const reason =
      why !== undefined ? `${why}; nghttp2 reset the stream (RST_STREAM ${error})` : `nghttp2 reset the stream before it began (RST_STREAM ${error})`;
    logUnansweredReset(rt, this, stream, { by: 'proxy', error, reason });
  }

  /**
   * Counts a stream the client reset, or a SETTINGS or PING frame, within the current abuse window; over the limit
   * the connection goes with GOAWAY ENHANCE_YOUR_CALM (what nginx and HAProxy answer a rapid reset with), logged.
   */
  private count(kind: 'resets' | 'controls'): void {
    const rt = this.listener.rt;
    if (rt === null || this.isDead) return;
    const h = rt.plan.layer7.http2;
    const now = Date.now();
    if (now - this.windowStart >= h.abuseWindowMs) {
      this.windowStart = now;
      this.resets = 0;
      this.controls = 0;
    }
    const n = ++this[kind];
    const max = kind === 'resets' ? h.maxResets : h.maxControlFrames;
    if (n <= max) return;
    const code = kind === 'resets' ? 'H2_RAPID_RESET' : 'H2_CONTROL_FLOOD';
    const what = kind === 'resets' ? 'streams reset' : 'SETTINGS and PING frames';
    logConnectionRefusal({
      code,
      reason: `more than ${max} ${what} within ${h.abuseWindowMs} ms (HTTP/2 GOAWAY ENHANCE_YOUR_CALM)`,
      service: this.service,
      client: this.clientIp,
    });
    this.destroy(NGHTTP2_ENHANCE_YOUR_CALM);
  }

  exchangeDone(ex: H2Exchange): void {
    this.exchanges.delete(ex);
    if (this.isClosing && this.exchanges.size === 0) this.session?.close();
  }

  /** Closing: GOAWAY now (no new streams), the open ones finish, then the connection closes. */
  closeIfIdle(): void {
    this.isClosing = true;
    if (this.session === null || this.session.destroyed) return this.destroy();
    this.session.close();
  }

  /** `code`: the error code of the final GOAWAY. */
  destroy(code?: number): void {
    if (this.isDead) return;
    this.isDead = true;
    this.counters.activeConnections--;
    this.listener.sessions.delete(this);
    for (const ex of [...this.exchanges]) ex.abort();
    const session = this.session;
    if (session !== null && !session.destroyed) {
      // With a code, node:http2 sends GOAWAY with it, then closes the socket (its 'error' finds us dead already).
      if (code === undefined) session.destroy();
      else session.destroy(new Error('HTTP/2 abuse limit'), code);
    } else this.socket.destroy();
  }
}

/**
 * A stream's fields (node:http2's raw list: name, value …, validated by nghttp2) as an HTTP/1.1 request head, parsed
 * by the codec. `:authority` becomes Host (RFC 9113 §8.3.1); a Host field that disagrees with it is kept as a second
 * Host line, which the codec refuses (a request for two hosts); Cookie fields are joined with "; " (§8.2.3); a body
 * without Content-Length is sent on chunked. CONNECT is refused as it is in HTTP/1.1 (501).
 */
export function requestHead(raw: readonly string[], isEnded: boolean, maxBytes: number): RequestHead {
  let method = '';
  let path = '';
  let authority: string | undefined;
  const hosts: string[] = [];
  const cookies: string[] = [];
  let fields = '';
  let hasLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.charCodeAt(0) === 58) {
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      continue;
    }
    if (name === 'host') hosts.push(value);
    else if (name === 'cookie') cookies.push(value);
    else {
      if (name === 'content-length') hasLength = true;
      fields += `\r\n${name}: ${value}`;
    }
  }
  if (method === 'CONNECT') throw new HttpParseError('H1_CONNECT');
  let text = `${method} ${path} HTTP/1.1`;
  if (authority !== undefined) text += `\r\nHost: ${authority}`;
  for (const h of hosts) if (h !== authority) text += `\r\nHost: ${h}`;
  if (cookies.length > 0) text += `\r\nCookie: ${cookies.join('; ')}`;
  text += fields;
  if (!isEnded && !hasLength) text += '\r\nTransfer-Encoding: chunked';
  if (text.length + 4 > maxBytes) throw new HttpParseError('H1_HEAD_TOO_LARGE');
  return parseRequestText(text, text.length);
}
