/**
 * Getting a message to the syslog server: UDP (RFC 5426, one message a datagram), TCP (RFC 6587 octet counting) or
 * TLS (RFC 5425: the same framing inside TLS, the server's certificate verified against the configured CA and its
 * name against `serverName` or the host).
 *
 * `send` resolves when the message is handed to the operating system and rejects when it cannot be (not connected,
 * refused, the TLS handshake failed): the forwarder acknowledges a queue record only after `send` resolved, and keeps
 * it otherwise. The connection is made on first use and again after any failure.
 *
 * What this cannot promise: syslog over TCP has no acknowledgement (RFC 6587), so bytes the kernel accepted just
 * before the server vanished can be lost. The window is kept small: the server never writes to us, so its FIN (a
 * stop or restart of rsyslog) is taken as the end of the connection at once, and nothing more is written to it.
 * UDP has no acknowledgement at all: over UDP the queue covers console restarts, not a server that is down.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { frameOctetCounted } from './format.ts';

export interface TransportSettings {
  transport: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  caPem?: string;
  serverName?: string;
}

export interface Transport {
  send(message: string): Promise<void>;
  close(): void;
  readonly isConnected: boolean;
}

const CONNECT_TIMEOUT_MS = 10_000; // a server that neither accepts nor refuses (filtered) is given this long

export function createTransport(s: TransportSettings): Transport {
  return s.transport === 'udp' ? udpTransport(s) : streamTransport(s);
}

function udpTransport(s: TransportSettings): Transport {
  const socket = dgram.createSocket(net.isIPv6(s.host) ? 'udp6' : 'udp4');
  socket.unref();
  socket.on('error', () => {});
  return {
    isConnected: true,
    send: (message) => new Promise((resolve, reject) => socket.send(Buffer.from(message, 'utf8'), s.port, s.host, (e) => (e ? reject(e) : resolve()))),
    close: () => socket.close(),
  };
}

function streamTransport(s: TransportSettings): Transport {
  let socket: net.Socket | undefined;
  let ready: Promise<net.Socket> | undefined;
  const drop = (sk: net.Socket) => {
    if (socket === sk) {
      socket = undefined;
      ready = undefined;
    }
    sk.destroy();
  };
  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const sk =
        s.transport === 'tls'
          ? tls.connect({
              host: s.host,
              port: s.port,
              ca: s.caPem,
              servername: net.isIP(s.serverName ?? s.host) ? undefined : (s.serverName ?? s.host),
              rejectUnauthorized: true,
              checkServerIdentity: (host, cert) => tls.checkServerIdentity(s.serverName ?? host, cert),
            })
          : net.connect({ host: s.host, port: s.port });
      const timer = setTimeout(
        () => sk.destroy(Object.assign(new Error(`no answer from ${s.host}:${s.port} within ${CONNECT_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })),
        CONNECT_TIMEOUT_MS,
      );
      sk.once(s.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(sk);
      });
      sk.on('error', (e) => {
        clearTimeout(timer);
        drop(sk);
        reject(e);
      });
      // The server sends nothing; its end (or anything it says) means this connection is over.
      sk.on('data', () => {});
      sk.on('end', () => drop(sk));
      sk.on('close', () => drop(sk));
      socket = sk;
    });
  return {
    get isConnected() {
      return !!socket && !socket.destroyed && !socket.connecting;
    },
    async send(message) {
      ready ??= connect();
      const sk = await ready;
      if (sk.destroyed || !sk.writable) throw Object.assign(new Error('the syslog server closed the connection'), { code: 'ECONNRESET' });
      await new Promise<void>((resolve, reject) => sk.write(frameOctetCounted(message), (e) => (e ? (drop(sk), reject(e)) : resolve())));
    },
    close() {
      if (socket) drop(socket);
    },
  };
}
