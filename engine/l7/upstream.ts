/**
 * Connections to one real server: a keep-alive pool (idle connections reused last-in first-out, so the fewest stay
 * warm and the rest time out) and the connect itself, with its timeout, optional TLS (re-encryption) and the
 * PROXY protocol preface.
 *
 * A connection serves one exchange at a time. Its socket's events go to `handler` while an exchange owns it; an idle
 * connection that hears anything (the server closing, or bytes nobody asked for) is destroyed and leaves the pool.
 * One inactivity timeout (idle.ts) does double duty: for an idle connection it is the keep-alive limit, for a busy one
 * the server timeout (the caller answers 504), so no timer is set per request.
 */
import net from 'node:net';
import tls from 'node:tls';
import { connectDirect, routeDataEvents, setReader } from './reader.ts';
import { watchIdle } from './idle.ts';
import type { UpstreamTls } from './upstream-tls.ts';

export interface ConnHandler {
  onData(chunk: Buffer): void;
  /** The server closed or the socket failed; `err` is undefined for a clean end. */
  onClose(err: Error | undefined): void;
  onTimeout(): void;
}

export interface UpstreamTarget {
  host: string;
  port: number;
  connectMs: number;
  /** Server timeout while busy, keep-alive limit while idle. */
  idleMs: number;
  tls?: UpstreamTls;
}

export class UpstreamConn {
  readonly socket: net.Socket;
  readonly pool: Pool;
  handler: ConnHandler | null = null;
  /** True once it has served an exchange: a failure before any response byte may then be a keep-alive race. */
  isReused = false;
  isDead = false;
  /** Set when the PROXY preface names one client: such a connection must never serve another client. */
  privateTo: object | null = null;
  /** The pool's generation it was made in: one from before a retire() is not pooled again. */
  readonly generation: number;

  /** `idleMs`: the server timeout while busy, the keep-alive limit while idle (idle.ts). */
  constructor(socket: net.Socket, pool: Pool, idleMs: number) {
    this.socket = socket;
    this.pool = pool;
    this.generation = pool.generation;
    // Chunks are borrowed (reader.ts): handlers copy what they keep.
    setReader(socket, (d) => {
      if (this.handler) this.handler.onData(d);
      else this.destroy();
    });
    socket.on('error', (err) => this.closed(err));
    socket.on('close', () => this.closed(undefined));
    socket.on('end', () => this.closed(undefined));
    watchIdle(socket, idleMs, () => {
      if (this.handler) this.handler.onTimeout();
      else this.destroy();
    });
  }

  private closed(err: Error | undefined): void {
    if (this.isDead) return;
    this.isDead = true;
    this.pool.forget(this);
    this.socket.destroy();
    const h = this.handler;
    this.handler = null;
    h?.onClose(err);
  }

  destroy(): void {
    if (this.isDead) return;
    this.isDead = true;
    this.handler = null;
    this.pool.forget(this);
    this.socket.destroy();
  }
}

export class Pool {
  /** Idle connections, most recently used last. */
  readonly idle: UpstreamConn[] = [];
  /** Every open connection, for halting a server. */
  readonly all = new Set<UpstreamConn>();
  /** Bumped by retire(). */
  generation = 0;

  /** An idle connection (not private to another client), or undefined. */
  take(owner: object | null): UpstreamConn | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i];
      if (c.privateTo !== null && c.privateTo !== owner) continue;
      this.idle.splice(i, 1);
      return c;
    }
    return undefined;
  }

  release(c: UpstreamConn): void {
    c.handler = null;
    c.isReused = true;
    if (c.isDead) return;
    if (c.generation !== this.generation) return c.destroy();
    this.idle.push(c);
  }

  forget(c: UpstreamConn): void {
    this.all.delete(c);
    const i = this.idle.lastIndexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
  }

  /** Drops idle connections (server halted or gone); busy ones finish their exchange. */
  closeIdle(): void {
    for (const c of [...this.idle]) c.destroy();
  }

  /**
   * The way connections are made changed (re-encryption on or off, another CA, verify, server name): idle ones close,
   * busy ones finish their exchange and close instead of returning, so none made the old way serves again.
   */
  retire(): void {
    this.generation++;
    this.closeIdle();
  }

  closeAll(): void {
    for (const c of [...this.all]) c.destroy();
  }

  /** Opens a connection; `preface` (PROXY header) is written first, in clear, before any TLS. Calls back once. */
  connect(t: UpstreamTarget, preface: Buffer | null, cb: (err: Error | null, conn?: UpstreamConn) => void): void {
    let isDone = false;
    const raw = t.tls ? net.connect({ host: t.host, port: t.port, noDelay: true }) : connectDirect(t.host, t.port);
    let socket: net.Socket = raw;
    const timer = setTimeout(
      () => finish(Object.assign(new Error(`connect to ${t.host}:${t.port} timed out`), { code: 'ETIMEDOUT', timeoutMs: t.connectMs })),
      t.connectMs,
    );
    const onError = (err: Error) => finish(err);
    raw.once('error', onError);
    const finish = (err: Error | null) => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      raw.off('error', onError);
      socket.off('error', onError);
      if (err) {
        socket.destroy();
        raw.destroy();
        (err as Error & { isConnectFailure?: boolean }).isConnectFailure = true;
        cb(err);
        return;
      }
      const conn = new UpstreamConn(socket, this, t.idleMs);
      this.all.add(conn);
      cb(null, conn);
    };
    raw.once('connect', () => {
      if (preface) raw.write(preface);
      if (!t.tls) return finish(null);
      const servername = t.tls.servername ?? (net.isIP(t.host) ? undefined : t.host);
      const s = tls.connect({ socket: raw, servername, rejectUnauthorized: t.tls.verify, secureContext: t.tls.secureContext, ALPNProtocols: ['http/1.1'] });
      routeDataEvents(s);
      socket = s;
      s.once('error', onError);
      s.once('secureConnect', () => finish(null));
    });
  }
}
