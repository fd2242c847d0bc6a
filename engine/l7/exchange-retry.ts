/**
 * When a request whose real server failed goes to another server, for both protocols (http-exchange.ts,
 * h2-exchange.ts). A failure before the connect completed is always retried (nothing was sent); after sending, only
 * an idempotent request without a body that got no response byte, and never after a server timeout (the server may
 * be working on it). Each exchange tries at most every server of the service once, plus two fresh connections.
 */
import { choose, release, type ChooseRequest } from './dispatch.ts';
import type { ServerState, ServiceRuntime } from './service.ts';

/** RFC 9110 §9.2.2; retried only without a body and before any response byte (see isSafeToRetry). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** What a retry changes on an exchange, HTTP/1.1's or HTTP/2's. */
export interface Retrying extends ChooseRequest {
  server: ServerState | null;
  isFreshOnly: boolean;
  persistentName?: string;
  exclude: Set<ServerState> | null;
  phase: string;
}

/**
 * A failed request may go to another server when nothing of it can have been acted on: the connect failed, or an
 * idempotent request without a body got no response byte. A server timeout is never retried (it may be working).
 */
export function isSafeToRetry(isConnect: boolean, method: string, hasBody: boolean, hasResponse: boolean, isTimeout: boolean): boolean {
  if (isConnect) return true;
  return IDEMPOTENT.has(method) && !hasBody && !hasResponse && !isTimeout;
}

/** Whether the `attempt`-th try (1 = the first retry) is still allowed: every server once, and two fresh connections. */
export function isWithinAttempts(rt: ServiceRuntime, attempt: number): boolean {
  return attempt < rt.byName.size + 2;
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
