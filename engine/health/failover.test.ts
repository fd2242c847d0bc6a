/**
 * Health checks driving the layer 7 proxy, end to end on loopback: the engine with its real monitor and checkers and
 * the real proxy (two cluster workers), real backends, a steady client.
 *
 * A backend's application dies (its port then resets every connection): before detection the proxy's retries carry
 * every GET to the other server, after detection the proxy no longer even tries the dead one, and when the
 * application returns it is back after `rise` passes. Backup servers and the maintenance page take over when the
 * primaries are out and step back when one returns. Assertions count requests and connections; nothing is timed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../daemon/engine.ts';
import { createL7DataPlane } from '../l7/index.ts';
import { freePort, startBackend, within, type Backend } from '../l7/test-helpers.ts';
import type { EngineEvent, HealthTransitionEvent } from '../api-types.ts';
import type { VirtualServiceInput } from '../config/index.ts';

const CHECK = { type: 'http' as const, intervalMs: 500, timeoutMs: 300, rise: 2, fall: 2, http: { path: '/health' } };

/** The next transition of `realServer` to `health`, or the last one if the server is already there. */
function nextHealth(e: Engine, realServer: string, health: string): Promise<HealthTransitionEvent> {
  return within(
    new Promise((resolve) => {
      const on = (ev: EngineEvent) => {
        if (ev.type !== 'health' || ev.realServer !== realServer || ev.health !== health) return;
        e.off('event', on);
        resolve(ev);
      };
      e.on('event', on);
      const last = e
        .healthTransitions(0)
        .filter((x) => x.realServer === realServer)
        .at(-1);
      if (last?.health === health) {
        e.off('event', on);
        resolve(last);
      }
    }),
    `${realServer} ${health}`,
  );
}

/** The port of a backend whose application died: still bound, every connection reset at once. Records the request
 * number (`/?n=N`) of each client request the proxy sent to it (health checks aside). */
async function deadPort(port: number): Promise<{ proxied: number[]; close(): Promise<void> }> {
  const proxied: number[] = [];
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', (d) => {
      const m = /^GET \/\?n=(\d+) /.exec(d.toString('latin1'));
      if (m) proxied.push(Number(m[1]));
      s.resetAndDestroy();
    });
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return { proxied, close: () => new Promise((r) => srv.close(() => r())) };
}

function get(port: number, agent: http.Agent, p = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
  });
}

/** Four keep-alive clients sending GETs back to back until stop(); each result with its number and when it was sent. */
function steady(port: number) {
  const log: { n: number; at: number; status?: number; body?: string; error?: string }[] = [];
  let isOn = true;
  let next = 0;
  const loops = Array.from({ length: 4 }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (isOn) {
      const at = performance.now();
      const n = next++;
      try {
        const r = await get(port, agent, `/?n=${n}`);
        log.push({ n, at, status: r.status, body: r.body });
      } catch (e) {
        log.push({ n, at, error: (e as Error).message });
      }
    }
    agent.destroy();
  });
  return {
    log,
    stop: async () => {
      isOn = false;
      await Promise.all(loops);
      return log;
    },
  };
}

async function engineWith(workers: number, services: VirtualServiceInput[], t: { after(fn: () => unknown): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-failover-'));
  const dp = createL7DataPlane({ dataDir: dir, workers, closeGraceMs: 200 });
  const e = new Engine(dir, [dp], () => undefined, { health: { allowedNetworks: ['127.0.0.0/8'] } });
  t.after(() => e.close());
  const applied = await e.apply(1, { virtualServices: services });
  assert.equal(applied.ok, true, JSON.stringify(applied));
  return e;
}

test('layer 7 under load: a dead backend costs no GET, is not tried after detection, and returns after rise passes', { timeout: 120_000 }, async (t) => {
  const a = await startBackend('a');
  const b = await startBackend('b');
  t.after(async () => {
    await a.close().catch(() => undefined);
    await b.close();
  });
  const port = await freePort();
  const e = await engineWith(
    2,
    [
      {
        name: 'web',
        layer: 7,
        mode: 'http',
        address: '127.0.0.1',
        ports: [port],
        scheduler: 'rr',
        healthCheck: CHECK,
        realServers: [
          { name: 'a', address: '127.0.0.1', port: a.port },
          { name: 'b', address: '127.0.0.1', port: b.port },
        ],
      },
    ],
    t,
  );
  await Promise.all([nextHealth(e, 'a', 'up'), nextHealth(e, 'b', 'up')]);

  const load = steady(port);
  await within(
    (async () => {
      while (!load.log.some((r) => r.body === 'a')) await new Promise((r) => setTimeout(r, 10));
    })(),
    'a serves under load',
  );
  const down = nextHealth(e, 'a', 'down');
  await a.close();
  const dead = await deadPort(a.port);
  t.after(() => dead.close());
  const ev = await down;
  const detectedAt = performance.now();
  assert.equal(ev.code, 'L7RSP');
  assert.match(ev.message, new RegExp(`127\\.0\\.0\\.1:${a.port} (connection reset by the server|answered GET /health with nothing)`));
  // Keep the load on until it has sent at least 40 more requests after detection.
  await within(
    (async () => {
      while (load.log.filter((r) => r.at > detectedAt).length < 40) await new Promise((r) => setTimeout(r, 10));
    })(),
    '40 requests after detection',
  );
  const log = await load.stop();
  assert.deepEqual(
    log.filter((r) => r.status !== 200),
    [],
    'every GET succeeded: the ones sent to the dead server were retried',
  );
  assert.deepEqual(
    log.filter((r) => r.at > detectedAt && r.body !== 'b'),
    [],
    'after detection every request is answered by b',
  );
  const sentAfter = new Set(log.filter((r) => r.at > detectedAt).map((r) => r.n));
  assert.deepEqual(
    dead.proxied.filter((n) => sentAfter.has(n)),
    [],
    'no request sent after detection was tried on the dead server',
  );
  t.diagnostic(`requests tried on the dead server and retried: ${dead.proxied.length}; sent after detection: ${sentAfter.size}`);

  // The application comes back on its port: `rise` passes later a is up and takes requests again.
  await dead.close();
  const up = nextHealth(e, 'a', 'up');
  const a2 = await startBackendOn('a', a.port);
  t.after(() => a2.close());
  await up;
  const agent = new http.Agent({ keepAlive: false });
  const names = new Set<string>();
  for (let i = 0; i < 8; i++) names.add((await get(port, agent)).body);
  assert.deepEqual([...names].sort(), ['a', 'b']);
  assert.deepEqual(
    e
      .healthTransitions(0)
      .filter((x) => x.realServer === 'a')
      .map((x) => `${x.previous}→${x.health}`),
    ['unknown→up', 'up→down', 'down→up'],
  );
  const status = await e.status();
  const check = status.services[0].realServers.find((r) => r.name === 'a')!.check!;
  assert.equal(check.health, 'up');
  assert.equal(check.code, 'L7OK');
  assert.equal(check.target, `127.0.0.1:${a.port}`);
  assert.deepEqual(
    e.healthTransitions(0).map((x) => x.seq),
    [1, 2, 3, 4],
    'numbered for the console to catch up from',
  );
  assert.deepEqual(
    e.healthTransitions(3).map((x) => x.seq),
    [4],
  );
});

test('backup takes over when the primary is down and steps back; the maintenance page when all are down', { timeout: 120_000 }, async (t) => {
  const a = await startBackend('a');
  const bk = await startBackend('bk');
  t.after(async () => {
    await a.close().catch(() => undefined);
    await bk.close().catch(() => undefined);
  });
  const port = await freePort();
  const fast = { ...CHECK, rise: 1, fall: 1 };
  const e = await engineWith(
    0,
    [
      {
        name: 'web',
        layer: 7,
        mode: 'http',
        address: '127.0.0.1',
        ports: [port],
        scheduler: 'rr',
        healthCheck: fast,
        fallback: { type: 'maintenance-page' },
        realServers: [
          { name: 'a', address: '127.0.0.1', port: a.port },
          { name: 'bk', address: '127.0.0.1', port: bk.port, isBackup: true },
        ],
      },
    ],
    t,
  );
  await Promise.all([nextHealth(e, 'a', 'up'), nextHealth(e, 'bk', 'up')]);
  const agent = new http.Agent({ keepAlive: false });
  const bodies = async (n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await get(port, agent)).body);
    return out;
  };
  assert.deepEqual(await bodies(4), ['a', 'a', 'a', 'a'], 'the backup takes nothing while the primary is up');

  const aDown = nextHealth(e, 'a', 'down');
  await a.close();
  await aDown;
  assert.deepEqual(await bodies(3), ['bk', 'bk', 'bk'], 'the backup takes over');

  const bkDown = nextHealth(e, 'bk', 'down');
  await bk.close();
  await bkDown;
  const m = await get(port, agent);
  assert.equal(m.status, 503);
  assert.match(m.body, /maintenance/i, 'all out: the maintenance page');

  const aUp = nextHealth(e, 'a', 'up');
  const a2 = await startBackendOn('a', a.port);
  t.after(() => a2.close());
  await aUp;
  assert.deepEqual(await bodies(3), ['a', 'a', 'a'], 'the primary is back and the page steps aside');
});

/** A backend named `name` on a given port (the application restarted where it was). */
async function startBackendOn(name: string, port: number): Promise<Backend> {
  const srv = http.createServer((_req, res) => {
    res.setHeader('x-server', name);
    res.end(name);
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return {
    name,
    port,
    server: srv,
    seen: [],
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}
