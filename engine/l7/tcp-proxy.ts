/**
 * The tcp mode: one client connection, one server connection, bytes both ways until either side closes or the
 * tunnel timeout passes with no traffic.
 *
 * Before choosing a server it may read the client's first bytes: for RDP cookie persistence the X.224 connection
 * request carries "Cookie: mstshash=<user>", and the same user goes back to the same server. A connect failure is
 * retried on another server (nothing was sent yet). The PROXY preface, when configured, goes first.
 */
import type net from 'node:net';
import { choose, release, type Choice, type ChooseRequest } from './dispatch.ts';
import { readRdpCookie, sourceKey } from './persistence.ts';
import { proxyHeader } from './proxy-protocol.ts';
import { plainIp } from './rules.ts';
import type { ServerState, ServiceRuntime } from './service.ts';
import type { ListenerRef, Session } from './http-proxy.ts';
import type { UpstreamConn } from './upstream.ts';
import { own, pauseReading, resumeReading, setReader } from './reader.ts';
import { writeDirect } from './writer.ts';
import { watchIdle } from './idle.ts';

export class TcpSession implements Session, ChooseRequest {
  readonly socket: net.Socket;
  readonly listener: ListenerRef;
  readonly rt: ServiceRuntime;
  group = '';
  hashKey = '';
  persistentName?: string;
  exclude: Set<ServerState> | null = null;
  cancel?: () => void;
  get isGone(): boolean {
    return this.isDead;
  }
  private first: Buffer | null = null;
  private server: ServerState | null = null;
  private conn: UpstreamConn | null = null;
  private isDead = false;
  private attempts = 0;
  private stickKey = '';
  private readonly tunnel = { destroy: () => this.destroy() };

  constructor(socket: net.Socket, listener: ListenerRef, rt: ServiceRuntime) {
    this.socket = socket;
    this.listener = listener;
    this.rt = rt;
    const c = rt.state.counters;
    c.activeConnections++;
    c.totalConnections++;
    listener.sessions.add(this);
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    watchIdle(socket, rt.plan.layer7.timeouts.tunnelMs, () => this.destroy());
    const ip = plainIp(socket.remoteAddress);
    if (rt.plan.scheduler === 'sh') this.hashKey = ip;
    const p = rt.plan.persistence;
    if (p.type === 'source-ip') {
      this.stickKey = sourceKey(ip, p.netmaskPrefix);
      this.persistentName = rt.sourceTable!.get(this.stickKey);
    }
    if (p.type === 'rdp-cookie') {
      // Wait for the connection request; a client that says nothing within the request timeout is scheduled anyway.
      const timer = setTimeout(() => onFirst(Buffer.alloc(0)), rt.plan.layer7.timeouts.httpRequestMs);
      const onFirst = (d: Buffer) => {
        clearTimeout(timer);
        setReader(socket, undefined);
        pauseReading(socket);
        this.first = d.length > 0 ? own(d) : null;
        const user = readRdpCookie(d);
        if (user !== undefined) {
          this.stickKey = user.toLowerCase();
          this.persistentName = rt.rdpTable!.get(this.stickKey);
        }
        choose(rt, this);
      };
      setReader(socket, onFirst);
    } else {
      pauseReading(socket);
      choose(rt, this);
    }
  }

  done(choice: Choice): void {
    if (this.isDead) {
      if ('server' in choice) release(this.rt, choice.server);
      return;
    }
    if ('error' in choice) return this.destroy();
    this.server = choice.server;
    const server = choice.server;
    const l7 = this.rt.plan.layer7;
    const s = this.socket;
    const preface =
      l7.proxyProtocol === 'none'
        ? null
        : proxyHeader(l7.proxyProtocol, {
            sourceAddress: s.remoteAddress ?? '',
            sourcePort: s.remotePort ?? 0,
            destAddress: s.localAddress ?? '',
            destPort: s.localPort ?? 0,
          });
    server.pool.connect(
      {
        host: server.plan.address,
        port: server.plan.port ?? this.listener.port,
        connectMs: l7.timeouts.connectMs,
        idleMs: l7.timeouts.tunnelMs,
        tls: this.rt.upstreamTls,
      },
      preface,
      (err, conn) => {
        if (this.isDead) {
          conn?.destroy();
          return;
        }
        if (err) {
          (this.exclude ??= new Set()).add(server);
          this.server = null;
          release(this.rt, server);
          if (++this.attempts < this.rt.byName.size + 1) {
            if (this.persistentName === server.name) this.persistentName = undefined;
            return choose(this.rt, this);
          }
          return this.destroy();
        }
        this.pipe(conn!);
      },
    );
  }

  private pipe(conn: UpstreamConn): void {
    this.conn = conn;
    const server = this.server!;
    const svc = this.rt.state.counters;
    server.counters.totalConnections++;
    server.counters.requests++;
    server.tunnels.add(this.tunnel);
    const p = this.rt.plan.persistence;
    if (server.name !== '~fallback') {
      if (p.type === 'source-ip') this.rt.sourceTable!.set(this.stickKey, server.name);
      if (p.type === 'rdp-cookie' && this.stickKey !== '') this.rt.rdpTable!.set(this.stickKey, server.name);
    }
    const client = this.socket;
    const up = conn.socket;
    // A chunk is borrowed (reader.ts) and is written on as a latin1 string, byte for byte: Node copies a string
    // only into its own stack storage for the try-write and, for what the kernel did not take, onto its heap. A
    // copied Buffer (own()) cost a typed array per chunk besides; measured alternating on the bench's load, the
    // string saved 0.5-1.5 µs of CPU per request. The server's chunks go to this tunnel's reader directly, not
    // through UpstreamConn's handler (one call less per chunk); its close and timeout still come by the handler.
    const fromServer = (d: Buffer) => {
      server.counters.bytesOut += d.length;
      svc.bytesOut += d.length;
      if (!writeDirect(client, d.toString('latin1'))) {
        pauseReading(up);
        client.once('drain', () => resumeReading(up));
      }
    };
    setReader(up, fromServer);
    conn.handler = {
      onData: fromServer,
      // A clean end from the server is passed on as a FIN so bytes still queued for the client are not lost.
      onClose: (err) => (err ? this.destroy() : client.end()),
      onTimeout: () => this.destroy(),
    };
    if (this.first !== null) {
      server.counters.bytesIn += this.first.length;
      svc.bytesIn += this.first.length;
      writeDirect(up, this.first);
      this.first = null;
    }
    setReader(client, (d) => {
      server.counters.bytesIn += d.length;
      svc.bytesIn += d.length;
      if (!writeDirect(up, d.toString('latin1'))) {
        pauseReading(client);
        up.once('drain', () => resumeReading(client));
      }
    });
    client.on('end', () => up.end());
    resumeReading(client);
  }

  closeIfIdle(): void {
    // A tunnel is never idle in the HTTP sense; it ends when either side closes (a removed listener does not cut it).
  }

  destroy(): void {
    if (this.isDead) return;
    this.isDead = true;
    this.cancel?.();
    this.rt.state.counters.activeConnections--;
    this.listener.sessions.delete(this);
    this.conn?.destroy();
    this.socket.destroy();
    const server = this.server;
    if (server !== null) {
      server.tunnels.delete(this.tunnel);
      this.server = null;
      release(this.rt, server);
    }
  }
}
