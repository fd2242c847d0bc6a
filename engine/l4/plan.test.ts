import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from './plan.ts';
import { serviceKey, type Destination, type ObservedService, type Service } from './model.ts';

const svc = (port: number, over: Partial<Service> = {}): Service =>
  ({ family: 4, protocol: 'tcp', address: '10.0.0.1', port, scheduler: 'wlc', flags: 0, timeout: 0, netmaskPrefix: 32, peName: '', ...over }) as Service;
const dest = (n: number, weight = 100, over: Partial<Destination> = {}): Destination => ({
  address: `10.1.0.${n}`,
  port: 80,
  forward: 'route',
  weight,
  upperThreshold: 0,
  lowerThreshold: 0,
  ...over,
});
const observe = (s: Service, ds: Destination[], extraFlags = 0x2): ObservedService =>
  ({
    ...s,
    flags: s.flags | extraFlags,
    destinations: ds.map((d) => ({
      ...d,
      family: 4,
      tunnelType: 0,
      tunnelPort: 0,
      tunnelFlags: 0,
      activeConnections: 3,
      inactiveConnections: 1,
      persistentConnections: 0,
    })),
  }) as ObservedService;

test('plan: from empty, services then destinations', () => {
  const p = plan({ desired: [{ service: svc(80), destinations: [dest(1), dest(2)] }], observed: [], owned: new Set() });
  assert.deepEqual(
    p.ops.map((o) => o.cmd),
    ['new-service', 'new-dest', 'new-dest'],
  );
  assert.deepEqual(p.conflicts, []);
});

test('plan: identical state (HASHED bit and counters aside) is zero operations', () => {
  const s = svc(80, { flags: 1, timeout: 300 });
  const p = plan({ desired: [{ service: s, destinations: [dest(1)] }], observed: [observe(s, [dest(1)])], owned: new Set([serviceKey(s)]) });
  assert.deepEqual(p.ops, []);
});

test('plan: one weight change in a 1,000-service table is one SET_DEST', () => {
  const desired = Array.from({ length: 1000 }, (_, i) => ({ service: svc(1000 + i), destinations: [1, 2, 3, 4].map((n) => dest(n)) }));
  const observed = desired.map((d) => observe(d.service, d.destinations));
  const owned = new Set(desired.map((d) => serviceKey(d.service)));
  desired[517] = { ...desired[517], destinations: desired[517].destinations.map((d, i) => (i === 2 ? { ...d, weight: 7 } : d)) };
  const p = plan({ desired, observed, owned });
  assert.equal(p.ops.length, 1);
  assert.deepEqual(p.ops[0], { cmd: 'set-dest', service: { family: 4, protocol: 'tcp', address: '10.0.0.1', port: 1517 }, destination: dest(3, 7) });
});

test('plan: drain is one SET_DEST weight 0, halt is one DEL_DEST', () => {
  const s = svc(80);
  const observed = [observe(s, [dest(1), dest(2)])];
  const owned = new Set([serviceKey(s)]);
  const drain = plan({ desired: [{ service: s, destinations: [dest(1, 0), dest(2)] }], observed, owned });
  assert.deepEqual(
    drain.ops.map((o) => [o.cmd, 'destination' in o ? o.destination.address : '', 'destination' in o && 'weight' in o.destination ? o.destination.weight : '']),
    [['set-dest', '10.1.0.1', 0]],
  );
  const halt = plan({ desired: [{ service: s, destinations: [dest(2)] }], observed, owned });
  assert.deepEqual(halt.ops, [
    { cmd: 'del-dest', service: { family: 4, protocol: 'tcp', address: '10.0.0.1', port: 80 }, destination: { address: '10.1.0.1', port: 80 } },
  ]);
});

test('plan: never touches services it does not own, and reports a conflict when it wants one of them', () => {
  const mine = svc(80);
  const theirs = svc(81);
  const clash = svc(82);
  const p = plan({
    desired: [
      { service: mine, destinations: [] },
      { service: clash, destinations: [dest(1)] },
    ],
    observed: [observe(mine, [dest(9)]), observe(theirs, [dest(1)]), observe(clash, [dest(5)])],
    owned: new Set([serviceKey(mine)]),
  });
  assert.deepEqual(
    p.ops.map((o) => o.cmd),
    ['del-dest'],
  );
  assert.deepEqual(p.conflicts, [serviceKey(clash)]);
});

test('plan: removes owned services no longer desired, deletes before adds', () => {
  const a = svc(80);
  const b = svc(81);
  const p = plan({ desired: [{ service: b, destinations: [dest(1)] }], observed: [observe(a, [dest(1)])], owned: new Set([serviceKey(a)]) });
  assert.deepEqual(
    p.ops.map((o) => o.cmd),
    ['del-service', 'new-service', 'new-dest'],
  );
});

test('plan: scheduler, persistence or netmask change is one SET_SERVICE; forwarding or threshold change is SET_DEST', () => {
  const s = svc(80);
  const owned = new Set([serviceKey(s)]);
  const observed = [observe(s, [dest(1)])];
  for (const over of [{ scheduler: 'rr' }, { flags: 1, timeout: 60 }, { netmaskPrefix: 24 }]) {
    const p = plan({ desired: [{ service: svc(80, over), destinations: [dest(1)] }], observed, owned });
    assert.deepEqual(
      p.ops.map((o) => o.cmd),
      ['set-service'],
      JSON.stringify(over),
    );
  }
  for (const over of [{ forward: 'masq' as const }, { upperThreshold: 10 }, { lowerThreshold: 2 }]) {
    const p = plan({ desired: [{ service: s, destinations: [dest(1, 100, over)] }], observed, owned });
    assert.deepEqual(
      p.ops.map((o) => o.cmd),
      ['set-dest'],
      JSON.stringify(over),
    );
  }
});

test('plan: firewall-mark and IPv6 services are keyed as the kernel keys them', () => {
  const fw: Service = { family: 6, fwmark: 9, scheduler: 'rr', flags: 0, timeout: 0, netmaskPrefix: 128, peName: '' };
  const v6 = svc(53, { family: 6, protocol: 'udp', address: '2001:db8::1' } as Partial<Service>);
  const p = plan({
    desired: [
      { service: fw, destinations: [] },
      { service: v6, destinations: [] },
    ],
    observed: [observe(fw, [])],
    owned: new Set([serviceKey(fw)]),
  });
  assert.deepEqual(p.ops, [{ cmd: 'new-service', service: v6 }]);
  assert.equal(serviceKey(fw), 'fwm|6|9');
  assert.equal(serviceKey(v6), 'udp|6|2001:db8::1|53');
});
