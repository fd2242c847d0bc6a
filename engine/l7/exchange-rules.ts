/**
 * What the service's rules make of one exchange, whichever protocol the client speaks: HTTP/1.1 (http-proxy.ts) and
 * HTTP/2 (h2-exchange.ts) both call these, so a redirect, a route, a rewrite, a persistence decision, HSTS and the
 * answers the proxy gives itself cannot differ between them.
 *
 *   request head ─► routeRequest: https redirect, redirect rules, content switching (group), rewrite (target),
 *                   persistence lookup (persistentName), the hash key of sh/uri
 *   response     ─► responseFields: header rules, then ownResponseFields: HSTS, the insert cookie / learnt source or
 *                   application cookie (exchange-persistence.ts); countServerResponse, logResponseRefusal
 *   server       ─► serverConnection: a pooled connection, or a new one (with the PROXY preface)
 *   no server    ─► choiceFailure: 503 text or the maintenance page; 502/504 after every server failed
 */
import type { RequestHead } from './http-codec.ts';
import type { HttpParseError } from './http-refusals.ts';
import { logRefusal } from './proxy-log.ts';
import { countResponse } from './stats.ts';
import type { Choice } from './dispatch.ts';
import { applyHeaderRules, redirectLocation, rewriteTarget } from './rules.ts';
import { learnPersistence, lookupPersistence } from './exchange-persistence.ts';
import type { ServerState, ServiceRuntime } from './service.ts';
import type net from 'node:net';
import { proxyHeader } from './proxy-protocol.ts';
import type { UpstreamConn } from './upstream.ts';

const MAINTENANCE_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Service temporarily unavailable</title></head>' +
  '<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto"><h1>Service temporarily unavailable</h1>' +
  '<p>This service is undergoing maintenance. Please try again in a few minutes.</p></body></html>';

/** The routing state an exchange carries from its request to its response (the exchange objects implement it). */
export interface Routing {
  group: string;
  hashKey: string;
  /** The server persistence points at, if any. */
  persistentName?: string;
  /** The chosen server is the one persistence named. */
  isPersistent: boolean;
  /** source-ip persistence: the client's masked address. */
  sourceKeyValue: string;
  /** Times carried by the client's insert cookie (max life, max idle). */
  cookieFirstSeen: number | undefined;
  cookieLastSeen: number | undefined;
}

export interface RouteClient {
  readonly clientIp: string;
  readonly isTls: boolean;
}

export interface Redirect {
  status: number;
  location: string;
}

/**
 * Runs the request side of the rules for `head`, filling `into`. Returns the redirect to answer with, or the target
 * (rewritten) to send to the real server.
 */
export function routeRequest(rt: ServiceRuntime, head: RequestHead, client: RouteClient, into: Routing): Redirect | string {
  const l7 = rt.plan.layer7;
  const hostHeader = head.host ?? '';
  if (l7.httpsRedirect && !client.isTls) {
    const port = l7.httpsRedirect.port;
    return {
      status: l7.httpsRedirect.status,
      location: `https://${stripPort(hostHeader)}${port !== undefined && port !== 443 ? `:${port}` : ''}${head.target}`,
    };
  }
  const rules = rt.rules;
  const needMatch = rules.redirects.length > 0 || rules.routes.length > 0;
  // The path and the host are only for rules and the uri scheduler: most requests need neither.
  const path = needMatch || rt.plan.scheduler === 'uri' ? pathOf(head.target) : '';
  const input = needMatch ? { path, host: stripPort(hostHeader).toLowerCase(), headers: head.headers, clientIp: client.clientIp } : null;
  for (const r of rules.redirects) {
    if (r.test(input!)) return { status: r.status, location: redirectLocation(r.location, hostHeader, head.target) };
  }
  for (const r of rules.routes) {
    if (r.test(input!)) {
      into.group = r.group;
      break;
    }
  }
  lookupPersistence(rt, head, client.clientIp, into);
  if (rt.plan.scheduler === 'sh') into.hashKey = client.clientIp;
  else if (rt.plan.scheduler === 'uri') into.hashKey = path;
  return rewriteTarget(head.target, rules.rewrites);
}

/** Whether the response's fields must be handled as a name/value list (header rules, application cookies). */
export function isListedResponse(rt: ServiceRuntime): boolean {
  return rt.rules.responseHeaders.length > 0 || rt.plan.persistence.type === 'app-cookie';
}

/**
 * The response's fields as they go to the client: the service's header rules applied to the server's fields `out`
 * (a name/value list), then the proxy's own (ownResponseFields).
 */
export function responseFields(rt: ServiceRuntime, out: string[], isTls: boolean, server: ServerState, r: Routing): string[] {
  if (rt.rules.responseHeaders.length > 0) applyHeaderRules(out, rt.rules.responseHeaders);
  ownResponseFields(rt, out, isTls, server, r);
  return out;
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

/** A real server's response the codec refused: logged once, the same way for both protocols (the client gets 502). */
export function logResponseRefusal(rt: ServiceRuntime, client: string, server: ServerState | null, err: HttpParseError): void {
  logRefusal({ code: err.code, status: 502, reason: err.message, service: rt.plan.name, client, side: 'response', server: server?.name });
}

/** The proxy's own response fields (HSTS, the insert cookie), appended to `out`; learns persistence from `out`. */
export function ownResponseFields(rt: ServiceRuntime, out: string[], isTls: boolean, server: ServerState, r: Routing): void {
  const l7 = rt.plan.layer7;
  if (l7.hsts && isTls) {
    out.push('Strict-Transport-Security', `max-age=${l7.hsts.maxAgeSeconds}${l7.hsts.includeSubDomains ? '; includeSubDomains' : ''}`);
  }
  learnPersistence(rt, out, isTls, server, r);
}

/** The client connection as serverConnection needs it: its socket (PROXY addresses) and the port it came to. */
export interface ConnectingClient {
  readonly socket: net.Socket;
  readonly listener: { readonly port: number };
}

/**
 * A connection to `server` for one exchange of `client`: an idle pooled one (unless `isFreshOnly`), else a new one.
 * With the PROXY protocol a connection names one client connection and serves only it (privateTo). `isGone` is
 * asked when a connect completes: an exchange that ended meanwhile gets nothing and the connection is closed.
 */
export function serverConnection(
  rt: ServiceRuntime,
  server: ServerState,
  client: ConnectingClient,
  isFreshOnly: boolean,
  isGone: () => boolean,
  cb: (err: Error | null, conn?: UpstreamConn) => void,
): void {
  const l7 = rt.plan.layer7;
  const owner = l7.proxyProtocol === 'none' ? null : client;
  const idle = isFreshOnly ? undefined : server.pool.take(owner);
  if (idle) return cb(null, idle);
  const sock = client.socket;
  const preface =
    l7.proxyProtocol === 'none'
      ? null
      : proxyHeader(l7.proxyProtocol, {
          sourceAddress: sock.remoteAddress ?? '',
          sourcePort: sock.remotePort ?? 0,
          destAddress: sock.localAddress ?? '',
          destPort: sock.localPort ?? 0,
        });
  server.pool.connect(
    {
      host: server.plan.address,
      port: server.plan.port ?? client.listener.port,
      connectMs: l7.timeouts.connectMs,
      idleMs: l7.timeouts.serverMs,
      tls: rt.upstreamTls,
    },
    preface,
    (err, conn) => {
      if (isGone()) {
        conn?.destroy();
        return;
      }
      if (err) return cb(err);
      server.counters.totalConnections++;
      conn!.privateTo = owner;
      cb(null, conn);
    },
  );
}

export interface LocalAnswer {
  status: number;
  body: string;
  contentType?: string;
  isClosing: boolean;
}

/** What the client is told when no server was chosen; `lastError`: the failure of the last server tried, if any. */
export function choiceFailure(rt: ServiceRuntime, error: Extract<Choice, { error: string }>['error'], lastError: Error | null): LocalAnswer {
  if (error === 'none' && lastError !== null) {
    // Every server that could take the request was tried and failed: that is a gateway error, not "no server".
    if ((lastError as NodeJS.ErrnoException).code === 'ETIMEDOUT')
      return { status: 504, body: `The real server did not accept the connection ${limitWords(lastError)}.`, isClosing: true };
    return { status: 502, body: `The real server could not be reached (${(lastError as NodeJS.ErrnoException).code ?? lastError.message}).`, isClosing: true };
  }
  if (error === 'none' && rt.plan.fallback?.type === 'maintenance-page') {
    return { status: 503, body: MAINTENANCE_PAGE, contentType: 'text/html; charset=utf-8', isClosing: false };
  }
  const body =
    error === 'none'
      ? 'No real server is available for this service.'
      : error === 'queue-full'
        ? 'Every real server is at its connection limit and the queue is full.'
        : 'Every real server stayed at its connection limit for the whole queue timeout.';
  return { status: 503, body, isClosing: false };
}

/** "within 200 ms" when the timeout says its limit (a connect timeout does: the service's connectMs), else "in time". */
function limitWords(err: Error): string {
  const ms = (err as Error & { timeoutMs?: number }).timeoutMs;
  return ms === undefined ? 'in time' : `within ${ms} ms`;
}

/** The answer when the real server failed and no retry is left. */
export function upstreamFailure(err: Error, isConnect: boolean): LocalAnswer {
  if ((err as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    return {
      status: 504,
      body: isConnect ? `The real server did not accept the connection ${limitWords(err)}.` : `The real server did not answer ${limitWords(err)}.`,
      isClosing: true,
    };
  }
  return {
    status: 502,
    body: `The real server could not be reached or broke the exchange (${(err as NodeJS.ErrnoException).code ?? err.message}).`,
    isClosing: true,
  };
}

/** A request target's path: without its query. */
function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
