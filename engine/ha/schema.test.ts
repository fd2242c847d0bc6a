/**
 * The `ha` block of the one schema (engine/config/schema.ts), table-driven: each case names the input, whether it
 * passes, and the field path blamed. Then which addresses move, how they group, and which node this engine is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema, haInterfaceGroups, haMovingAddresses } from '../config/index.ts';
import { engineHeldAddresses, haSysctls } from './addresses.ts';
import { whichNode } from './node.ts';

const nodes = [
  { name: 'lb1', address: '10.0.0.11', priority: 150 },
  { name: 'lb2', address: '10.0.0.12', priority: 100 },
];
const ha = (over: Record<string, unknown> = {}) => ({ interface: 'eth0', virtualRouterId: 51, nodes, ...over });
const vs = (name: string, address: string, iface?: string, extra: Record<string, unknown> = {}) => ({
  name,
  layer: 4,
  mode: 'dr',
  address,
  ports: [80],
  ...(iface ? { interface: iface } : {}),
  realServers: [{ name: 'r1', address: address.includes(':') ? 'fd00::2' : '10.0.0.2' }],
  ...extra,
});
const cfg = (over: Record<string, unknown> = {}) => ({
  virtualServices: [vs('web', '10.0.0.10', 'eth0')],
  floatingIps: [{ address: '10.0.0.1', prefixLength: 24, interface: 'eth0' }],
  ...over,
});

type Case = { name: string; input: Record<string, unknown>; path?: string; message?: RegExp };
const cases: Case[] = [
  { name: 'a pair on one interface', input: cfg({ ha: ha() }) },
  { name: 'defaults: 500 ms adverts, nopreempt, connection sync on', input: cfg({ ha: ha() }) },
  { name: 'the VRID runs from 1', input: cfg({ ha: ha({ virtualRouterId: 0 }) }), path: 'ha.virtualRouterId' },
  { name: 'the VRID runs to 255', input: cfg({ ha: ha({ virtualRouterId: 256 }) }), path: 'ha.virtualRouterId' },
  {
    name: 'two interfaces need two VRIDs: 255 leaves no room for the second',
    input: cfg({ virtualServices: [vs('web', '10.0.0.10', 'eth0'), vs('nat', '172.16.0.10', 'eth1')], ha: ha({ virtualRouterId: 255 }) }),
    path: 'ha.virtualRouterId',
    message: /IDs would run from 255 to 256; choose a first ID of at most 254/,
  },
  {
    name: 'two interfaces from 254',
    input: cfg({ virtualServices: [vs('web', '10.0.0.10', 'eth0'), vs('nat', '172.16.0.10', 'eth1')], ha: ha({ virtualRouterId: 254 }) }),
  },
  { name: 'advert interval in centiseconds', input: cfg({ ha: ha({ advertIntervalMs: 505 }) }), path: 'ha.advertIntervalMs', message: /multiple of 10 ms/ },
  { name: 'advert interval at least 10 ms', input: cfg({ ha: ha({ advertIntervalMs: 0 }) }), path: 'ha.advertIntervalMs' },
  { name: 'advert interval at most 40.95 s', input: cfg({ ha: ha({ advertIntervalMs: 40_960 }) }), path: 'ha.advertIntervalMs' },
  { name: 'one node is not a pair', input: cfg({ ha: ha({ nodes: [nodes[0]] }) }), path: 'ha.nodes' },
  {
    name: 'a peer with our own address',
    input: cfg({ ha: ha({ nodes: [nodes[0], { ...nodes[1], address: '10.0.0.11' }] }) }),
    path: 'ha.nodes.1.address',
    message: /already the address of node "lb1"/,
  },
  {
    name: 'IPv6 address written otherwise is the same address',
    input: cfg({
      ha: ha({
        nodes: [
          { ...nodes[0], address: 'fd00::11' },
          { ...nodes[1], address: 'FD00:0::11' },
        ],
      }),
    }),
    path: 'ha.nodes.1.address',
  },
  {
    name: 'peers in two families',
    input: cfg({ ha: ha({ nodes: [nodes[0], { ...nodes[1], address: 'fd00::12' }] }) }),
    path: 'ha.nodes.1.address',
    message: /one family/,
  },
  { name: 'two nodes with one name', input: cfg({ ha: ha({ nodes: [nodes[0], { ...nodes[1], name: 'lb1' }] }) }), path: 'ha.nodes.1.name' },
  { name: 'equal priorities', input: cfg({ ha: ha({ nodes: [nodes[0], { ...nodes[1], priority: 150 }] }) }), path: 'ha.nodes.1.priority' },
  { name: 'priority 255 is the address owner', input: cfg({ ha: ha({ nodes: [{ ...nodes[0], priority: 255 }, nodes[1]] }) }), path: 'ha.nodes.0.priority' },
  {
    name: "a node's address must not move",
    input: cfg({ ha: ha({ nodes: [{ ...nodes[0], address: '10.0.0.10' }, nodes[1]] }) }),
    path: 'ha.nodes.0.address',
    message: /also a VIP/,
  },
  { name: 'a preemption delay needs preemption', input: cfg({ ha: ha({ preemptDelaySeconds: 30 }) }), path: 'ha.preemptDelaySeconds' },
  { name: 'preemption with a delay', input: cfg({ ha: ha({ preempt: true, preemptDelaySeconds: 30 }) }) },
  {
    name: 'preemption delay at most 1000 s (keepalived)',
    input: cfg({ ha: ha({ preempt: true, preemptDelaySeconds: 1001 }) }),
    path: 'ha.preemptDelaySeconds',
  },
  { name: 'no authentication field: VRRPv3 has none', input: cfg({ ha: ha({ authentication: { type: 'PASS', password: 'x' } }) }), path: 'ha' },
  {
    name: 'moving addresses must be floating IPs or VIPs',
    input: cfg({ ha: ha({ movingAddresses: ['10.0.0.99'] }) }),
    path: 'ha.movingAddresses.0',
    message: /nothing to move/,
  },
  {
    name: 'a VIP without an interface cannot move',
    input: cfg({ virtualServices: [vs('web', '10.0.0.10')], ha: ha({ movingAddresses: ['10.0.0.10'] }) }),
    path: 'ha.movingAddresses.0',
  },
  { name: 'moving addresses listed twice', input: cfg({ ha: ha({ movingAddresses: ['10.0.0.1', '10.0.0.1'] }) }), path: 'ha.movingAddresses.1' },
  { name: 'a sync ID above 255', input: cfg({ ha: ha({ connectionSync: { syncId: 256 } }) }), path: 'ha.connectionSync.syncId' },
  { name: 'HA switched off keeps its block', input: cfg({ ha: ha({ isEnabled: false }) }) },
];

for (const c of cases) {
  test(`ha schema: ${c.name}`, () => {
    const r = ConfigSchema.safeParse(c.input);
    if (!c.path) return assert.equal(r.success, true, r.success ? '' : JSON.stringify(r.error.issues));
    assert.equal(r.success, false, `expected a refusal at ${c.path}`);
    const hit = r.error!.issues.find((i) => i.path.join('.') === c.path);
    assert.ok(hit, `no issue at ${c.path}: ${JSON.stringify(r.error!.issues.map((i) => [i.path.join('.'), i.message]))}`);
    if (c.message) assert.match(hit!.message, c.message);
  });
}

test('ha schema: defaults', () => {
  const h = ConfigSchema.parse(cfg({ ha: ha() })).ha!;
  assert.deepEqual([h.isEnabled, h.advertIntervalMs, h.preempt, h.connectionSync], [true, 500, false, { isEnabled: true }]);
});

test('ha addresses: every floating IP and every VIP with an interface moves, grouped by interface, HA interface first', () => {
  const c = ConfigSchema.parse(
    cfg({
      virtualServices: [
        vs('web', '10.0.0.10', 'eth0'),
        vs('nat', '172.16.0.10', 'bond0', { mode: 'nat' }),
        vs('local', '10.0.0.20'),
        vs('off', '10.0.0.30', 'eth0', { isEnabled: false }),
        vs('again', '10.0.0.10', 'eth0', { ports: [443] }),
      ],
      ha: ha(),
    }),
  );
  assert.deepEqual(
    haMovingAddresses(c).map((a) => `${a.address}/${a.prefix} ${a.interface} ${a.source}`),
    ['10.0.0.1/24 eth0 floating-ip', '10.0.0.10/32 eth0 vip', '172.16.0.10/32 bond0 vip'],
  );
  assert.deepEqual(
    haInterfaceGroups(c).map((g) => [g.interface, g.addresses.map((a) => a.address)]),
    [
      ['eth0', ['10.0.0.1', '10.0.0.10']],
      ['bond0', ['172.16.0.10']],
    ],
  );
});

test('ha addresses: the engine holds what does not move (everything when HA is off), keepalived the rest', () => {
  const l4Vips = [{ address: '10.0.0.10', prefix: 32, interface: 'eth0', virtualService: 'web' }];
  const on = ConfigSchema.parse(cfg({ ha: ha({ movingAddresses: ['10.0.0.10'] }) }));
  assert.deepEqual(
    engineHeldAddresses(on, l4Vips).map((a) => a.address),
    ['10.0.0.1'],
    'the floating IP stays with the engine; the VIP moves',
  );
  const off = ConfigSchema.parse(cfg({ ha: ha({ isEnabled: false }) }));
  assert.deepEqual(
    engineHeldAddresses(off, l4Vips).map((a) => [a.address, a.virtualService ?? null]),
    [
      ['10.0.0.10', 'web'],
      ['10.0.0.1', null],
    ],
  );
  assert.deepEqual([...haSysctls(on).keys()], ['net/ipv4/ip_nonlocal_bind', 'net/ipv6/ip_nonlocal_bind']);
  assert.equal(haSysctls(off).size, 0);
});

test('ha node: by name when told, else the one node whose address is here; anything else is refused', () => {
  const h = ConfigSchema.parse(cfg({ ha: ha() })).ha!;
  assert.equal(whichNode(h, 'lb2', ['10.0.0.11']).name, 'lb2', 'the name wins');
  assert.equal(whichNode(h, undefined, ['fe80::1', '10.0.0.12']).name, 'lb2');
  assert.throws(() => whichNode(h, 'lb9', []), { code: 'HA_NODE_UNKNOWN', message: /"lb9", which is not a node.*lb1, lb2/ });
  assert.throws(() => whichNode(h, undefined, ['10.0.0.99']), { code: 'HA_NODE_UNKNOWN', message: /no node's address is on eth0 \(it has 10\.0\.0\.99\)/ });
  assert.throws(() => whichNode(h, undefined, ['10.0.0.11', '10.0.0.12']), {
    code: 'HA_NODE_UNKNOWN',
    message: /10\.0\.0\.11 and 10\.0\.0\.12 are all on eth0/,
  });
});
