/**
 * 101 Switching Protocols (WebSocket …): from the 101 on, an HTTP/1.1 exchange is a byte tunnel between the client
 * and the real server. Both sockets keep their readers (reader.ts); the client's bytes come through toServer() (the
 * exchange hands them on), the server's through the connection's handler, which the tunnel takes over. It ends when
 * either side closes (a clean end is passed on as FIN) or after tunnelMs without traffic (the sockets' idle timers).
 * Each side pauses the other while it cannot take more. CONNECT never gets here: the codec refuses it (501).
 */
import type net from 'node:net';
import { getHeader, type ResponseHead, serializeHead } from './http-codec.ts';
import { forwardedFields } from './forward-head.ts';
import { idleTimerOf } from './idle.ts';
import { isReadingPaused, own, pauseReading, resumeReading } from './reader.ts';
import type { ServerState, ServiceRuntime } from './service.ts';
import type { UpstreamConn } from './upstream.ts';
import { writeDirect } from './writer.ts';

/** The client side of a tunnel: the HTTP/1.1 session (http-proxy.ts). */
export interface TunnelClient {
  readonly socket: net.Socket;
  /** Client bytes that came after the request and before the 101 (the first frames); the tunnel takes them. */
  buf: Buffer | null;
  destroy(): void;
}

/** The 101 head the client gets: the server's fields (less hop-by-hop ones), then Connection and Upgrade again. */
export function upgradeHeadText(res: ResponseHead): string {
  const out = forwardedFields(res);
  out.push('Connection', 'Upgrade');
  const up = getHeader(res.headers, 'upgrade');
  if (up !== undefined) out.push('Upgrade', up);
  return serializeHead(`HTTP/1.1 101 ${res.reason}`, out);
}

export class Tunnel {
  private readonly client: TunnelClient;
  private readonly conn: UpstreamConn;
  private readonly server: ServerState;
  private readonly rt: ServiceRuntime;

  /** Sends the 101 (and `rest`, the server's bytes after it) to the client and starts carrying bytes both ways. */
  constructor(rt: ServiceRuntime, client: TunnelClient, server: ServerState, conn: UpstreamConn, res: ResponseHead, rest: Buffer) {
    this.rt = rt;
    this.client = client;
    this.server = server;
    this.conn = conn;
    const socket = client.socket;
    const upstream = conn.socket;
    writeDirect(socket, upgradeHeadText(res));
    if (rest.length > 0) writeDirect(socket, own(rest));
    if (client.buf !== null) {
      writeDirect(upstream, client.buf);
      client.buf = null;
    }
    const tunnelMs = rt.plan.layer7.timeouts.tunnelMs;
    idleTimerOf(socket)?.set(tunnelMs);
    idleTimerOf(upstream)?.set(tunnelMs);
    server.tunnels.add(this);
    conn.handler = {
      onData: (d) => this.toClient(d),
      onClose: (err) => (err ? client.destroy() : socket.end()),
      onTimeout: () => client.destroy(),
    };
    if (isReadingPaused(socket)) resumeReading(socket);
  }

  /** The client's bytes (borrowed), to the server. */
  toServer(chunk: Buffer): void {
    this.server.counters.bytesIn += chunk.length;
    const up = this.conn.socket;
    if (!writeDirect(up, own(chunk))) {
      const socket = this.client.socket;
      pauseReading(socket);
      up.once('drain', () => resumeReading(socket));
    }
  }

  /** The client half-closed its side: pass the FIN on. */
  clientEnded(): void {
    this.conn.socket.end();
  }

  /** Halting the server cuts its tunnels (service.ts): the client connection goes, and with it the exchange. */
  destroy(): void {
    this.client.destroy();
  }

  /** The tunnel ended (the exchange is done): a halt no longer needs to find it. */
  forget(): void {
    this.server.tunnels.delete(this);
  }

  private toClient(d: Buffer): void {
    this.server.counters.bytesOut += d.length;
    this.rt.state.counters.bytesOut += d.length;
    if (writeDirect(this.client.socket, own(d))) return;
    const up = this.conn.socket;
    pauseReading(up);
    this.client.socket.once('drain', () => resumeReading(up));
  }
}
