/**
 * Layer 7 stick tables sent to the HA peer (stick-sync.ts), over real UDP sockets on loopback addresses:
 *   - the wire: batches of [table, key, server, ttl] no larger than MAX_DATAGRAM; the lifetime travels, so the
 *     receiver's expiry is on its own clock; datagrams from an address that is no peer, or not well formed, dropped
 *   - two engines (engine/daemon/engine.ts) with the real layer 7 data plane and HA on (a stand-in keepalived), one
 *     per node address: clients placed by source-IP persistence on one node are sent to the same real servers by the
 *     other, in an order round robin alone could not give; and back the other way
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../daemon/engine.ts';
import { createL7DataPlane } from '../l7/index.ts';
import type { StickEntry } from '../l7/persistence.ts';
import { config, fetchFrom, freePort, httpService, startBackend, waitFor } from '../l7/test-helpers.ts';
import type { SyncPort } from './sync-daemon.ts';
import { MAX_DATAGRAM, StickReplicator } from './stick-sync.ts';

process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = '127.0.0.0/8';
const FAKE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'fake-keepalived.mjs');
const quiet = () => undefined;

/** A UDP port free on 127.0.0.11, 127.0.0.12 and 127.0.0.13 alike (the nodes of these tests share it, as a pair does). */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.11', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}

async function rawSocket(address: string, port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(port, address, r));
  return s;
}

test('stick sync: entries travel in batches under MAX_DATAGRAM with their remaining lifetime; strangers and garbage are dropped', async () => {
  const port = await freeUdpPort();
  const peer = await rawSocket('127.0.0.12', port);
  const datagrams: Buffer[] = [];
  const asks: string[] = [];
  peer.on('message', (m) => (m.toString().includes('"resync"') ? asks.push(m.toString()) : datagrams.push(m)));
  const got: [string, string, StickEntry][] = [];
  const logs: string[] = [];
  const a = await StickReplicator.open({
    address: '127.0.0.11',
    peers: ['127.0.0.12'],
    port,
    log: (_l, m) => logs.push(m),
    now: () => 1_000_000,
    onEntry: (t, k, e) => got.push([t, k, e]),
  });
  try {
    // 40 entries with long keys (app cookies): more than one datagram, each under the limit, none lost on loopback.
    for (let i = 0; i < 40; i++)
      a.send('web/app', `JSESSIONID-${String(i).padStart(2, '0')}-${'x'.repeat(60)}`, { server: i % 2 ? 'app-2' : 'app-1', expiresAt: 1_000_000 + 600_000 });
    a.send('web/source', '10.1.2.3', { server: 'app-1', expiresAt: 999_999 }); // already expired: not sent
    await waitFor(() => datagrams.flatMap((d) => JSON.parse(d.toString()).entries).length === 40, 'the 40 entries at the peer');
    assert.ok(datagrams.length >= 3, `batched into several datagrams (${datagrams.length})`);
    for (const d of datagrams) assert.ok(d.length <= MAX_DATAGRAM, `a datagram of ${d.length} bytes`);
    const first = JSON.parse(datagrams[0].toString());
    assert.equal(first.v, 1);
    assert.deepEqual(first.entries[0], ['web/app', `JSESSIONID-00-${'x'.repeat(60)}`, 'app-1', 600_000]);
    assert.equal(a.status().sent, 40);
    // Opening the link asked the peer for its whole table (a full resync on join), once.
    assert.deepEqual([asks, a.status().resyncsAsked], [['{"v":1,"resync":true}'], 1]);

    // Into a: a good batch from the peer (expiry on a's clock), after a stranger's and a malformed one.
    const stranger = await rawSocket('127.0.0.13', port);
    const good = Buffer.from(JSON.stringify({ v: 1, entries: [['web/source', '10.1.2.3', 'app-2', 30_000]] }));
    stranger.send(good, port, '127.0.0.11');
    peer.send(Buffer.from('{"v":1,"entries":[["web/source","10.9.9.9","app-1",-5]]}'), port, '127.0.0.11');
    peer.send(Buffer.from('not json'), port, '127.0.0.11');
    peer.send(good, port, '127.0.0.11');
    await waitFor(() => a.status().received === 1 && a.status().refused === 3, 'the good batch, after three refused');
    assert.deepEqual(got, [['web/source', '10.1.2.3', { server: 'app-2', expiresAt: 1_030_000 }]]);
    assert.equal(logs.filter((l) => l.includes('127.0.0.13, which is no peer')).length, 1, logs.join('\n'));
    assert.equal(logs.filter((l) => l.includes('not a batch of entries')).length, 1, 'one log line per kind of problem, not one per datagram');
    stranger.close();
  } finally {
    await a.close();
    peer.close();
  }
});

function fakeSync(): SyncPort {
  const ok = { command: { cmd: 'get-daemons' as const }, ok: true };
  return { daemons: async () => [], startDaemon: async () => ok, stopDaemon: async () => ok, close: () => undefined };
}

/** One node of the pair: the engine with the real layer 7 data plane (in process) and HA on a stand-in keepalived. */
function node(name: string, address: string) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `fulcrum-stick-${name}-`));
  const l7 = createL7DataPlane({ dataDir, workers: 0 });
  const engine = new Engine(dataDir, [l7], quiet, {
    ha: {
      nodeName: name,
      keepalived: FAKE,
      openIpvs: async () => fakeSync(),
      socketPath: path.join(dataDir, 'engine.sock'),
      localAddresses: async () => new Map([['lo', [address]]]),
      releaseAddresses: async () => undefined,
    },
  });
  return { engine, dataDir };
}

test('stick sync: a client placed by source-IP persistence on one node goes to the same real server on the other', async () => {
  process.env.FULCRUM_STICK_SYNC_PORT = String(await freeUdpPort());
  const [s1, s2] = await Promise.all([startBackend('s1'), startBackend('s2')]);
  const [portA, portB] = [await freePort(), await freePort()];
  const lb1 = node('lb1', '127.0.0.11');
  const lb2 = node('lb2', '127.0.0.12');
  let lb2b: ReturnType<typeof node> | undefined;
  const ha = {
    interface: 'lo',
    virtualRouterId: 71,
    nodes: [
      { name: 'lb1', address: '127.0.0.11', priority: 150 },
      { name: 'lb2', address: '127.0.0.12', priority: 100 },
    ],
  };
  // The same service on both; on one host the two nodes listen on two ports (a pair would listen on one VIP).
  const on = (port: number) => config([httpService('web', port, [s1, s2], { persistence: { type: 'source-ip', timeoutSeconds: 600 } })], { ha });
  try {
    for (const [n, port] of [
      [lb1, portA],
      [lb2, portB],
    ] as const) {
      const r = await n.engine.apply(1, on(port));
      assert.deepEqual(
        r.results.map((x) => `${x.name} ${x.status}`),
        ['web programmed'],
        JSON.stringify(r),
      );
    }
    const link = async (n: typeof lb1) => (await n.engine.status()).ha!.stickSync as { received: number; sent: number; address: string };
    assert.equal((await link(lb1)).address, '127.0.0.11');

    // Four clients on lb1: round robin places them s1, s2, s1, s2 (in some order).
    const clients = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const placed = new Map<string, string>();
    for (const c of clients) placed.set(c, (await fetchFrom(c, portA, 'GET', '/')).body.toString());
    assert.deepEqual([...placed.values()].sort(), ['s1', 's1', 's2', 's2']);
    await waitFor(async () => (await link(lb2)).received >= 4, 'lb2 to hear the four entries');

    // On lb2, both of one server's clients first, then the other's: an order round robin alone cannot give.
    const order = [...clients].sort((x, y) => placed.get(x)!.localeCompare(placed.get(y)!));
    for (const c of order) assert.equal((await fetchFrom(c, portB, 'GET', '/')).body.toString(), placed.get(c), `client ${c} on lb2`);

    // And back: a client first seen on lb2 keeps its server on lb1.
    const fresh = (await fetchFrom('127.0.0.6', portB, 'GET', '/')).body.toString();
    await waitFor(async () => (await link(lb1)).received >= 1, "lb1 to hear lb2's entry");
    for (let i = 0; i < 3; i++) assert.equal((await fetchFrom('127.0.0.6', portA, 'GET', '/')).body.toString(), fresh, 'client 127.0.0.6 on lb1');

    // lb2 replaced by a node with an empty data directory: it joins, asks lb1 for the whole table, and has all five
    // clients' servers before any of them comes back (nothing is made or refreshed on lb1 meanwhile).
    await lb2.engine.close();
    lb2b = node('lb2', '127.0.0.12');
    assert.deepEqual(
      (await lb2b.engine.apply(1, on(portB))).results.map((x) => x.status),
      ['programmed'],
    );
    await waitFor(async () => (await link(lb2b!)).received >= 5, 'the new lb2 to be sent the five entries');
    const l1 = (await lb1.engine.status()).ha!.stickSync as { sent: number; resyncsAnswered: number };
    assert.deepEqual(
      [l1.sent, l1.resyncsAnswered],
      [4 + 5, 2],
      'lb1 sent its own four, then all five to the new lb2 (it also answered the first lb2, holding nothing then)',
    );
    for (const c of [...order, '127.0.0.6'].reverse())
      assert.equal((await fetchFrom(c, portB, 'GET', '/')).body.toString(), placed.get(c) ?? fresh, `client ${c} on the new lb2`);
  } finally {
    delete process.env.FULCRUM_STICK_SYNC_PORT;
    await Promise.all([lb1.engine.close(), lb2.engine.close(), lb2b?.engine.close()]);
    await Promise.all([s1.close(), s2.close()]);
  }
});

test("stick sync: a node that joins is sent its peer's whole table, in batches under MAX_DATAGRAM, expired entries left out", async () => {
  const port = await freeUdpPort();
  const now = () => 5_000_000;
  const held: [string, string, StickEntry][] = [];
  for (let i = 0; i < 600; i++) held.push(['web/source', `10.0.${i >> 8}.${i & 255}`, { server: `app-${i % 3}`, expiresAt: 5_000_000 + 60_000 + i }]);
  held.push(['web/app', 'gone', { server: 'app-1', expiresAt: 4_999_000 }]);
  const a = await StickReplicator.open({ address: '127.0.0.11', peers: ['127.0.0.12'], port, log: quiet, now, onEntry: quiet, entries: () => held });
  try {
    // The wire, seen by a bare socket on the peer's address that asks as a joining node does.
    const raw = await rawSocket('127.0.0.12', port);
    const datagrams: Buffer[] = [];
    raw.on('message', (m) => datagrams.push(m));
    raw.send(Buffer.from('{"v":1,"resync":true}'), port, '127.0.0.11');
    const entries = () => datagrams.flatMap((d) => JSON.parse(d.toString()).entries as [string, string, string, number][]);
    await waitFor(() => entries().length === 600, 'the 600 live entries at the asking peer');
    raw.close();
    assert.ok(datagrams.length >= 10, `in batches (${datagrams.length} datagrams)`);
    for (const d of datagrams) assert.ok(d.length <= MAX_DATAGRAM, `a datagram of ${d.length} bytes`);
    assert.deepEqual(entries()[599], ['web/source', '10.0.2.87', 'app-2', 60_599], 'the remaining lifetime travels');
    assert.equal(entries().filter((e) => e[1] === 'gone').length, 0, 'an expired entry is not sent');

    // A real node joining: it asks when its link opens, and holds the table afterwards.
    const got = new Map<string, StickEntry>();
    const b = await StickReplicator.open({
      address: '127.0.0.12',
      peers: ['127.0.0.11'],
      port,
      log: quiet,
      now,
      onEntry: (t, k, e) => got.set(`${t} ${k}`, e),
    });
    try {
      await waitFor(() => got.size === 600, 'the 600 live entries at the joining node');
      assert.deepEqual(got.get('web/source 10.0.2.87'), { server: 'app-2', expiresAt: 5_060_599 });
      assert.deepEqual([a.status().resyncsAnswered, a.status().sent, b.status().resyncsAsked, b.status().received], [2, 1200, 1, 600]);
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
});
