/**
 * HA inside the engine, with a stand-in keepalived (testing/fake-keepalived.mjs: a real child process writing the
 * real notify FIFO) and a fake kernel for addresses and sync daemons: the engine starts keepalived from its rendered
 * file, turns FIFO lines into 'ha' events, status and sync daemon changes, reloads only when the file changes,
 * restarts a dead keepalived with backoff (removing the addresses it left), stops it when HA is switched off or the
 * engine closes; and the track script's endpoint answers for the data planes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../daemon/engine.ts';
import { createEngineServer, listenOnSocket } from '../daemon/server.ts';
import type { DataPlane, ServiceResult } from '../dataplane.ts';
import type { EngineEvent, HaEvent } from '../api-types.ts';
import type { SyncDaemon } from '../l4/model.ts';
import type { SyncPort } from './sync-daemon.ts';

process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = '127.0.0.0/8';
const FAKE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'fake-keepalived.mjs');

/** Programs every layer 4 service, except that services named "cannot-*" are not programmed (no IPVS, say). */
const plane: DataPlane = {
  name: 'l4',
  capabilities: async () => ({ dataPlane: 'l4', isAvailable: true }),
  apply: async ({ config }) =>
    config.virtualServices.map(
      (v): ServiceResult => ({
        name: v.name,
        layer: 4,
        status: v.name.startsWith('cannot') ? 'not-programmed' : 'programmed',
        message: v.name.startsWith('cannot') ? 'IPVS is not available' : 'ok',
      }),
    ),
  counters: async () => new Map(),
  close: async () => undefined,
};

function fakeSync(): SyncPort & { running: SyncDaemon[] } {
  const running: SyncDaemon[] = [];
  const ok = { command: { cmd: 'get-daemons' as const }, ok: true };
  return {
    running,
    daemons: async () => [...running],
    startDaemon: async (d) => (running.push(d), ok),
    stopDaemon: async (s) => (
      running.splice(
        running.findIndex((d) => d.state === s),
        1,
      ),
      ok
    ),
    close: () => undefined,
  };
}

const config = (ha: Record<string, unknown> = {}, services: string[] = ['web']) => ({
  virtualServices: services.map((name, i) => ({
    name,
    layer: 4,
    mode: 'dr',
    address: `10.0.0.${i === 0 ? 10 : 20 + i}`,
    ports: [80],
    interface: 'eth0',
    healthCheck: { type: 'none' },
    realServers: [{ name: 'r1', address: '10.0.0.2' }],
  })),
  floatingIps: [{ address: '10.0.0.1', prefixLength: 24, interface: 'eth0' }],
  ha: {
    interface: 'eth0',
    virtualRouterId: 51,
    nodes: [
      { name: 'lb1', address: '10.0.0.11', priority: 150 },
      { name: 'lb2', address: '10.0.0.12', priority: 100 },
    ],
    ...ha,
  },
});

async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function setup() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-ha-engine-'));
  const sync = fakeSync();
  const released: string[][] = [];
  const events: HaEvent[] = [];
  const e = new Engine(dataDir, [plane], () => undefined, {
    ha: {
      keepalived: FAKE,
      openIpvs: async () => sync,
      socketPath: path.join(dataDir, 'engine.sock'),
      localAddresses: async () => new Map([['eth0', ['10.0.0.11']]]),
      releaseAddresses: async (a) => void released.push(a.map((x) => x.address)),
      backoff: { initialMs: 50, maxMs: 200, stableMs: 60_000 },
    },
  });
  e.on('event', (ev: EngineEvent) => ev.type === 'ha' && events.push(ev));
  const confLog = () => fs.readFileSync(path.join(dataDir, 'keepalived.conf.log'), 'utf8').trim().split('\n');
  return { dataDir, e, sync, released, events, confLog };
}

test('engine HA: keepalived from the rendered file, FIFO states into events, status and the sync daemon', async () => {
  const { dataDir, e, sync, events, confLog } = setup();
  try {
    assert.equal((await e.apply(1, config())).ok, true);
    await until('keepalived started', () => fs.existsSync(path.join(dataDir, 'keepalived.conf.log')));
    const conf = fs.readFileSync(path.join(dataDir, 'keepalived.conf'), 'utf8');
    assert.match(conf, /router_id lb1[\s\S]*10\.0\.0\.1\/24 dev eth0\n\s+10\.0\.0\.10\/32 dev eth0/);
    assert.match(conf, new RegExp(`--unix-socket ${dataDir}/engine.sock http://fulcrum-engine/v1/ha/check`));
    assert.deepEqual(confLog(), [`start -n -l -D -G --vrrp -f ${dataDir}/keepalived.conf -p ${dataDir}/keepalived.pid -r ${dataDir}/keepalived-vrrp.pid`]);
    await until('BACKUP', () => events.some((x) => x.kind === 'vrrp' && x.state === 'BACKUP'));
    let ha = (await e.status()).ha!;
    assert.equal(ha.node, 'lb1');
    assert.deepEqual(ha.peers, [{ name: 'lb2', address: '10.0.0.12' }]);
    assert.deepEqual([ha.role, ha.instances.map((i) => `${i.name} ${i.virtualRouterId} ${i.state}`)], ['backup', ['fulcrum_eth0 51 BACKUP']]);
    assert.deepEqual(
      ha.instances[0].addresses.map((a) => [a.address, a.isHeld]),
      [
        ['10.0.0.1', false],
        ['10.0.0.10', false],
      ],
    );
    const { readAt, ...daemon } = ha.syncDaemon;
    assert.deepEqual(daemon, { wanted: 'backup', settings: { interface: 'eth0', syncId: 51 }, running: [{ state: 'backup', interface: 'eth0', syncId: 51 }] });
    assert.ok(Number.isFinite(Date.parse(readAt ?? '')), `running as read from the kernel at a time (${readAt})`);

    // The same state again (another priority, or a stale keepalived's goodbye) is no transition; the FIFO keeps the
    // order, so once MASTER has arrived this line was read before it.
    fs.appendFileSync(path.join(dataDir, 'ha-notify.fifo'), 'INSTANCE "fulcrum_eth0" BACKUP 140\n');
    process.kill(ha.keepalived.pid!, 'SIGUSR1');
    await until('MASTER', async () => (await e.status()).ha!.role === 'master');
    ha = (await e.status()).ha!;
    assert.deepEqual(
      ha.syncDaemon.running.map((d) => d.state),
      ['master'],
      'the master daemon runs, the backup one stopped',
    );
    const vrrp = events.filter((x) => x.kind === 'vrrp').map((x) => `${x.instance} ${x.previous}→${x.state}`);
    assert.deepEqual(vrrp, ['fulcrum_eth0 INIT→BACKUP', 'fulcrum_eth0 BACKUP→MASTER']);
    assert.ok(events.some((x) => x.kind === 'sync' && x.state === 'master' && x.node === 'lb1'));

    process.kill(ha.keepalived.pid!, 'SIGUSR2');
    await until('FAULT', async () => (await e.status()).ha!.role === 'fault');
    assert.deepEqual(
      sync.running.map((d) => d.state),
      ['backup'],
    );
  } finally {
    await e.close();
  }
});

test('engine HA: reload only when the rendered file changes; a dead keepalived restarts and its addresses are removed', async () => {
  const { dataDir, e, released, events, confLog } = setup();
  try {
    await e.apply(1, config());
    const pid = await until('started', async () => (await e.status()).ha!.keepalived.pid);
    await until('keepalived started', () => fs.existsSync(path.join(dataDir, 'keepalived.conf.log')));
    await e.apply(2, config({}, ['web']));
    await e.setServerState('web', 'r1', 'drain');
    assert.deepEqual(
      confLog().filter((l) => l === 'reload'),
      [],
      'same file: no reload',
    );
    await e.apply(3, config({ preempt: true }));
    await until('reload', () => confLog().includes('reload'));
    assert.equal((await e.status()).ha!.keepalived.pid, pid, 'reloaded in place, not restarted');
    assert.equal((await e.status()).ha!.keepalived.reloads, 1);
    assert.match(fs.readFileSync(path.join(dataDir, 'keepalived.conf'), 'utf8'), /priority 150\n {2}advert_int 0.5\n {2}unicast_src_ip/, 'nopreempt is gone');

    process.kill(pid, 'SIGKILL');
    const again = await until('restarted', async () => {
      const k = (await e.status()).ha!.keepalived;
      return k.pid !== undefined && k.pid !== pid && k;
    });
    assert.equal(again.restarts, 1);
    assert.match(again.lastExit!.reason, /killed by SIGKILL/);
    assert.deepEqual(released, [['10.0.0.1', '10.0.0.10']], 'the addresses a SIGKILLed keepalived left are removed');
    assert.deepEqual(
      events.filter((x) => x.kind === 'keepalived').map((x) => x.state),
      ['started', 'reloaded', 'exited', 'started'],
    );
    await until('the second start', () => confLog().filter((l) => l.startsWith('start ')).length === 2);
  } finally {
    await e.close();
  }
});

test('engine HA: switched off, keepalived stops and the sync daemon goes; an unknown node never starts it', async () => {
  const { e, sync, events } = setup();
  try {
    await e.apply(1, config());
    await until('backup daemon', () => sync.running.length === 1);
    await e.apply(2, config({ isEnabled: false }));
    const ha = (await e.status()).ha!;
    assert.deepEqual([ha.isEnabled, ha.keepalived.isRunning, ha.instances, sync.running], [false, false, [], []]);
    assert.ok(
      events.some((x) => x.kind === 'vrrp' && x.state === 'STOP'),
      'keepalived said STOP as it stopped',
    );

    await e.apply(
      3,
      config({
        nodes: [
          { name: 'lb3', address: '10.0.0.13', priority: 150 },
          { name: 'lb2', address: '10.0.0.12', priority: 100 },
        ],
      }),
    );
    const unknown = (await e.status()).ha!;
    assert.equal(unknown.error?.code, 'HA_NODE_UNKNOWN');
    assert.match(unknown.error!.message, /no node's address is on eth0 \(it has 10\.0\.0\.11\).*FULCRUM_HA_NODE.*lb3, lb2/);
    assert.equal(unknown.keepalived.isRunning, false);
  } finally {
    await e.close();
  }
});

test('engine HA: the track script endpoint is 200 while every service is programmed, 503 HA_UNHEALTHY when not', async () => {
  const { dataDir, e } = setup();
  const socketPath = path.join(dataDir, 'engine.sock');
  const server = createEngineServer(e, () => undefined);
  await listenOnSocket(server, socketPath);
  const check = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get({ socketPath, path: '/v1/ha/check' }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        })
        .on('error', reject);
    });
  try {
    assert.equal((await check()).status, 200, 'no configuration yet: nothing is unhealthy');
    await e.apply(1, config());
    assert.deepEqual(await check(), { status: 200, body: '{"ok":true}' });
    await e.apply(2, config({}, ['web', 'cannot-run']));
    const bad = await check();
    assert.equal(bad.status, 503);
    assert.equal(JSON.parse(bad.body).error.code, 'HA_UNHEALTHY');
    assert.match(JSON.parse(bad.body).error.message, /cannot-run: IPVS is not available/);
  } finally {
    server.close();
    await e.close();
  }
});
