/**
 * Helpers for the layer 7 tests: tagged upstream servers, free ports, configs, and a raw HTTP client that shows
 * exactly what came over the wire. Loopback only.
 */
import http from 'node:http';
import net from 'node:net';
import { ConfigSchema, type Config, type ConfigInput, type VirtualServiceInput } from '../config/index.ts';

export interface Backend {
  name: string;
  port: number;
  server: http.Server;
  /** Requests seen: method, url, headers. */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; remotePort: number }[];
  close(): Promise<void>;
}

/** An HTTP server that answers "<name>" with header x-server: <name>; `handler` may take over a request. */
export async function startBackend(name: string, handler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | void): Promise<Backend> {
  const seen: Backend['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, remotePort: req.socket.remotePort! });
    if (handler && handler(req, res) === true) return;
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.setHeader('x-server', name);
      if (body.length > 0) res.setHeader('x-body-bytes', String(body.length));
      res.end(name);
    });
  });
  server.keepAliveTimeout = 30_000;
  // Upgraded and hijacked sockets are not the http server's any more; close them too.
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    name,
    port,
    server,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export function config(services: VirtualServiceInput[], extra: Partial<ConfigInput> = {}): Config {
  return ConfigSchema.parse({ virtualServices: services, ...extra });
}

/** A layer 7 http service on 127.0.0.1:port with the given backends as real servers. */
export function httpService(name: string, port: number, backends: Backend[], over: Partial<VirtualServiceInput> = {}): VirtualServiceInput {
  return {
    name,
    layer: 7,
    mode: 'http',
    address: '127.0.0.1',
    ports: [port],
    scheduler: 'rr',
    healthCheck: { type: 'none' },
    realServers: backends.map((b) => ({ name: b.name, address: '127.0.0.1', port: b.port })),
    ...over,
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Every Set-Cookie line. */
  setCookies: string[];
  body: string;
}

/**
 * Sends requests over one keep-alive connection and reads each response (Content-Length or chunked framing), so
 * tests see the proxy's own bytes rather than an HTTP client library's view.
 */
export class RawClient {
  private socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  isClosed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.isClosed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1', socket?: net.Socket): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      if (socket) return resolve(new RawClient(socket));
      const s = net.connect({ port, host }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private more(): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error(`connection closed; buffered: ${this.buf.toString('latin1').slice(0, 200)}`));
    return new Promise((r) => this.waiters.push(r));
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async request(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
    const h = { Host: 'test.local', ...headers };
    if (body !== undefined) h['Content-Length' as 'Host'] = String(Buffer.byteLength(body));
    this.write(
      `${method} ${path} HTTP/1.1\r\n${Object.entries(h)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n${body ?? ''}`,
    );
    return this.read(method === 'HEAD');
  }

  async read(isHead = false): Promise<RawResponse> {
    let end: number;
    while ((end = this.buf.indexOf('\r\n\r\n')) === -1) await this.more();
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    this.buf = this.buf.subarray(end + 4);
    const status = Number(lines[0].split(' ')[1]);
    const headers: Record<string, string> = {};
    const setCookies: string[] = [];
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      const k = l.slice(0, i).toLowerCase();
      const v = l.slice(i + 1).trim();
      if (k === 'set-cookie') setCookies.push(v);
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    if (status < 200 && status !== 101) return this.read(isHead);
    let body = '';
    if (isHead || status === 204 || status === 304 || status === 101) return { status, headers, setCookies, body };
    if (headers['transfer-encoding']?.includes('chunked')) {
      for (;;) {
        let lf: number;
        while ((lf = this.buf.indexOf('\r\n')) === -1) await this.more();
        const size = parseInt(this.buf.toString('latin1', 0, lf), 16);
        while (this.buf.length < lf + 2 + size + 2) await this.more();
        body += this.buf.toString('utf8', lf + 2, lf + 2 + size);
        this.buf = this.buf.subarray(lf + 2 + size + 2);
        if (size === 0) break;
      }
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      while (this.buf.length < n) await this.more();
      body = this.buf.toString('utf8', 0, n);
      this.buf = this.buf.subarray(n);
    } else {
      while (!this.isClosed) await this.more().catch(() => undefined);
      body = this.buf.toString('utf8');
      this.buf = Buffer.alloc(0);
    }
    return { status, headers, setCookies, body };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One request on a fresh connection. */
export async function fetchOnce(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  const c = await RawClient.connect(port);
  try {
    return await c.request(method, path, headers, body);
  } finally {
    c.close();
  }
}

/** A RawClient whose connection leaves from `localAddress` (any 127.0.0.x works on Linux loopback). */
export function connectFrom(port: number, localAddress: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(RawClient.connect(port, '127.0.0.1', s)));
    s.once('error', reject);
  });
}

/** One request on a fresh connection from `localAddress`. */
export async function fetchFrom(localAddress: string, port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const c = await connectFrom(port, localAddress);
  try {
    return await c.request(method, path, headers);
  } finally {
    c.close();
  }
}

/** Polls `check` every 10 ms until it is true; throws after `ms` (every wait in a test has a deadline). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * `p`, or a rejection naming `what` after `ms`: a proxy that stops answering fails the test instead of hanging it.
 * Generous on purpose (the machine is shared); never a measure of speed.
 */
export function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Writes `request` on `socket` (queued until it connects) and returns, as latin1 text, everything that comes back until it closes. */
export function exchangeUntilClose(socket: net.Socket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.write(request);
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no close within 5 s')));
  });
}

/** A backstop for awaits without their own deadline (a request the proxy never answers): the test fails, not hangs. */
export const TEST_TIMEOUT = { timeout: 120_000 };

/**
 * A loopback address whose SYNs go unanswered: a listener in a child process whose event loop is blocked, so it
 * never accepts, with its accept queue filled by us. Linux drops a SYN for a full accept queue, so a connect to it
 * hangs until the connecting side gives up — a connect timeout, deterministically, without leaving loopback.
 * Refuses (throws) when a probe connect still succeeds: then the test would not test what it says.
 */
export async function startBlackhole(): Promise<{ port: number; close(): void }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const net = require('net'), fs = require('fs');
       const s = net.createServer();
       s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         fs.writeSync(1, s.address().port + '\\n');
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const fillers: net.Socket[] = [];
  const close = () => {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the blackhole listener did not start')), 10_000);
      child.stdout!.once('data', (d) => {
        clearTimeout(timer);
        resolve(Number(String(d).trim()));
      });
    });
    // Fill the accept queue: connect until one connect does not complete within 300 ms.
    for (let i = 0; i < 16; i++) {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.on('error', () => undefined);
      fillers.push(s);
      const isConnected = await new Promise<boolean>((r) => {
        s.once('connect', () => r(true));
        setTimeout(() => r(false), 300);
      });
      if (!isConnected) return { port, close };
    }
    throw new Error('connects to a listener that never accepts kept succeeding: SYNs are not dropped here');
  } catch (err) {
    close();
    throw err;
  }
}
