import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema, createConfigParser, type ConfigInput } from '../config/index.ts';
import { decideServer } from '../server-state.ts';
import { DesiredMemo, desiredFromConfig, l4Input, sameL4Input } from './desired.ts';
import { serviceText } from './model.ts';

const cfg = (vs: Record<string, unknown>[]) => ConfigSchema.parse({ virtualServices: vs } as ConfigInput);
const base = {
  layer: 4,
  address: '192.0.2.10',
  ports: [80],
  realServers: [
    { name: 'r1', address: '10.0.0.1' },
    { name: 'r2', address: '10.0.0.2', weight: 50 },
  ],
};

test('desired: modes map to forwarding methods; DR keeps the client port', () => {
  for (const [mode, fwd] of [
    ['dr', 'route'],
    ['nat', 'masq'],
    ['snat', 'masq'],
    ['tun', 'tunnel'],
  ] as const) {
    const d = desiredFromConfig(cfg([{ ...base, name: 'web', mode }]), new Map());
    assert.equal(d.services.length, 1);
    // DR and TUN see only the client's packets: a SYN on a port whose last connection the director saw closing is
    // scheduled anew (conn_reuse_mode bit 2), not sent to that connection's possibly drained server.
    assert.equal(d.sysctls.get('net/ipv4/vs/conn_reuse_mode'), mode === 'dr' || mode === 'tun' ? '3' : undefined, mode);
    assert.deepEqual(
      d.services[0].destinations.map((x) => [x.address, x.port, x.forward, x.weight]),
      [
        ['10.0.0.1', 80, fwd, 100],
        ['10.0.0.2', 80, fwd, 50],
      ],
    );
  }
});

test('desired: protocol both and several ports give one IPVS service per protocol and port', () => {
  const d = desiredFromConfig(
    cfg([{ ...base, name: 'dns', mode: 'nat', protocol: 'both', ports: [53, '8000-8001'], layer4: { onePacketScheduling: true } }]),
    new Map(),
  );
  assert.deepEqual(
    d.services.map((s) => `${serviceText(s.service)} ${s.service.flags}`),
    ['TCP 192.0.2.10:53 0', 'TCP 192.0.2.10:8000 0', 'TCP 192.0.2.10:8001 0', 'UDP 192.0.2.10:53 4', 'UDP 192.0.2.10:8000 4', 'UDP 192.0.2.10:8001 4'],
  );
});

test('desired: a firewall mark gives one service and a marking rule for the listed ports', () => {
  const d = desiredFromConfig(
    cfg([{ ...base, name: 'mp', mode: 'dr', ports: [80, 443], firewallMark: 12, persistence: { type: 'source-ip', timeoutSeconds: 600, netmaskPrefix: 24 } }]),
    new Map(),
  );
  assert.equal(d.services.length, 1);
  const s = d.services[0].service;
  assert.deepEqual([s.fwmark, s.flags, s.timeout, s.netmaskPrefix], [12, 1, 600, 24]);
  assert.deepEqual(
    d.services[0].destinations.map((x) => x.port),
    [0, 0],
  );
  assert.deepEqual(d.marks, [{ virtualService: 'mp', family: 4, vip: '192.0.2.10', protocols: ['tcp'], ports: [80, 443], mark: 12 }]);
});

test('desired: decisions drive weights (online/drain/halt, health down), backups wait for primaries', () => {
  const c = cfg([
    {
      ...base,
      name: 'web',
      mode: 'nat',
      realServers: [
        { name: 'r1', address: '10.0.0.1' },
        { name: 'r2', address: '10.0.0.2' },
        { name: 'r3', address: '10.0.0.3' },
        { name: 'b', address: '10.0.0.9', isBackup: true },
      ],
    },
  ]);
  const decisions = new Map([
    ['web/r1', decideServer('drain', 'up', 100)],
    ['web/r2', decideServer('halt', 'up', 100)],
    ['web/r3', decideServer('online', 'down', 100)],
  ]);
  let d = desiredFromConfig(c, decisions);
  assert.deepEqual(
    d.services[0].destinations.map((x) => [x.address, x.weight]),
    [
      ['10.0.0.1', 0],
      ['10.0.0.3', 0],
      ['10.0.0.9', 100],
    ],
  );
  decisions.set('web/r3', decideServer('online', 'up', 100));
  d = desiredFromConfig(c, decisions);
  assert.deepEqual(
    d.services[0].destinations.map((x) => [x.address, x.weight]),
    [
      ['10.0.0.1', 0],
      ['10.0.0.3', 100],
      ['10.0.0.9', 0],
    ],
  );
});

test('desired: SNAT needs forwarding, the conntrack sysctl and a masquerade rule per real server; layer 7 is ignored', () => {
  const d = desiredFromConfig(
    cfg([
      { ...base, name: 's', mode: 'snat', interface: 'eth0' },
      { name: 'l7', layer: 7, mode: 'http', address: '192.0.2.11', ports: [80], realServers: [{ name: 'a', address: '10.0.0.5' }] },
    ]),
    new Map(),
  );
  assert.equal(d.services.length, 1);
  assert.deepEqual(
    [...d.sysctls],
    [
      ['net/ipv4/ip_forward', '1'],
      ['net/ipv4/vs/conntrack', '1'],
    ],
  );
  assert.deepEqual(
    d.snat.map((r) => r.realServer),
    ['10.0.0.1', '10.0.0.2'],
  );
  assert.deepEqual(d.vips, [{ address: '192.0.2.10', prefix: 32, interface: 'eth0', virtualService: 's' }]);
});

test('desired: IPv6 addresses are canonical and persistence granularity is a prefix', () => {
  const d = desiredFromConfig(
    cfg([
      {
        name: 'v6',
        layer: 4,
        mode: 'nat',
        address: '2001:DB8:0:0::10',
        ports: [443],
        persistence: { type: 'source-ip', netmaskPrefix: 64 },
        realServers: [{ name: 'a', address: '2001:db8:1::0:5', port: 8443 }],
      },
    ]),
    new Map(),
  );
  const s = d.services[0];
  assert.equal(serviceText(s.service), 'TCP [2001:db8::10]:443');
  assert.equal(s.service.netmaskPrefix, 64);
  assert.equal(s.service.timeout, 300);
  assert.deepEqual(
    s.destinations.map((x) => [x.address, x.port]),
    [['2001:db8:1::5', 8443]],
  );
  assert.deepEqual([...d.sysctls], [['net/ipv6/conf/all/forwarding', '1']]);
});

test('desired: too many port services are refused with a pointer to firewall marks', () => {
  const d = desiredFromConfig(cfg([{ ...base, name: 'wide', mode: 'nat', ports: ['1000-2000'] }]), new Map());
  assert.equal(d.services.length, 0);
  assert.equal(d.refused[0].code, 'IPVS_PORT_RANGE');
});

test('desired: the fallback server joins only while no real server takes new connections', () => {
  const c = cfg([{ ...base, name: 'web', mode: 'nat', fallback: { type: 'server', address: '10.9.9.9', port: 8080 } }]);
  assert.deepEqual(
    desiredFromConfig(c, new Map()).services[0].destinations.map((x) => x.address),
    ['10.0.0.1', '10.0.0.2'],
  );
  const down = new Map([
    ['web/r1', decideServer('online', 'down', 100)],
    ['web/r2', decideServer('halt', 'up', 50)],
  ]);
  const d = desiredFromConfig(c, down).services[0];
  assert.deepEqual(
    d.destinations.map((x) => [x.address, x.port, x.weight]),
    [
      ['10.0.0.1', 80, 0],
      ['10.9.9.9', 8080, 1],
    ],
  );
  assert.equal(d.realServers.get('10.9.9.9|8080'), '(fallback)');
});

test('desired memo: an unchanged virtual service gives back the same objects; a change in config, in place or by decision, does not', () => {
  const memo = new DesiredMemo();
  const c = cfg([
    { ...base, name: 'a', mode: 'nat' },
    { ...base, name: 'b', mode: 'nat', address: '192.0.2.11' },
  ]);
  const first = desiredFromConfig(c, new Map(), memo);
  const again = desiredFromConfig(
    cfg([
      { ...base, name: 'a', mode: 'nat' },
      { ...base, name: 'b', mode: 'nat', address: '192.0.2.11' },
    ]),
    new Map(),
    memo,
  );
  assert.equal(again.services[0], first.services[0]);
  assert.equal(again.services[1], first.services[1]);
  assert.deepEqual(again, desiredFromConfig(c, new Map()));
  // Changed in place: the memo holds its own copy, so it notices.
  c.virtualServices[1].realServers[0].weight = 7;
  const inPlace = desiredFromConfig(c, new Map(), memo);
  assert.equal(inPlace.services[0], first.services[0]);
  assert.deepEqual(
    inPlace.services[1].destinations.map((x) => x.weight),
    [7, 50],
  );
  // A decision changes only its own service.
  const drained = desiredFromConfig(c, new Map([['b/r2', decideServer('drain', 'up', 50)]]), memo);
  assert.equal(drained.services[0], first.services[0]);
  assert.deepEqual(
    drained.services[1].destinations.map((x) => x.weight),
    [7, 0],
  );
  assert.deepEqual(drained, desiredFromConfig(c, new Map([['b/r2', decideServer('drain', 'up', 50)]])));
});

test('desired memo: every field copied for the table is compared, for the service and for each real server', () => {
  const vs = cfg([
    {
      ...base,
      name: 'web',
      mode: 'nat',
      protocol: 'both',
      interface: 'eth0',
      layer4: { onePacketScheduling: true },
      fallback: { type: 'server', address: '10.9.9.9' },
      persistence: { type: 'source-ip', netmaskPrefix: 24 },
    },
  ]).virtualServices[0];
  const was = l4Input(vs);
  assert.ok(sameL4Input(was, vs));
  assert.ok(sameL4Input(was, structuredClone(vs)), 'a fresh parse of the same configuration is the same');
  // l4Input() lists every field (absent ones as undefined), so its keys are the fields the table depends on.
  const fields = Object.keys(was).filter((k) => k !== 'realServers');
  assert.ok(fields.length >= 13 && fields.includes('firewallMark'));
  for (const k of fields) assert.equal(sameL4Input(was, { ...vs, [k]: Symbol(k) } as never), false, k);
  for (const k of Object.keys(was.realServers[0])) {
    const changed = { ...vs, realServers: vs.realServers.map((rs, i) => (i === 1 ? { ...rs, [k]: Symbol(k) } : rs)) };
    assert.equal(sameL4Input(was, changed as never), false, `realServers.${k}`);
  }
  assert.equal(sameL4Input(was, { ...vs, realServers: vs.realServers.slice(1) }), false, 'a server removed');
});

test('desired memo: the same deep-frozen service object (the engine memoised parse) is reused without comparing its fields', () => {
  const memo = new DesiredMemo();
  const parser = createConfigParser();
  const raw = { virtualServices: [{ ...base, name: 'a', mode: 'nat' }] };
  const parsed = parser(raw);
  assert.ok(parsed.success);
  // The same service, frozen, with its scheduler read through a counting getter: l4Input and sameL4Input read it.
  const vs = parsed.data.virtualServices[0];
  let reads = 0;
  const { scheduler, ...rest } = vs;
  const counted = Object.freeze(
    Object.defineProperty({ ...rest }, 'scheduler', {
      enumerable: true,
      get: () => {
        reads++;
        return scheduler;
      },
    }),
  ) as typeof vs;
  const c = { ...parsed.data, virtualServices: [counted] };
  const first = desiredFromConfig(c, new Map(), memo);
  const readsFirst = reads;
  assert.ok(readsFirst > 0);
  const again = desiredFromConfig({ ...c }, new Map(), memo);
  assert.equal(reads, readsFirst, 'the same frozen object: no field compared');
  assert.equal(again.services[0], first.services[0]);
  // A new frozen object for the same service with another weight (the parser's answer to an edit) is translated anew.
  const edited = parser({ virtualServices: [{ ...base, name: 'a', mode: 'nat', realServers: [base.realServers[0], { ...base.realServers[1], weight: 9 }] }] });
  assert.ok(edited.success);
  assert.deepEqual(
    desiredFromConfig(edited.data, new Map(), memo).services[0].destinations.map((x) => x.weight),
    [100, 9],
  );
  // An object that is not frozen is compared field by field every time (it may have been changed in place).
  const loose = cfg([{ ...base, name: 'b', mode: 'nat' }]);
  desiredFromConfig(loose, new Map(), memo);
  loose.virtualServices[0].realServers[0].weight = 3;
  assert.deepEqual(
    desiredFromConfig(loose, new Map(), memo).services[0].destinations.map((x) => x.weight),
    [3, 50],
  );
});
