/**
 * The data plane as the daemon runs it: two worker processes under node:cluster. Reload under load, a real server
 * killed mid-load, persistence and TLS resumption across workers, a crashed worker replaced, and a clean close.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import {
  config,
  fetchOnce,
  freePort,
  httpService,
  RawClient,
  startBackend,
  type Backend,
  type RawResponse,
  waitFor,
  within,
  TEST_TIMEOUT,
} from './test-helpers.ts';
import type { ConfigInput, VirtualServiceInput } from '../config/index.ts';
import { decideServer, type ServerDecision } from '../server-state.ts';
import type { ServerKey } from '../dataplane.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-cluster-'));
let dp: L7DataPlane;
let pids: number[] = [];
const backends: Backend[] = [];
let a: Backend, b: Backend, c: Backend;

before(async () => {
  // Round-robin accept, so consecutive connections land on alternate workers and cross-worker behaviour is proven.
  dp = createL7DataPlane({ dataDir: dir, workers: 2, closeGraceMs: 500, acceptMode: 'round-robin' });
  [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => startBackend(n)));
  backends.push(a, b, c);
});

after(async () => {
  await dp.close();
  await Promise.all(backends.map((x) => x.close()));
  fs.rmSync(dir, { recursive: true, force: true });
});

function apply(vs: VirtualServiceInput[], decisions: Record<string, ServerDecision> = {}, extra: Partial<ConfigInput> = {}) {
  return dp.apply({ config: config(vs, extra), decisions: new Map(Object.entries(decisions) as [ServerKey, ServerDecision][]) });
}

/** `clients` keep-alive connections sending requests until stopped; every answer's status and tag are counted. */
function load(port: number, clients: number, method = 'GET') {
  let isRunning = true;
  const statuses: Record<string, number> = {};
  const servers: Record<string, number> = {};
  const errors: string[] = [];
  const loops = Array.from({ length: clients }, async () => {
    let client = await RawClient.connect(port);
    while (isRunning) {
      try {
        const r = await client.request(method, '/', {}, method === 'POST' ? 'payload' : undefined);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        const tag = r.headers['x-server'] ?? '-';
        servers[tag] = (servers[tag] ?? 0) + 1;
        if (r.headers.connection === 'close') {
          client.close();
          client = await RawClient.connect(port);
        }
      } catch (err) {
        errors.push((err as Error).message.slice(0, 80));
        client.close();
        client = await RawClient.connect(port);
      }
    }
    client.close();
  });
  return {
    statuses,
    servers,
    errors,
    total: () => Object.values(statuses).reduce((x, y) => x + y, 0),
    stop: async () => {
      isRunning = false;
      await within(Promise.all(loops), 'the load to stop (a request that never ends)');
    },
  };
}

const until = (cond: () => boolean, what: string, ms = 15_000) => waitFor(cond, what, ms);
const TEST = TEST_TIMEOUT;

/**
 * The worker process that holds the accepted end of `client`. In round-robin accept the primary accepts and passes
 * the socket on; it may still hold its copy for a moment, so only worker pids count.
 */
function workerOf(client: net.Socket): number {
  const out = execFileSync('ss', [
    '-tnpH',
    'state',
    'established',
    'src',
    `${client.remoteAddress}:${client.remotePort}`,
    'dst',
    `${client.localAddress}:${client.localPort}`,
  ]).toString();
  const owners = dp.workerPids().filter((pid) => out.includes(`pid=${pid},`));
  assert.equal(owners.length, 1, `one worker holds ${client.localAddress}:${client.localPort}: ${out}`);
  return owners[0];
}

/** One GET on a fresh connection from `from` (any 127.0.0.0/8 address): which server answered, which worker took it. */
async function visit(port: number, from: string): Promise<{ server: string; worker: number }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
  const client = await RawClient.connect(port, '127.0.0.1', socket);
  try {
    const r = await within(client.request('GET', '/'), `an answer for ${from}`);
    return { server: r.headers['x-server'], worker: workerOf(socket) };
  } finally {
    client.close();
  }
}

/** Sends `send` on `socket` and waits for exactly `expect` back (a tunnel's echo). */
async function roundTrip(socket: net.Socket, send: string, expect: string, what: string): Promise<void> {
  let got = '';
  let onData: (d: Buffer) => void = () => undefined;
  let onClose: () => void = () => undefined;
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        onData = (d) => {
          got += d.toString('latin1');
          if (got === expect) resolve();
          else if (!expect.startsWith(got)) reject(new Error(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expect)}`));
        };
        onClose = () => reject(new Error(`${what}: closed after ${JSON.stringify(got)}`));
        if (socket.destroyed) return onClose();
        socket.on('data', onData);
        socket.once('close', onClose);
        socket.write(send);
      }),
      what,
    );
  } finally {
    socket.off('data', onData);
    socket.off('close', onClose);
  }
}

/**
 * A backend that answers each request `delayMs` after it arrived and counts the requests it holds: one counts from
 * its arrival until its answer is written or its connection closes. `onRequest` runs after each arrival is counted.
 */
async function slowBackend(name: string, delayMs: number) {
  const v = { inFlight: 0, backend: null as unknown as Backend, onRequest: () => undefined as void };
  v.backend = await startBackend(name, (req, res) => {
    let isOver = false;
    const over = () => {
      if (isOver) return false;
      isOver = true;
      v.inFlight--;
      return true;
    };
    v.inFlight++;
    res.on('close', over);
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        // Counted down before the answer leaves, so no client can have its answer while it still counts.
        if (over()) res.setHeader('x-server', name).end(name);
      }, delayMs),
    );
    v.onRequest();
    return true;
  });
  return v;
}

test('reload under load: no request fails, and each new configuration is live when apply returns', TEST, async () => {
  const port = await freePort();
  const version = (v: number, extra: Partial<VirtualServiceInput> = {}) =>
    httpService('web', port, [a, b], { layer7: { responseHeaders: [{ action: 'set', name: 'X-Version', value: String(v) }] }, ...extra });
  assert.deepEqual(
    (await apply([version(1)])).map((r) => r.status),
    ['programmed'],
  );
  pids = dp.workerPids();
  assert.equal(pids.length, 2);
  const l = load(port, 8);
  const probe = await RawClient.connect(port);
  for (let v = 2; v <= 6; v++) {
    const before = l.total();
    await until(() => l.total() > before + 50, `50 requests under version ${v - 1}`);
    const extra: Partial<VirtualServiceInput> =
      v % 2 === 0 ? { realServers: [a, b, c].map((x) => ({ name: x.name, address: '127.0.0.1', port: x.port })), scheduler: 'wrr' } : {};
    const res = await apply([version(v, extra)]);
    assert.equal(res[0].status, 'programmed');
    // Both workers have acknowledged: every new request, on any connection, sees version v.
    for (let i = 0; i < 4; i++) assert.equal((await probe.request('GET', '/')).headers['x-version'], String(v));
  }
  probe.close();
  await l.stop();
  assert.deepEqual(l.errors, []);
  assert.deepEqual(Object.keys(l.statuses), ['200']);
  assert.ok(l.total() > 250, `requests during reloads: ${l.total()}`);
  assert.ok((l.servers.c ?? 0) > 0, 'the server added by a reload took requests');
});

test(
  "reload with exchanges open on both workers: a held request, a tcp tunnel and a WebSocket outlive a changed configuration and their listeners' closing",
  TEST,
  async () => {
    // The held answer is large and written in pieces, so a connection cut at the reload would show as a short body.
    const BODY = Array.from({ length: 4096 }, (_, i) => `${String(i).padStart(63, '.')}\n`).join('');
    const held: (() => void)[] = [];
    const hb = await startBackend('held', (req, res) => {
      if (req.url !== '/hold') return false;
      req.resume();
      held.push(() => {
        res.writeHead(200, { 'content-length': Buffer.byteLength(BODY), 'x-server': 'held' });
        let at = 0;
        const more = () => {
          if (at >= BODY.length) return void res.end();
          res.write(BODY.slice(at, (at += 32_768)));
          setImmediate(more);
        };
        more();
      });
      return true;
    });
    backends.push(hb);
    hb.server.on('upgrade', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('ws:'), d])));
    });
    const echoSockets = new Set<net.Socket>();
    const echo = net.createServer((s) => {
      echoSockets.add(s);
      s.on('close', () => echoSockets.delete(s));
      s.on('error', () => undefined);
      s.on('data', (d) => s.write(Buffer.concat([Buffer.from('tcp:'), d])));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as net.AddressInfo).port;
    const [hp1, tp1, hp2, tp2] = [await freePort(), await freePort(), await freePort(), await freePort()];
    // Version v: a response header rule says v, and the tunnel's server has weight v.
    const services = (v: number, httpPort: number, tcpPort: number): VirtualServiceInput[] => [
      httpService('rl-http', httpPort, [hb], { layer7: { responseHeaders: [{ action: 'set', name: 'X-Version', value: String(v) }] } }),
      {
        name: 'rl-tcp',
        layer: 7,
        mode: 'tcp',
        address: '127.0.0.1',
        ports: [tcpPort],
        scheduler: 'wrr',
        healthCheck: { type: 'none' },
        realServers: [{ name: 'echo', address: '127.0.0.1', port: echoPort, weight: v }],
      },
    ];
    const applyVersion = async (v: number, httpPort: number, tcpPort: number) => {
      const res = await apply(services(v, httpPort, tcpPort));
      assert.deepEqual(
        res.filter((r) => r.name.startsWith('rl-')).map((r) => [r.name, r.status]),
        [
          ['rl-http', 'programmed'],
          ['rl-tcp', 'programmed'],
        ],
      );
    };
    const sockets: net.Socket[] = [];
    const open = (port: number) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.on('error', () => undefined);
      sockets.push(s);
      return s;
    };
    try {
      await applyVersion(1, hp1, tp1);
      // Two of each, opened one after another: round-robin accept deals them to the two workers in turn.
      const holders: { client: RawClient; answer: Promise<RawResponse> }[] = [];
      const heldOn = new Set<number>();
      for (let i = 0; i < 2; i++) {
        const s = open(hp1);
        const client = await RawClient.connect(hp1, '127.0.0.1', s);
        const answer = client.request('GET', '/hold');
        answer.catch(() => undefined);
        holders.push({ client, answer });
        await until(() => held.length === i + 1, `held request ${i} at the backend`);
        heldOn.add(workerOf(s));
      }
      const websockets: net.Socket[] = [];
      const wsOn = new Set<number>();
      for (let i = 0; i < 2; i++) {
        const s = open(hp1);
        const client = await RawClient.connect(hp1, '127.0.0.1', s);
        const r = await within(
          client.request('GET', '/chat', { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'x', 'Sec-WebSocket-Version': '13' }),
          `WebSocket ${i} upgrade`,
        );
        assert.equal(r.status, 101);
        await roundTrip(s, `hello${i}`, `ws:hello${i}`, `WebSocket ${i} before the reload`);
        websockets.push(s);
        wsOn.add(workerOf(s));
      }
      const tunnels: net.Socket[] = [];
      const tunnelOn = new Set<number>();
      for (let i = 0; i < 2; i++) {
        const s = open(tp1);
        await roundTrip(s, `hello${i}`, `tcp:hello${i}`, `tunnel ${i} before the reload`);
        tunnels.push(s);
        tunnelOn.add(workerOf(s));
      }
      assert.deepEqual([heldOn.size, wsOn.size, tunnelOn.size], [2, 2, 2], 'each kind of exchange is open on both workers');
      const stillOpen = async (when: string) => {
        for (const [i, s] of websockets.entries()) await roundTrip(s, `${when}${i}`, `ws:${when}${i}`, `WebSocket ${i} ${when}`);
        for (const [i, s] of tunnels.entries()) await roundTrip(s, `${when}${i}`, `tcp:${when}${i}`, `tunnel ${i} ${when}`);
      };
      let isAnswered = false;
      void Promise.race(holders.map((h) => h.answer)).then(
        () => (isAnswered = true),
        () => (isAnswered = true),
      );

      // A changed configuration on the same listeners.
      await applyVersion(2, hp1, tp1);
      for (let i = 0; i < 4; i++) {
        const r = await fetchOnce(hp1, 'GET', '/');
        assert.deepEqual([r.status, r.headers['x-version'], r.body], [200, '2', 'held'], 'a new request uses the new configuration');
      }
      await stillOpen('after-change');

      // The services move to other ports: the listeners the exchanges came in on are closed.
      await applyVersion(3, hp2, tp2);
      await assert.rejects(RawClient.connect(hp1), { code: 'ECONNREFUSED' }, 'the old http listener is closed');
      await assert.rejects(RawClient.connect(tp1), { code: 'ECONNREFUSED' }, 'the old tcp listener is closed');
      for (let i = 0; i < 4; i++) {
        const r = await fetchOnce(hp2, 'GET', '/');
        assert.deepEqual([r.status, r.headers['x-version']], [200, '3'], 'a new request uses the new configuration');
      }
      await roundTrip(open(tp2), 'new', 'tcp:new', 'a tunnel on the new port');
      await stillOpen('after-move');
      assert.equal(isAnswered, false, 'the held requests were not answered (nor cut) by the reloads');

      for (const release of held.splice(0)) release();
      for (const [i, h] of holders.entries()) {
        const r = await within(h.answer, `held request ${i}'s answer`);
        assert.equal(r.status, 200);
        assert.equal(r.body.length, BODY.length, `held request ${i}: the whole body`);
        assert.ok(r.body === BODY, `held request ${i}: the body as sent`);
        // It began under version 1 and finishes under it: an exchange keeps the runtime it started with.
        assert.equal(r.headers['x-version'], '1');
        // Its listener is gone, so its connection closes once the answer is out.
        await until(() => h.client.isClosed, `held request ${i}'s connection to close after its answer`);
      }
      await stillOpen('after-release');
    } finally {
      for (const s of sockets) s.destroy();
      for (const s of echoSockets) s.destroy();
      echo.close();
    }
  },
);

test('a real server killed mid-load: retried idempotent requests all succeed', TEST, async () => {
  // The victim answers 10 ms late, so requests are at it, not just passing, when it dies.
  const victim = await slowBackend('victim', 10);
  const port = await freePort();
  await apply([httpService('kill', port, [a, victim.backend])]);
  const l = load(port, 8);
  await until(() => (l.servers.victim ?? 0) > 100, '100 answers from the victim');
  await until(() => victim.inFlight >= 2, 'requests at the victim');
  // Same tick as the check: nothing can arrive or be answered in between.
  const inFlightAtKill = victim.inFlight;
  // Kill it the hard way: listener gone, every connection reset.
  victim.backend.server.close();
  victim.backend.server.closeAllConnections();
  assert.ok(inFlightAtKill >= 2, `requests in flight on the victim at the kill: ${inFlightAtKill}`);
  const after = l.total();
  await until(() => l.total() > after + 300, '300 answers after the kill');
  await l.stop();
  assert.deepEqual(l.errors, []);
  assert.deepEqual(Object.keys(l.statuses), ['200'], JSON.stringify(l.statuses));
});

test('a real server killed mid-load: only requests in flight on it fail when they cannot be retried', TEST, async () => {
  const clients = 6;
  const victim = await slowBackend('victim2', 15);
  const port = await freePort();
  await apply([httpService('killpost', port, [b, victim.backend])]);
  const bSeenBefore = b.seen.length;
  const l = load(port, clients, 'POST');
  await until(() => (l.servers.victim2 ?? 0) > 100, '100 answers from the victim');
  // Kill when every client's request is at the victim. Each client has one request out at a time, so none can be
  // anywhere else (on its way, in a socket buffer): the victim's count is then every request the kill can touch.
  const killed = new Promise<number>((resolve) => {
    victim.onRequest = () => {
      if (victim.inFlight !== clients) return;
      victim.onRequest = () => undefined;
      // After this poll phase, before any timer: no answer can leave and no request can come in between.
      setImmediate(() => {
        const inFlightAtKill = victim.inFlight;
        victim.backend.server.close();
        victim.backend.server.closeAllConnections();
        resolve(inFlightAtKill);
      });
    };
  });
  const inFlightAtKill = await within(killed, `all ${clients} requests at the victim at once`, 30_000);
  assert.equal(inFlightAtKill, clients, 'requests in flight on the victim at the kill');
  const failedAtKill = () => l.total() - (l.statuses['200'] ?? 0) + l.errors.length;
  const after = l.total();
  await until(() => l.total() > after + 300, '300 answers after the kill');
  await l.stop();
  // Only requests in flight on the victim can have failed; every later one went to b.
  assert.ok(failedAtKill() <= inFlightAtKill, `failed: ${failedAtKill()} of ${inFlightAtKill} in flight ${JSON.stringify(l.statuses)} ${l.errors.join('|')}`);
  assert.ok((l.statuses['200'] ?? 0) > 300);
  // And none was sent twice: every attempt reached exactly one server once (a POST replayed on b after the victim
  // had it would show as one more request seen than made).
  const attempts = l.total() + l.errors.length;
  assert.equal(b.seen.length - bSeenBefore + victim.backend.seen.length, attempts, 'requests seen by the servers = requests made');
});

test('source-IP persistence holds across workers, and drain keeps persistent clients', TEST, async () => {
  const port = await freePort();
  const vs = httpService('sticky', port, [a, b, c], { persistence: { type: 'source-ip', timeoutSeconds: 60 } });
  await apply([vs]);
  // Each worker has its own round robin, both starting at a: two workers that did not share the table would still
  // agree on a client's first server unless their round robins stood apart. So: place 127.0.0.1 on one worker,
  // then send clients from other addresses until the other worker's latest pick was that same server. Round robin
  // over three servers never picks one twice running, so from there only the shared table can send 127.0.0.1 back
  // to its server on the other worker.
  const first = await visit(port, '127.0.0.1');
  let k = 2;
  for (;;) {
    const v = await visit(port, `127.0.0.${k}`);
    if (v.worker !== first.worker && v.server === first.server) break;
    assert.ok(++k < 40, `the other worker never gave a new client ${first.server}`);
  }
  // The placement was told to the primary before its answer left, and the primary passes connections to a worker
  // over the same channel as table entries, so the entry is there before 127.0.0.1's next connection.
  const workers = new Set<number>();
  for (let i = 0; i < 6; i++) {
    const v = await visit(port, '127.0.0.1');
    assert.equal(v.server, first.server, `visit ${i} (worker ${v.worker}, first on ${first.worker}): one server for one client address`);
    workers.add(v.worker);
  }
  assert.ok(workers.has(first.worker) && workers.size === 2, 'the persistent client reached both workers');
  await apply([vs], { [`sticky/${first.server}`]: decideServer('drain', 'up', 100) });
  for (let i = 0; i < 2; i++) assert.equal((await visit(port, '127.0.0.1')).server, first.server, 'drained: the persistent client stays');
});

test('TLS sessions resume on either worker (shared ticket keys)', TEST, async () => {
  const key = path.join(dir, 'k.pem');
  const crt = path.join(dir, 'c.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '2',
      '-subj',
      '/CN=www.example',
    ],
    { stdio: 'ignore' },
  );
  const port = await freePort();
  await apply(
    [httpService('tls', port, [a], { layer7: { tls: { certificate: 'www' } } })],
    {},
    { certificates: [{ name: 'www', certificatePem: fs.readFileSync(crt, 'utf8'), privateKeyPem: fs.readFileSync(key, 'utf8') }] },
  );
  const connect = (session?: Buffer) =>
    new Promise<{ reused: boolean; session?: Buffer }>((resolve, reject) => {
      let ticket: Buffer | undefined;
      const s = tls.connect({ port, host: '127.0.0.1', servername: 'www.example', rejectUnauthorized: false, session }, () => {
        s.write('GET / HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n');
      });
      s.on('session', (t) => (ticket = t));
      s.on('data', () => undefined);
      s.on('end', () => resolve({ reused: s.isSessionReused(), session: ticket }));
      s.on('error', reject);
    });
  const first = await connect();
  assert.ok(first.session, 'a TLS 1.3 ticket was issued');
  const reuse = [];
  for (let i = 0; i < 4; i++) reuse.push((await connect(first.session)).reused);
  assert.deepEqual(reuse, [true, true, true, true]);
});

test('a crashed worker is replaced and given the configuration; close() leaves no process behind', TEST, async () => {
  const port = await freePort();
  await apply([httpService('survive', port, [a])]);
  const [victim] = dp.workerPids();
  process.kill(victim, 'SIGKILL');
  await until(() => dp.workerPids().length === 2 && !dp.workerPids().includes(victim), 'the replacement worker');
  // The replacement gets the configuration shortly after it starts; until then the other worker serves.
  for (let i = 0; i < 6; i++) {
    const client = await RawClient.connect(port);
    assert.equal((await client.request('GET', '/')).status, 200);
    client.close();
  }
  const all = dp.workerPids();
  await dp.close();
  for (const pid of [...all, ...pids]) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} is gone`);
});
