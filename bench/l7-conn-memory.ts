/**
 * The idle-connection part of bench:l7 (bench/l7-proxy.ts runs it, against the same Fulcrum and HAProxy):
 *
 *   l7-conn-memory   N keep-alive HTTP/1.1 client connections to each proxy in turn, each past one request and then
 *                    idle (a keep-alive client between requests, the state most of a busy appliance's connections
 *                    are in); the resident memory of the proxy's whole process tree (Fulcrum: primary and workers;
 *                    HAProxy: its one process) before and after, per connection:
 *                    `bench l7-conn-memory: fulcrum/haproxy kb-per-conn R (fulcrum X KB, haproxy Y KB, N connections)`
 *                    (R < 1: Fulcrum holds less per connection)
 *
 * N is 10,000 where the descriptor limit allows (connMemoryCount): HAProxy reserves two descriptors per connection
 * of its maxconn (20,017 for 10,000) and the bench holds one per client socket, so with this machine's hard limit of
 * 20,000 (not raisable without CAP_SYS_RESOURCE) it is 9,950.
 *
 * Requests go out 64 at a time (wrk's -c64 elsewhere in the bench), so neither proxy opens more than about that many
 * connections to the backend. Memory is read after the last answer and a settle of SETTLE_MS, as the lowest of a few
 * samples, from /proc/<pid>/status VmRSS of the proxy and every process below it. One measurement per proxy: a
 * process keeps the memory it grew into (V8's heap, malloc's arenas), so a second round on the same process would
 * measure reuse, not cost.
 *
 * Resident memory moves with when V8 last collected, so one run says little: three runs here (2026-12-03, 9,950
 * connections) gave Fulcrum 5.85, 4.79 and 7.13 KB a connection and HAProxy 1.10 to 1.11. Compare medians of
 * several runs, and read a change below about 2 KB as noise. Most of those figures were V8 doubling the workers'
 * young generation from 16 to 32 MB while the connections opened; with its maximum kept at 16 MB (engine/l7/index.ts)
 * three runs gave 0.17, 2.62 and 2.51 KB (HAProxy 1.10–1.11).
 */
import fs from 'node:fs';
import net from 'node:net';
import { descendants } from './own-processes.ts';

export interface ConnMemoryPeer {
  name: string;
  /** The root of the proxy's process tree. */
  pid: number;
  /** Its plain HTTP port on 127.0.0.1. */
  port: number;
}

const WANTED = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 10_000);
const IN_FLIGHT = 64;
const SETTLE_MS = 1500;
const REQUEST = 'GET / HTTP/1.1\r\nHost: bench.local\r\n\r\n';

/** The hard limit on descriptors of this process (its children inherit it): /proc/self/limits. */
export function descriptorLimit(): number {
  const line = fs
    .readFileSync('/proc/self/limits', 'latin1')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const hard = line?.trim().split(/\s+/)[4];
  return hard === undefined || hard === 'unlimited' ? 1 << 20 : Number(hard);
}

/**
 * How many idle connections fit: HAProxy needs 2 × maxconn + about 20 descriptors (it refuses to start otherwise),
 * the bench one per client socket plus its own; 100 are kept spare for both.
 */
export function connMemoryCount(limit = descriptorLimit()): number {
  return Math.max(100, Math.min(WANTED, Math.floor((limit - 100) / 2)));
}

/** Resident kB of `root` and every process below it (VmRSS: what the kernel holds in RAM for each). */
export function treeRssKb(root: number): number {
  let sum = 0;
  for (const pid of [root, ...descendants(root).map((p) => p.pid)]) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
      if (m) sum += Number(m[1]);
    } catch {
      // it ended while we looked
    }
  }
  return sum;
}

/** The lowest of a few samples over SETTLE_MS: a collection in flight neither adds nor hides memory. */
async function settledRssKb(pid: number): Promise<number> {
  let low = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, SETTLE_MS / 5));
    low = Math.min(low, treeRssKb(pid));
  }
  return low;
}

/** A connection that has had one whole answer (Content-Length framed: the backend's) and now stays open, idle. */
function openIdle(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const fail = (err: Error) => {
      s.destroy();
      reject(err);
    };
    s.setNoDelay(true);
    s.once('error', fail);
    s.once('connect', () => s.write(REQUEST));
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!got.startsWith('HTTP/1.1 200')) return fail(new Error(`answer ${JSON.stringify(got.slice(0, 40))}`));
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(got.slice(0, end))?.[1] ?? Number.NaN);
      if (got.length < end + 4 + length) return;
      if (/\r\nconnection: *close/i.test(got.slice(0, end))) return fail(new Error('the proxy closed a keep-alive connection'));
      s.removeAllListeners('data');
      s.off('error', fail);
      s.on('error', () => undefined);
      resolve(s);
    });
    s.once('end', () => fail(new Error('closed before its answer')));
  });
}

async function openMany(port: number, n: number): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      out.push(await openIdle(port));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return out;
}

async function closeAll(sockets: net.Socket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.once('close', () => resolve());
          s.destroy();
        }),
    ),
  );
}

/** kB per idle connection for one proxy; logs its figures as a comment line. */
async function measure(peer: ConnMemoryPeer, n: number): Promise<number> {
  const before = await settledRssKb(peer.pid);
  const t0 = performance.now();
  const sockets = await openMany(peer.port, n);
  const opened = performance.now() - t0;
  const after = await settledRssKb(peer.pid);
  await closeAll(sockets);
  const perConn = (after - before) / n;
  console.log(
    `#   l7-conn-memory ${peer.name.padEnd(8)} RSS ${(before / 1024).toFixed(1)} -> ${(after / 1024).toFixed(1)} MiB with ${n} idle connections (opened in ${(opened / 1000).toFixed(1)} s): ${perConn.toFixed(2)} KB each`,
  );
  return perConn;
}

/** Fulcrum, then HAProxy (kB as /proc counts them: 1,024 bytes). Returns the bench's printed line. */
export async function benchConnMemory(fulcrum: ConnMemoryPeer, haproxy: ConnMemoryPeer, n = connMemoryCount()): Promise<string[]> {
  const f = await measure(fulcrum, n);
  const h = await measure(haproxy, n);
  // Closed sockets leave the proxies' side in FIN_WAIT/TIME_WAIT briefly; the next mode's load does not need them gone.
  return [`bench l7-conn-memory: fulcrum/haproxy kb-per-conn ${(f / h).toFixed(2)} (fulcrum ${f.toFixed(2)} KB, haproxy ${h.toFixed(2)} KB, ${n} connections)`];
}
