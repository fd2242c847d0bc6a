/**
 * The read-only views over the real socket API: the running configuration with private keys hidden, the IPVS table
 * (unavailable on a kernel without IPVS, with the reason; a table read through a client handed in, owners named from
 * the ownership record), and the layer 7 runtime of a real in-process proxy on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from './engine.ts';
import { createEngineServer, listenOnSocket } from './server.ts';
import { l4View, PRIVATE_KEY_HIDDEN } from './views.ts';
import { createEngineClient } from '../client/index.ts';
import { createL7DataPlane } from '../l7/index.ts';
import { fetchOnce, freePort, startBackend, waitFor } from '../l7/test-helpers.ts';
import type { ObservedService } from '../l4/model.ts';

process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = '127.0.0.0/8,::1/128';
const quiet = () => undefined;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-views-'));

function selfSigned(dir: string): { certificatePem: string; privateKeyPem: string } {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=views.test',
      '-keyout',
      path.join(dir, 'k.pem'),
      '-out',
      path.join(dir, 'c.pem'),
    ],
    { stdio: 'pipe' },
  );
  return { certificatePem: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8'), privateKeyPem: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8') };
}

async function start(dir: string, workers = 0) {
  const l7 = createL7DataPlane({ dataDir: dir, workers });
  const engine = new Engine(dir, [l7], quiet);
  const server = createEngineServer(engine, quiet);
  const socketPath = path.join(dir, 'engine.sock');
  await listenOnSocket(server, socketPath);
  return {
    engine,
    client: createEngineClient(socketPath),
    async close() {
      await new Promise((r) => server.close(r));
      await engine.close();
    },
  };
}

test('config view: the running configuration as the engine holds it, and never a private key', async () => {
  const dir = tmp();
  const e = await start(dir);
  try {
    assert.deepEqual(await e.client.view('config'), { running: null, config: null });
    const pem = selfSigned(dir);
    const port = await freePort();
    const config = {
      certificates: [{ name: 'portal', ...pem }],
      virtualServices: [
        {
          name: 'portal',
          layer: 7,
          mode: 'http',
          address: '127.0.0.1',
          ports: [port],
          healthCheck: { type: 'none' },
          layer7: { tls: { certificate: 'portal' } },
          realServers: [{ name: 'app-1', address: '127.0.0.21', port: 8080 }],
        },
      ],
    };
    const applied = await e.client.apply(3, 'h3', config);
    assert.equal(applied.ok, true, JSON.stringify(applied.results));
    const v = await e.client.view('config');
    assert.equal(v.running?.version, 3);
    const c = v.config as {
      certificates: { name: string; certificatePem: string; privateKeyPem: string }[];
      virtualServices: { name: string; ports: number[] }[];
    };
    assert.equal(c.certificates[0].privateKeyPem, PRIVATE_KEY_HIDDEN);
    assert.equal(c.certificates[0].certificatePem, pem.certificatePem, 'the certificate itself is public');
    assert.deepEqual(c.virtualServices[0].ports, [port]);
    assert.ok(!JSON.stringify(v).includes('PRIVATE KEY'), 'no key material anywhere in the answer');
  } finally {
    await e.close();
  }
});

test('L4 view: unavailable with the reason where the kernel has no IPVS; otherwise the table with owners', async () => {
  const dir = tmp();
  const e = await start(dir);
  try {
    const refused = await l4View(e.engine, async () => {
      throw new Error('IPVS is not available in this kernel (no ip_vs module)');
    });
    assert.deepEqual(refused, { isAvailable: false, reason: 'IPVS is not available in this kernel (no ip_vs module)', services: [], text: [] });
    // Over the socket: whatever this machine has, the answer says which it is.
    const real = await e.client.view('l4');
    if (!real.isAvailable) assert.match(real.reason ?? '', /\S/);

    const service = (address: string): ObservedService => ({
      family: 4,
      protocol: 'tcp',
      address,
      port: 80,
      scheduler: 'wlc',
      flags: 0x2,
      timeout: 0,
      netmaskPrefix: 32,
      peName: '',
      stats: { connections: 12, packetsIn: 40, packetsOut: 38, bytesIn: 4000, bytesOut: 9000, cps: 0, ppsIn: 0, ppsOut: 0, bpsIn: 0, bpsOut: 0 },
      destinations: [
        {
          address: '127.0.0.21',
          port: 80,
          forward: 'route',
          weight: 5,
          upperThreshold: 0,
          lowerThreshold: 0,
          activeConnections: 2,
          inactiveConnections: 1,
          persistentConnections: 0,
        },
      ],
    });
    fs.writeFileSync(
      path.join(dir, 'l4-owned.json'),
      JSON.stringify({ version: 1, services: ['tcp|4|127.0.0.50|80'], vips: [], hasNftTable: false, labels: { 'tcp|4|127.0.0.50|80': 'symphony' } }),
    );
    let isClosed = false;
    const v = await l4View(e.engine, async () => ({
      info: async () => ({ version: '1.2.1', connectionTableSize: 4096 }),
      table: async () => [service('127.0.0.50'), service('127.0.0.60')],
      close: () => void (isClosed = true),
    }));
    assert.equal(isClosed, true, 'the netlink socket is closed after the read');
    assert.deepEqual(
      v.services.map((s) => [s.address, s.owner]),
      [
        ['127.0.0.50', 'symphony'],
        ['127.0.0.60', null],
      ],
    );
    assert.match(v.text[0], /1 owned by Fulcrum/);
    assert.ok(
      v.text.some((l) => /TCP\s+127\.0\.0\.50:80 wlc\s+fulcrum symphony/.test(l)),
      v.text.join('\n'),
    );
    assert.ok(
      v.text.some((l) => /->\s+127\.0\.0\.21:80\s+Route\s+5\s+2\s+1\s+12/.test(l) || /->\s+127\.0\.0\.21:80\s+Route\s+5\s+2\s+1/.test(l)),
      v.text.join('\n'),
    );
  } finally {
    await e.close();
  }
});

test('L7 view: listeners, the pool with each server as decided, and the stick table of source-IP persistence', async () => {
  const dir = tmp();
  const e = await start(dir, 1);
  const backend = await startBackend('app-1');
  try {
    const port = await freePort();
    const config = {
      virtualServices: [
        {
          name: 'web',
          layer: 7,
          mode: 'http',
          address: '127.0.0.1',
          ports: [port],
          healthCheck: { type: 'none' },
          persistence: { type: 'source-ip', timeoutSeconds: 600 },
          realServers: [
            { name: 'app-1', address: '127.0.0.1', port: backend.port },
            { name: 'app-2', address: '127.0.0.22', port: 8080, state: 'drain' },
          ],
        },
      ],
    };
    assert.equal((await e.client.apply(1, 'h1', config)).ok, true);
    const v = await e.client.view('l7');
    assert.equal(v.services.length, 1);
    const [s] = v.services;
    assert.deepEqual([s.name, s.status, s.listeners, s.persistence], ['web', 'programmed', [`127.0.0.1:${port}`], 'source-ip']);
    assert.deepEqual(
      s.servers.map((x) => [x.name, x.operator, x.disposition]),
      [
        ['app-1', 'online', 'serve'],
        ['app-2', 'drain', 'quiesce'],
      ],
    );
    assert.deepEqual(s.stickTables, [{ table: 'web/source', entries: 0 }]);
    // One client through the proxy: its source address is one entry, counted by the primary from the worker's report.
    assert.equal((await fetchOnce(port, 'GET', '/')).status, 200);
    await waitFor(async () => (await e.client.view('l7')).services[0].stickTables?.[0].entries === 1, 'the stick entry in the view');
  } finally {
    await backend.close();
    await e.close();
  }
});
