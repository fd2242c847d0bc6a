/**
 * Child process of bench/health.ts: the real servers that die during the run (the rest of the fleet is nginx, see
 * health-fleet.ts), on the 127.0.0.1 ports in argv[2] ({ base, ports }), in a process of their own so their CPU
 * never counts as the checker's. Ports of the fleet's HTTP half answer HTTP (200 on GET/HEAD /health, 404
 * elsewhere, then close), as nginx does for the others; the rest are plain TCP listeners that accept and close when
 * the peer does.
 *
 * Driven over the IPC channel:
 *   { op: 'kill', ports }    closes each listener and resets its open connections (an application that died: new
 *                            connects are refused); answers { op: 'killed', port, at } per port, `at` in ms since
 *                            the epoch, taken when the listener is closed.
 *   { op: 'revive', ports }  listens again; answers { op: 'revived', ports }.
 * Answers { op: 'ready', count } once every port listens.
 */
import net from 'node:net';
import { isHttpPort } from './health-fleet.ts';

const { base, ports } = JSON.parse(process.argv[2]) as { base: number; ports: number[] };

const OK = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n');
const NOT_FOUND = Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n');

interface Backend {
  server?: net.Server;
  sockets: Set<net.Socket>;
}

const backends = new Map<number, Backend>();

function onHttp(this: Backend, s: net.Socket): void {
  this.sockets.add(s);
  let head = '';
  s.on('error', () => undefined);
  s.on('close', () => this.sockets.delete(s));
  s.on('data', (chunk: Buffer) => {
    head += chunk.toString('latin1');
    if (!head.includes('\r\n\r\n')) {
      if (head.length > 16384) s.destroy();
      return;
    }
    s.removeAllListeners('data');
    const isHealth = head.startsWith('GET /health ') || head.startsWith('HEAD /health ');
    s.end(isHealth ? OK : NOT_FOUND);
  });
  s.on('end', () => s.end());
}

function onTcp(this: Backend, s: net.Socket): void {
  this.sockets.add(s);
  s.on('error', () => undefined);
  s.on('close', () => this.sockets.delete(s));
  s.on('end', () => s.end());
  s.resume();
}

function listen(port: number): Promise<void> {
  const b = backends.get(port) ?? { sockets: new Set<net.Socket>() };
  backends.set(port, b);
  const server = net.createServer({ noDelay: true }, (isHttpPort(base, port) ? onHttp : onTcp).bind(b));
  b.server = server;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', backlog: 511 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function kill(port: number): number {
  const b = backends.get(port);
  if (!b?.server) throw new Error(`port ${port} is not listening`);
  b.server.close();
  b.server = undefined;
  for (const s of b.sockets) s.resetAndDestroy();
  b.sockets.clear();
  return Date.now();
}

process.on('message', (m: { op: string; ports: number[] }) => {
  if (m.op === 'kill') for (const port of m.ports) process.send!({ op: 'killed', port, at: kill(port) });
  if (m.op === 'revive') void Promise.all(m.ports.map(listen)).then(() => process.send!({ op: 'revived', ports: m.ports }));
});
process.on('disconnect', () => process.exit(0));

try {
  await Promise.all(ports.map(listen));
  process.send!({ op: 'ready', count: ports.length });
} catch (e) {
  console.error(`health-servers: cannot listen: ${(e as Error).message}`);
  process.exit(1);
}
