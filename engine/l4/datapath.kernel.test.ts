/**
 * Traffic through the kernel, per mode: a client namespace sends real HTTP requests to the VIP, real servers in their
 * own namespaces answer with their name (and the client address they saw), and the engine — this process, in the
 * director's namespace — programs IPVS through createL4DataPlane. Runs as root in the UML test kernel.
 *
 * For every mode the same story (testing/scenario.ts): rr alternates, persistence sticks, drain lets an open
 * connection finish while new ones go elsewhere, halt removes, online restores. SNAT and firewall-mark marking need
 * nftables' inet family, which UML's kernel lacks: they are in snat.kernel.test.ts, run in QEMU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ConfigSchema, type ConfigInput } from '../config/index.ts';
import { createL4DataPlane } from './dataplane.ts';
import { createLab, sh } from './testing/lab.ts';
import { alternates, scenario } from './testing/scenario.ts';

test('datapath DR: VIP answered by the director only (ARP), rr, persistence, drain, halt', async (t) => {
  const lab = await createLab({ topology: 'one-arm', servers: 2, realServerVip: 'lo' });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l4-'));
  const dp = await scenario(lab, 'dr', undefined, dataDir);
  // Only the director answered ARP for the VIP: the client's neighbour entry is the director's bridge address.
  const mac = fs.readFileSync('/sys/class/net/br-lab/address', 'utf8').trim();
  assert.match(execFileSync('ip', ['netns', 'exec', 'lab-client', 'ip', 'neigh', 'show', lab.vip], { encoding: 'utf8' }), new RegExp(`lladdr ${mac}`));
  // DR keeps the client's address (transparent).
  assert.match((await lab.bodies(1))[0], / 10\.0\.0\.100$/);

  // Engine restart with a connection open: the table stays in the kernel while no engine runs, the new engine
  // reconciles with zero operations, and the open connection and new ones carry on.
  const open = await lab.client.ask<{ id: number; body: string }>({ op: 'open', url: lab.url() });
  await dp.close();
  assert.equal((await lab.get(2)).length, 2, 'traffic flows with no engine running');
  const restarted = createL4DataPlane({ dataDir });
  const cfg = ConfigSchema.parse({
    virtualServices: [
      {
        name: 'vs',
        layer: 4,
        mode: 'dr',
        address: lab.vip,
        ports: [80],
        scheduler: 'rr',
        interface: lab.vipInterface,
        realServers: lab.servers.map((s) => ({ name: s.name, address: s.address })),
      },
    ],
  });
  assert.deepEqual(
    (await restarted.apply({ config: cfg, decisions: new Map() })).map((r) => [r.status, r.operations]),
    [['programmed', 0]],
  );
  assert.equal(restarted.lastApply!.operations, 0);
  const again = await lab.client.ask<{ body: string; samePort: boolean }>({ op: 'again', id: open.id });
  assert.equal(again.body.split(' ')[0], open.body.split(' ')[0]);
  assert.equal(again.samePort, true);
  await restarted.close();
});

test('datapath DR: port translation is refused before it reaches the kernel', () => {
  const r = ConfigSchema.safeParse({
    virtualServices: [{ name: 'vs', layer: 4, mode: 'dr', address: '10.0.0.10', ports: [80], realServers: [{ name: 'r1', address: '10.0.0.2', port: 8080 }] }],
  });
  assert.equal(r.success, false);
  const issue = r.error!.issues.find((i) => i.path.join('.') === 'virtualServices.0.realServers.0.port')!;
  assert.match(issue.message, /cannot be used in DR mode .* DR cannot translate ports/);
});

test('datapath NAT: real servers route back through the director; port translation 80 → 8080; client address kept', async (t) => {
  const lab = await createLab({ topology: 'routed', servers: 2, port: 8080 });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  const dp = await scenario(lab, 'nat', 8080);
  assert.match((await lab.bodies(1))[0], / 172\.16\.0\.2$/);
  // Counters per service and real server, as the console will show them (every request above was a connection).
  // The kernel folds per-CPU counters into what it reports from its estimator timer, every 2 s (ip_vs_est.c), so
  // poll until the service's count shows the traffic (25 connections were made above) and every server's count
  // shows its share (a server halted and brought back above is a new destination whose counters start again and
  // are folded on the next tick); give up after 3 periods.
  let c = (await dp.counters()).get('vs')!;
  const isFolded = () => c.service.totalConnections >= 20 && [...c.servers.values()].every((sc) => sc.totalConnections > 0 && sc.bytesOut > 0);
  for (let i = 0; i < 30 && !isFolded(); i++) {
    await new Promise((r) => setTimeout(r, 200));
    c = (await dp.counters()).get('vs')!;
  }
  assert.ok(c.service.totalConnections >= 20, `service connections ${c.service.totalConnections}`);
  assert.ok(c.service.bytesIn > 0 && c.service.bytesOut > 0 && c.service.packetsIn! > 0);
  assert.deepEqual([...c.servers.keys()].sort(), ['r1', 'r2']);
  for (const [name, sc] of c.servers) assert.ok(sc.totalConnections > 0 && sc.bytesOut > 0, `${name}: ${JSON.stringify(sc)}`);
  // A halted server's counters restart when it comes back (unless the kernel revives it from its trash), so the
  // servers' sum is at most the service's.
  assert.ok([...c.servers.values()].reduce((n, x) => n + x.totalConnections, 0) <= c.service.totalConnections);
  await dp.close();
});

test('datapath NAT over IPv6: VIP fd01::10, real servers fd00::2 and fd00::3, client address kept', async (t) => {
  const lab = await createLab({ topology: 'routed', servers: 2, family: 6 });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  const dp = await scenario(lab, 'nat');
  assert.match((await lab.bodies(1))[0], / fd01::2$/);
  assert.match(sh('ipvsadm', '-Ln'), /TCP\s+\[fd01::10\]:80 rr/);
  assert.equal(fs.readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim(), '1');
  await dp.close();
});

test('datapath TUN: ipip to real servers holding the VIP on tunl0', async (t) => {
  const lab = await createLab({ topology: 'one-arm', servers: 2, realServerVip: 'tunl0' });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  const dp = await scenario(lab, 'tun');
  assert.match((await lab.bodies(1))[0], / 10\.0\.0\.100$/);
  await dp.close();
});

test('datapath DR over IPv6: VIP fd00::10 answered by the director only (neighbour discovery), client address kept', async (t) => {
  const lab = await createLab({ topology: 'one-arm', servers: 2, realServerVip: 'lo', family: 6 });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  const dp = await scenario(lab, 'dr');
  const mac = fs.readFileSync('/sys/class/net/br-lab/address', 'utf8').trim();
  assert.match(execFileSync('ip', ['netns', 'exec', 'lab-client', 'ip', '-6', 'neigh', 'show', lab.vip], { encoding: 'utf8' }), new RegExp(`lladdr ${mac}`));
  assert.match((await lab.bodies(1))[0], / fd00::100$/);
  assert.match(sh('ipvsadm', '-Ln'), /\[fd00::2\]:80\s+Route/);
  // The engine's IPVS VIP is deprecated, so the director never sends from it (TUN below depends on that).
  assert.match(
    sh('ip', '-6', 'addr', 'show', 'dev', 'br-lab'),
    /inet6 fd00::10\/128 scope global (nodad )?deprecated[^\n]*\n\s+valid_lft forever preferred_lft 0sec/,
  );
  await dp.close();
});

test('datapath TUN over IPv6: IPv6-in-IPv6 to real servers holding the VIP on ip6tnl0', async (t) => {
  const lab = await createLab({ topology: 'one-arm', servers: 2, realServerVip: 'tunl0', family: 6 });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  const dp = await scenario(lab, 'tun');
  assert.match((await lab.bodies(1))[0], / fd00::100$/);
  assert.match(sh('ipvsadm', '-Ln'), /\[fd00::3\]:80\s+Tunnel/);
  await dp.close();
});

test('datapath thresholds: a real server at its maximum connections takes no new ones until it is below it', async (t) => {
  // Its own port: IPVS counts inactive connections against the threshold, and earlier tests (health checks under a
  // steady client) leave TIME_WAIT entries for 10.0.0.2:80 that a revived destination would still carry.
  const lab = await createLab({ topology: 'routed', servers: 2, port: 8082 });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  const dp = createL4DataPlane({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l4-')) });
  t.after(() => dp.close());
  // r1 takes at most 2 connections (IPVS counts active and inactive ones), r2 is unlimited; rr between them.
  const cfg = ConfigSchema.parse({
    virtualServices: [
      {
        name: 'vs',
        layer: 4,
        mode: 'nat',
        address: lab.vip,
        ports: [8082],
        scheduler: 'rr',
        interface: lab.vipInterface,
        realServers: [
          { name: 'r1', address: lab.servers[0].address, maxConnections: 2 },
          { name: 'r2', address: lab.servers[1].address },
        ],
      },
    ],
  } as ConfigInput);
  assert.deepEqual(
    (await dp.apply({ config: cfg, decisions: new Map() })).map((r) => r.status),
    ['programmed'],
  );
  // ipvsadm -S does not save thresholds; -L --thresholds shows them (upper, lower).
  assert.match(sh('ipvsadm', '-Ln', '--thresholds'), /10\.0\.0\.2:8082\s+2\s+0\s/);
  // Hold connections open until r1 has two; rr alternates, so that takes at most four.
  const held: string[] = [];
  while (held.filter((n) => n === 'r1').length < 2) {
    held.push((await lab.client.ask<{ body: string }>({ op: 'open', url: lab.url(8082) })).body.split(' ')[0]);
    assert.ok(held.length <= 4, `held: ${held.join(',')}`);
  }
  assert.match(sh('ipvsadm', '-Ln'), /10\.0\.0\.2:8082\s+Masq\s+100\s+2\s/);
  // r1 is full: every new connection goes to r2, though rr would alternate.
  assert.deepEqual(await lab.get(4, 8082), ['r2', 'r2', 'r2', 'r2']);
  // Raising the limit is one SET_DEST, and r1 takes new connections again.
  const raised = ConfigSchema.parse({
    virtualServices: [
      { ...cfg.virtualServices[0], realServers: [{ ...cfg.virtualServices[0].realServers[0], maxConnections: 0 }, cfg.virtualServices[0].realServers[1]] },
    ],
  });
  await dp.apply({ config: raised, decisions: new Map() });
  assert.equal(dp.lastApply!.operations, 1);
  assert.ok((await lab.get(4, 8082)).includes('r1'));
});

test('datapath UDP: without one-packet scheduling a client socket sticks to one server; with it, each datagram is scheduled', async (t) => {
  const lab = await createLab({ topology: 'routed', servers: 2 });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  // Agents of r1 and r2 are the lab's; give them UDP servers too (the lab's servers array order is r1, r2).
  for (const s of lab.servers) {
    const a = lab.serverAgent(s.name);
    await a.ask({ op: 'udp-serve', name: s.name, port: 53 });
  }
  const dp = createL4DataPlane({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l4-')) });
  t.after(() => dp.close());
  const cfg = (ops: boolean) =>
    ConfigSchema.parse({
      virtualServices: [
        {
          name: 'dns',
          layer: 4,
          mode: 'nat',
          protocol: 'udp',
          address: lab.vip,
          ports: [53],
          scheduler: 'rr',
          interface: lab.vipInterface,
          layer4: { onePacketScheduling: ops },
          realServers: lab.servers.map((s) => ({ name: s.name, address: s.address })),
        },
      ],
    } as ConfigInput);
  const ask = async () => (await lab.client.ask<{ answers: string[] }>({ op: 'udp-ask', host: lab.vip, port: 53, n: 6 })).answers;
  assert.deepEqual(
    (await dp.apply({ config: cfg(false), decisions: new Map() })).map((r) => r.status),
    ['programmed'],
  );
  const sticky = await ask();
  assert.equal(new Set(sticky).size, 1, `one UDP "connection": ${sticky.join(',')}`);
  assert.deepEqual(
    (await dp.apply({ config: cfg(true), decisions: new Map() })).map((r) => r.status),
    ['programmed'],
  );
  assert.match(sh('ipvsadm', '-Ln'), /UDP\s+172\.16\.0\.10:53 rr ops/);
  const spread = await ask();
  assert.ok(alternates(spread), `ops: every datagram scheduled: ${spread.join(',')}`);
});
