/**
 * Pre-flight refusals: a VIP:port a real socket on this host already holds, a DR real server on no local subnet, a
 * VIP on no local subnet, an interface that does not exist; and the /proc/net/tcp reader against a real listener.
 * Nothing here sends a packet: pre-flight only reads addresses and listening sockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { ConfigSchema, type VirtualService } from '../../engine/config/index.ts';
import { hostAddresses, hostListeners, parseProcNetTcp, preflight, type HostAddress } from './preflight.ts';
import { notProbedReason, probeTcp } from './probe.ts';

const dr = (over: Partial<VirtualService> = {}): VirtualService =>
  ConfigSchema.parse({
    virtualServices: [
      {
        name: 'symphony',
        layer: 4,
        mode: 'dr',
        address: '10.1.0.50',
        ports: [80, 443],
        healthCheck: { type: 'none' },
        realServers: [
          { name: 'sym-app-1', address: '10.1.0.11' },
          { name: 'sym-app-2', address: '10.2.0.12' },
        ],
        ...over,
      },
    ],
  }).virtualServices[0];

const addresses: HostAddress[] = [
  { interface: 'lo', address: '127.0.0.1', prefix: 8 },
  { interface: 'eth0', address: '10.1.0.5', prefix: 24 },
];

test('DR: a real server on no local subnet is refused at its address, saying what the appliance has and what to change', () => {
  const r = preflight([dr()], { addresses, listeners: [] });
  assert.equal(r.issues.length, 1);
  assert.deepEqual([r.issues[0].step, r.issues[0].path], ['servers', 'realServers.1.address']);
  assert.match(
    r.issues[0].message,
    /No interface of this appliance is on a subnet holding 10\.2\.0\.12 \(it has lo 127\.0\.0\.1\/8, eth0 10\.1\.0\.5\/24\)\. DR needs the appliance on the real servers' subnet.*or choose Layer 7 SNAT/,
  );
  assert.ok(r.checks.some((c) => c.isOk && /VIP 10\.1\.0\.50 is on a local subnet/.test(c.name)));
});

test('DR: a VIP on no local subnet, and an interface this appliance lacks, are refused at the VIP step', () => {
  const r = preflight([dr({ address: '10.9.0.50', interface: 'eth7', realServers: [] })], { addresses, listeners: [] });
  const by = Object.fromEntries(r.issues.map((i) => [i.path, i.message]));
  assert.match(by.interface, /no interface "eth7"; it has lo, eth0/);
  assert.match(by.address, /The VIP 10\.9\.0\.50 is not in any subnet of this appliance on eth7/);
});

test('every mode: a VIP:port a socket on this host holds is refused at that port; layer 7 needs no local subnet', async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  try {
    const seen = hostListeners();
    assert.ok(
      seen.some((l) => l.address === '127.0.0.1' && l.port === port),
      'the real listener is read from /proc/net/tcp',
    );
    const l7 = ConfigSchema.parse({
      virtualServices: [
        {
          name: 'web',
          layer: 7,
          mode: 'http',
          address: '127.0.0.1',
          ports: [port],
          healthCheck: { type: 'none' },
          realServers: [{ name: 'a', address: '203.0.113.7', port: 8080 }],
        },
      ],
    }).virtualServices[0];
    const r = preflight([l7], { addresses: hostAddresses(), listeners: seen }, () => 1);
    assert.equal(r.issues.length, 1, JSON.stringify(r.issues));
    assert.deepEqual([r.issues[0].step, r.issues[0].path], ['service', 'ports.1.port']);
    assert.match(r.issues[0].message, new RegExp(`already listens on 127\\.0\\.0\\.1:${port}; choose another port or VIP`));
    // A wildcard listener takes the port on every address.
    const wild = preflight([l7], { addresses, listeners: [{ address: '0.0.0.0', port }] });
    assert.match(wild.issues[0].message, /listens on port \d+ on every address/);
  } finally {
    server.close();
  }
});

test('parseProcNetTcp reads IPv4 and IPv6 listeners and skips other states', () => {
  const v4 = `  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 0\n   1: 0100007F:1F91 0100007F:D431 01 0\n`;
  assert.deepEqual(parseProcNetTcp(v4, 4), [{ address: '127.0.0.1', port: 8080 }]);
  const v6 = `  sl  local_address rem_address st\n   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 0\n`;
  assert.deepEqual(parseProcNetTcp(v6, 6), [{ address: '::1', port: 80 }]);
});

test('the reachability probe: a real listener answers, a closed port refuses, outside the allowed networks is not probed', async () => {
  const server = net.createServer((s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const before = process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS;
  process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = '127.0.0.0/8,::1/128';
  try {
    assert.equal((await probeTcp('127.0.0.1', port)).outcome, 'reachable');
    server.close();
    await once(server, 'close');
    const closed = await probeTcp('127.0.0.1', port);
    assert.equal(closed.outcome, 'refused');
    assert.match(closed.message, /nothing listens on port/);
    const far = await probeTcp('192.168.10.11', 80);
    assert.equal(far.outcome, 'not-probed');
    assert.match(far.message, /outside the networks this appliance may probe/);
    assert.equal(notProbedReason('192.168.10.11', ''), undefined, 'unset: any address may be probed');
  } finally {
    if (before === undefined) delete process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS;
    else process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = before;
    server.close();
  }
});
