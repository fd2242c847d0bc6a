/**
 * The Layer 4 data plane's control plane against the real kernel: after apply, `ipvsadm -Sn` must equal the expected
 * table; operator changes must be minimal operations; a restart must reconcile with zero operations; services the
 * engine does not own are never touched. Runs as root inside the UML test kernel (scripts/kernel/run.sh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigSchema, LAYER4_SCHEDULERS, type ConfigInput } from '../config/index.ts';
import { decideServer, type ServerDecision } from '../server-state.ts';
import { createL4DataPlane, type L4DataPlane } from './dataplane.ts';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const ipvsadmS = () => sh('ipvsadm', ['-Sn']).trim().split('\n').filter(Boolean).sort();
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l4-'));

const rs = (n: number, extra: object = {}) => ({ name: `r${n}`, address: `10.0.0.${n}`, ...extra });

const config: ConfigInput = {
  virtualServices: [
    {
      name: 'web-dr',
      layer: 4,
      mode: 'dr',
      address: '192.0.2.10',
      ports: [80],
      scheduler: 'wrr',
      interface: 'vip0',
      realServers: [rs(1, { weight: 3 }), rs(2)],
    },
    {
      name: 'app-nat',
      layer: 4,
      mode: 'nat',
      address: '192.0.2.11',
      ports: [443],
      scheduler: 'wlc',
      persistence: { type: 'source-ip', timeoutSeconds: 900, netmaskPrefix: 24 },
      realServers: [rs(3, { port: 8443, maxConnections: 200, minConnections: 20 }), rs(4, { port: 8443 })],
    },
    {
      name: 'dns-both',
      layer: 4,
      mode: 'nat',
      protocol: 'both',
      address: '192.0.2.12',
      ports: [53],
      scheduler: 'sh',
      layer4: { onePacketScheduling: true },
      realServers: [rs(5)],
    },
    {
      name: 'multi-fwm',
      layer: 4,
      mode: 'dr',
      firewallMark: 7,
      address: '192.0.2.13',
      ports: [],
      scheduler: 'lc',
      persistence: { type: 'source-ip', timeoutSeconds: 300 },
      realServers: [rs(6)],
    },
    { name: 'tun', layer: 4, mode: 'tun', address: '192.0.2.14', ports: [25], scheduler: 'mh', realServers: [rs(7)] },
    {
      name: 'v6',
      layer: 4,
      mode: 'nat',
      address: '2001:db8::10',
      ports: [80],
      scheduler: 'rr',
      persistence: { type: 'source-ip', timeoutSeconds: 60, netmaskPrefix: 64 },
      realServers: [{ name: 'a', address: '2001:db8:1::5', port: 8080 }],
    },
    { name: 'proxy', layer: 7, mode: 'http', address: '192.0.2.20', ports: [80], realServers: [rs(9)] },
  ],
};

const expected = [
  '-A -t 192.0.2.10:80 -s wrr',
  '-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 3',
  '-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 100',
  '-A -t 192.0.2.11:443 -s wlc -p 900 -M 255.255.255.0',
  '-a -t 192.0.2.11:443 -r 10.0.0.3:8443 -m -w 100',
  '-a -t 192.0.2.11:443 -r 10.0.0.4:8443 -m -w 100',
  '-A -t 192.0.2.12:53 -s sh',
  '-a -t 192.0.2.12:53 -r 10.0.0.5:53 -m -w 100',
  '-A -u 192.0.2.12:53 -s sh -o',
  '-a -u 192.0.2.12:53 -r 10.0.0.5:53 -m -w 100',
  '-A -f 7 -s lc -p 300',
  '-a -f 7 -r 10.0.0.6:0 -g -w 100',
  '-A -t 192.0.2.14:25 -s mh',
  '-a -t 192.0.2.14:25 -r 10.0.0.7:25 -i -w 100 --tun-type ipip',
  '-A -t [2001:db8::10]:80 -s rr -p 60 -M 64',
  '-a -t [2001:db8::10]:80 -r [2001:db8:1::5]:8080 -m -w 100',
].sort();

async function withPlane(dataDir: string, fn: (dp: L4DataPlane) => Promise<void>) {
  const dp = createL4DataPlane({ dataDir });
  try {
    await fn(dp);
  } finally {
    await dp.close();
  }
}

test('l4: a config is programmed exactly as ipvsadm -Sn expects, with VIP and sysctls, and restart is zero operations', async (t) => {
  sh('ip', ['link', 'add', 'vip0', 'type', 'dummy']);
  sh('ip', ['link', 'set', 'vip0', 'up']);
  // Someone else's service: must survive every apply untouched.
  sh('ipvsadm', ['-A', '-t', '198.51.100.1:22', '-s', 'rr']);
  sh('ipvsadm', ['-a', '-t', '198.51.100.1:22', '-r', '10.9.9.9:22', '-g']);
  t.after(() => {
    sh('ipvsadm', ['-C']);
    sh('ip', ['link', 'del', 'vip0']);
  });
  const foreign = ['-A -t 198.51.100.1:22 -s rr', '-a -t 198.51.100.1:22 -r 10.9.9.9:22 -g -w 1'];
  // Start from a director that does not forward, so the engine has to set it (earlier tests may have).
  fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', '0');
  fs.writeFileSync('/proc/sys/net/ipv6/conf/all/forwarding', '0');
  const dataDir = tmp();
  const cfg = ConfigSchema.parse(config);

  await withPlane(dataDir, async (dp) => {
    const cap = await dp.capabilities();
    assert.equal(cap.isAvailable, true);
    assert.deepEqual(cap.details!.schedulers, [...LAYER4_SCHEDULERS], 'the test kernel offers every scheduler');
    // UML's kernel has nftables without the inet family: SNAT is honestly not offered there.
    assert.deepEqual(cap.details!.modes, ['dr', 'nat', 'tun']);
    assert.match(String(cap.details!.nftablesReason), /^nftables cannot create an inet table here \(.*Operation not supported.*\)$/);
    const results = await dp.apply({ config: cfg, decisions: new Map() });
    assert.deepEqual(
      results.map((r) => [r.name, r.status]),
      [
        ['web-dr', 'programmed'],
        ['app-nat', 'programmed'],
        ['dns-both', 'programmed'],
        ['multi-fwm', 'programmed'],
        ['tun', 'programmed'],
        ['v6', 'programmed'],
      ],
    );
    assert.equal(dp.lastApply!.operations, 16);
    assert.match(
      results.find((r) => r.name === 'app-nat')!.message,
      /^1 IPVS service in the kernel; 3 operations\. Relies on net\.ipv4\.ip_forward=1 \(set now\)\.$/,
    );
    assert.match(results.find((r) => r.name === 'v6')!.message, /Relies on net\.ipv6\.conf\.all\.forwarding=1 \(set now\)\.$/);
    assert.deepEqual(ipvsadmS(), [...expected, ...foreign].sort());
    assert.match(sh('ipvsadm', ['-Ln', '--thresholds']), /10\.0\.0\.3:8443\s+200\s+20\s/);
    assert.match(sh('ip', ['-o', 'addr', 'show', 'dev', 'vip0']), /inet 192\.0\.2\.10\/32/);
    assert.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '1');
    assert.equal(fs.readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim(), '1');
    // Idempotent: the same apply again is zero operations.
    await dp.apply({ config: cfg, decisions: new Map() });
    assert.equal(dp.lastApply!.operations, 0);
  });

  // Engine restart: a new process reads its ownership record, reconciles fully, changes nothing.
  await withPlane(dataDir, async (dp) => {
    const results = await dp.apply({ config: cfg, decisions: new Map() });
    assert.equal(dp.lastApply!.depth, 'full');
    assert.equal(dp.lastApply!.operations, 0);
    assert.ok(results.every((r) => r.status === 'programmed'));
    assert.deepEqual(ipvsadmS(), [...expected, ...foreign].sort());
  });

  // Remove everything from the config: our services and VIP go, the foreign service stays.
  await withPlane(dataDir, async (dp) => {
    const results = await dp.apply({ config: ConfigSchema.parse({ virtualServices: [] }), decisions: new Map() });
    // A fresh process never saw the old configuration: the removed services are named from the ownership record.
    const services = (n: number) => `Removed from the kernel: ${n} IPVS service${n === 1 ? '' : 's'}.`;
    assert.deepEqual(results.map((r) => [r.name, r.status, r.message]).sort(), [
      ['app-nat', 'removed', services(1)],
      ['dns-both', 'removed', services(2)],
      ['multi-fwm', 'removed', services(1)],
      ['tun', 'removed', services(1)],
      ['v6', 'removed', services(1)],
      ['web-dr', 'removed', services(1)],
    ]);
    assert.deepEqual(ipvsadmS(), foreign.sort());
    assert.doesNotMatch(sh('ip', ['-o', 'addr', 'show', 'dev', 'vip0']), /192\.0\.2\.10/);
  });
});

test('l4: drain is one SET_DEST to weight 0, halt one DEL_DEST, online one NEW_DEST — the health-check path is the same call', async (t) => {
  t.after(() => sh('ipvsadm', ['-C']));
  const cfg = ConfigSchema.parse({ virtualServices: [config.virtualServices![0], config.virtualServices![1]].map((v) => ({ ...v, interface: undefined })) });
  await withPlane(tmp(), async (dp) => {
    await dp.apply({ config: cfg, decisions: new Map() });
    const decisions = new Map<`${string}/${string}`, ServerDecision>();
    const step = async (key: `${string}/${string}`, d: ServerDecision) => {
      decisions.set(key, d);
      const res = await dp.apply({ config: cfg, decisions });
      return { ops: dp.lastApply!.operations, depth: dp.lastApply!.depth, web: res.find((r) => r.name === 'web-dr')! };
    };
    let s = await step('web-dr/r1', decideServer('drain', 'up', 3));
    assert.deepEqual([s.ops, s.depth, s.web.operations], [1, 'incremental', 1]);
    assert.ok(ipvsadmS().includes('-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 0'));
    s = await step('web-dr/r1', decideServer('online', 'down', 3));
    assert.equal(s.ops, 0, 'health down while drained: still weight 0, nothing to do');
    s = await step('web-dr/r1', decideServer('halt', 'up', 3));
    assert.equal(s.ops, 1);
    assert.ok(!ipvsadmS().some((l) => l.includes('10.0.0.1:80')));
    s = await step('web-dr/r1', decideServer('online', 'up', 3));
    assert.equal(s.ops, 1);
    assert.ok(ipvsadmS().includes('-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 3'));
  });
});

test('l4: changes made by hand with ipvsadm to a service we own are repaired when the engine next changes it', async (t) => {
  t.after(() => sh('ipvsadm', ['-C']));
  const base = { ...config.virtualServices![0], interface: undefined };
  const withWeight = (w: number) => ConfigSchema.parse({ virtualServices: [{ ...base, realServers: [rs(1, { weight: 3 }), rs(2, { weight: w })] }] });
  await withPlane(tmp(), async (dp) => {
    await dp.apply({ config: withWeight(100), decisions: new Map() });
    // Behind the engine's back: a real server removed, and a stranger added.
    sh('ipvsadm', ['-d', '-t', '192.0.2.10:80', '-r', '10.0.0.2:80']);
    sh('ipvsadm', ['-a', '-t', '192.0.2.10:80', '-r', '10.0.0.99:80', '-g', '-w', '1']);
    const [r] = await dp.apply({ config: withWeight(40), decisions: new Map() });
    assert.equal(r.status, 'programmed', r.message);
    assert.equal(dp.lastApply!.depth, 'incremental');
    assert.equal(dp.lastApply!.operations, 3, 'SET_DEST refused by the kernel (ENOENT), then NEW_DEST and DEL_DEST');
    assert.deepEqual(ipvsadmS(), ['-A -t 192.0.2.10:80 -s wrr', '-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 3', '-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 40']);
    // The whole service deleted by hand: the next change creates it again.
    sh('ipvsadm', ['-D', '-t', '192.0.2.10:80']);
    const [again] = await dp.apply({ config: withWeight(41), decisions: new Map() });
    assert.equal(again.status, 'programmed', again.message);
    assert.deepEqual(ipvsadmS(), ['-A -t 192.0.2.10:80 -s wrr', '-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 3', '-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 41']);
  });
});

test('l4: a desired service that someone else already holds is refused, not taken over', async (t) => {
  t.after(() => sh('ipvsadm', ['-C']));
  sh('ipvsadm', ['-A', '-t', '192.0.2.10:80', '-s', 'rr']);
  await withPlane(tmp(), async (dp) => {
    const cfg = ConfigSchema.parse({ virtualServices: [{ ...config.virtualServices![0], interface: undefined }] });
    const [r] = await dp.apply({ config: cfg, decisions: new Map() });
    assert.equal(r.status, 'failed');
    assert.equal(r.code, 'IPVS_EXISTS');
    assert.equal(
      r.message,
      'IPVS service TCP 192.0.2.10:80 already exists in the kernel and is not owned by Fulcrum; remove it or choose another address or port.',
    );
    assert.deepEqual(ipvsadmS(), ['-A -t 192.0.2.10:80 -s rr']);
  });
});

test('l4: every scheduler the kernel offers can be programmed', async (t) => {
  t.after(() => sh('ipvsadm', ['-C']));
  const cfg = ConfigSchema.parse({
    virtualServices: LAYER4_SCHEDULERS.map((s, i) => ({
      name: `s-${s}`,
      layer: 4,
      mode: 'nat',
      address: '192.0.2.30',
      ports: [1000 + i],
      scheduler: s,
      realServers: [rs(1)],
    })),
  });
  await withPlane(tmp(), async (dp) => {
    const results = await dp.apply({ config: cfg, decisions: new Map() });
    assert.deepEqual(
      results.filter((r) => r.status !== 'programmed'),
      [],
    );
    const lines = ipvsadmS().filter((l) => l.startsWith('-A'));
    assert.deepEqual(lines.map((l) => l.split(' -s ')[1]).sort(), [...LAYER4_SCHEDULERS].sort());
  });
});
