/**
 * The rules across services, checked incrementally (across.ts through memo-parse's owned(), as the engine parses a
 * request body): a conflict that one change brings in is refused as ConfigSchema refuses it, and a configuration
 * that a change makes whole again is accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConfigParser } from './memo-parse.ts';
import { ConfigSchema } from './schema.ts';
import { seededRandom } from '../testing/seeded-random.ts';

const nat = (name: string, i: number, over: Record<string, unknown> = {}) => ({
  name,
  layer: 4,
  mode: 'nat',
  address: `10.1.${i >> 8}.${i & 0xff}`,
  ports: [80],
  realServers: [{ name: 'a', address: `10.2.${i >> 8}.${i & 0xff}`, port: 8080 }],
  ...over,
});
const PEM = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n-----END CERTIFICATE-----`;
const cert = (name: string) => ({ name, certificatePem: PEM, privateKeyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' });

/** 50 services that pass, then `change` applied to a copy (as a console sends the whole configuration again). */
const base = () => ({ virtualServices: Array.from({ length: 50 }, (_, i) => nat(`vs-${i}`, i)) as Record<string, unknown>[] });

function parseAfter(change: (c: ReturnType<typeof base>) => void) {
  const parser = createConfigParser();
  assert.equal(parser.owned(base()).success, true);
  const next = base();
  change(next);
  const r = parser.owned(next);
  assert.equal(r.success, ConfigSchema.safeParse(next).success, 'the same verdict as the whole schema');
  // What passes is never refused by the incremental check (which would parse it whole to find the issues).
  if (r.success) assert.equal(parser.counts.whole, 0);
  return { parser, r, next };
}

const issuePath = (r: ReturnType<ReturnType<typeof createConfigParser>['owned']>) => (r.success ? undefined : r.error.issues[0].path.join('.'));

test('one service moved onto another service’s VIP and port is refused, on the moved one', () => {
  const { r } = parseAfter((c) => {
    c.virtualServices[30] = nat('vs-30', 7);
  });
  assert.equal(issuePath(r), 'virtualServices.30.ports');
});

test('a range that one change makes overlap another service’s port is refused', () => {
  const { r } = parseAfter((c) => {
    c.virtualServices[3] = nat('vs-3', 9, { ports: ['70-90'] });
  });
  assert.equal(r.success, false);
});

test('the same VIP and port with another protocol passes; with both it is refused', () => {
  assert.equal(parseAfter((c) => void (c.virtualServices[30] = nat('vs-30', 7, { protocol: 'udp' }))).r.success, true);
  assert.equal(parseAfter((c) => void (c.virtualServices[7] = nat('vs-7', 7, { protocol: 'both' }))).r.success, true);
  const parser = createConfigParser();
  const c = base();
  c.virtualServices[30] = nat('vs-30', 7, { protocol: 'udp' });
  assert.equal(parser.owned(c).success, true);
  const d = base();
  d.virtualServices[30] = nat('vs-30', 7, { protocol: 'both' });
  assert.equal(parser.owned(d).success, false);
});

test('a disabled service on a taken VIP and port passes, and enabling it is refused', () => {
  const parser = createConfigParser();
  const c = base();
  c.virtualServices[30] = nat('vs-30', 7, { isEnabled: false });
  assert.equal(parser.owned(c).success, true);
  const d = base();
  d.virtualServices[30] = nat('vs-30', 7);
  assert.equal(parser.owned(d).success, false);
});

test('a rename onto a name in use is refused; the name of a renamed service is free again', () => {
  const parser = createConfigParser();
  assert.equal(parser.owned(base()).success, true);
  const c = base();
  c.virtualServices[10] = nat('vs-11', 10);
  assert.equal(issuePath(parser.owned(c)), 'virtualServices.11.name');
  const d = base();
  d.virtualServices[10] = nat('renamed', 10);
  assert.equal(parser.owned(d).success, true);
  const e = base();
  e.virtualServices[10] = nat('renamed', 10);
  e.virtualServices[20] = nat('vs-10', 20);
  assert.equal(parser.owned(e).success, true);
});

test('a range given up frees its ports for a service that moves into them', () => {
  const parser = createConfigParser();
  const c = base();
  c.virtualServices[3] = nat('vs-3', 3, { ports: ['70-90'] });
  c.virtualServices[4] = nat('vs-4', 3, { ports: [100] });
  assert.equal(parser.owned(c).success, true);
  const d = base();
  d.virtualServices[3] = nat('vs-3', 3, { ports: [200] });
  d.virtualServices[4] = c.virtualServices[4];
  d.virtualServices[5] = nat('vs-5', 3, { ports: [85] });
  assert.equal(parser.owned(d).success, true);
  assert.equal(parser.counts.whole, 0, 'passed without the whole schema');
  const e = base();
  e.virtualServices[3] = nat('vs-3', 3, { ports: ['70-90'] });
  e.virtualServices[5] = nat('vs-5', 3, { ports: [85] });
  assert.equal(issuePath(parser.owned(e)), 'virtualServices.5.ports');
});

test('a firewall mark taken by one change is refused', () => {
  const parser = createConfigParser();
  const c = base();
  c.virtualServices[1] = nat('vs-1', 1, { address: '', ports: [], firewallMark: 5, realServers: [] });
  assert.equal(parser.owned(c).success, true);
  const d = base();
  d.virtualServices[1] = c.virtualServices[1];
  d.virtualServices[2] = nat('vs-2', 2, { address: '', ports: [], firewallMark: 5, realServers: [] });
  assert.equal(issuePath(parser.owned(d)), 'virtualServices.2.firewallMark');
});

test('a layer 7 server on a layer 4 SNAT service’s RIP:PORT is refused, from either side', () => {
  const l7 = { layer: 7, mode: 'http', scheduler: 'wrr', ports: [443], realServers: [{ name: 'a', address: '10.2.0.9', port: 8080 }] };
  assert.equal(parseAfter((c) => void (c.virtualServices[9].mode = 'snat')).r.success, true);
  const parser = createConfigParser();
  const c = base();
  c.virtualServices[9].mode = 'snat';
  assert.equal(parser.owned(c).success, true);
  const d = base();
  d.virtualServices[9].mode = 'snat';
  d.virtualServices[40] = nat('vs-40', 40, l7);
  assert.equal(issuePath(parser.owned(d)), 'virtualServices.40.realServers.0.address');
  // The other way: the layer 7 service first, then a change makes the layer 4 one SNAT.
  const e = base();
  e.virtualServices[40] = nat('vs-40', 40, l7);
  assert.equal(parser.owned(e).success, true);
  assert.equal(parser.owned(d).success, false);
  // And the conflict gone again (the SNAT service back to NAT) passes.
  assert.equal(parser.owned(e).success, true);
});

test('a certificate removed while a service names it is refused; put back, it passes', () => {
  const tls = { layer: 7, mode: 'http', scheduler: 'wrr', ports: [443], layer7: { tls: { certificate: 'site' } } };
  const parser = createConfigParser();
  const c = { ...base(), certificates: [cert('site')] };
  c.virtualServices[5] = nat('vs-5', 5, tls);
  assert.equal(parser.owned(c).success, true);
  const d = { ...base(), certificates: [cert('other')] };
  d.virtualServices[5] = nat('vs-5', 5, tls);
  assert.equal(issuePath(parser.owned(d)), 'virtualServices.5.layer7.tls.certificate');
  assert.equal(parser.owned(c).success, true);
  const e = { ...base(), certificates: [cert('site'), cert('site')] };
  e.virtualServices[5] = nat('vs-5', 5, tls);
  assert.equal(issuePath(parser.owned(e)), 'certificates.1.name');
});

test('a service given twice (the same input) is refused', () => {
  const parser = createConfigParser();
  assert.equal(parser.owned(base()).success, true);
  const c = base();
  c.virtualServices.push(nat('vs-3', 3));
  assert.equal(parser.owned(c).success, false);
  const d = base();
  d.virtualServices.push(nat('new', 99), nat('new', 99));
  assert.equal(parser.owned(d).success, false);
});

test('a removed service frees its VIP and port for a service that moves there in the same change', () => {
  const { r } = parseAfter((c) => {
    c.virtualServices.splice(7, 1);
    c.virtualServices[29] = nat('vs-30', 7);
  });
  assert.equal(r.success, true);
});

test('over random sequences of small changes, every verdict is the whole schema’s', () => {
  const { next: rnd, pick } = seededRandom(7);
  /** A service from a small space, so that names, endpoints, SNAT servers and certificates collide often. */
  const service = () => {
    const isL7 = rnd() < 0.3;
    const server = { name: 'a', address: pick(['10.9.0.1', '10.9.0.2']), port: pick([8080, 8081]) };
    if (isL7)
      return {
        name: pick(['a', 'b', 'c', 'd', 'e', 'f', 'g']),
        layer: 7,
        mode: 'http',
        scheduler: 'wrr',
        address: pick(['10.1.0.1', '10.1.0.2']),
        ports: [pick([80, 443])],
        isEnabled: rnd() < 0.9,
        realServers: [server],
        ...(rnd() < 0.3 ? { layer7: { tls: { certificate: pick(['c1', 'c2']) } } } : {}),
      };
    const isMark = rnd() < 0.15;
    return {
      name: pick(['a', 'b', 'c', 'd', 'e', 'f', 'g']),
      layer: 4,
      mode: pick(['nat', 'snat']),
      protocol: pick(['tcp', 'udp', 'both']),
      address: isMark ? '' : pick(['10.1.0.1', '10.1.0.2', '2001:db8::1', '2001:DB8:0::1']),
      ports: isMark ? [] : pick([[80], [443], [80, 443], ['70-90'], ['400-500']]),
      ...(isMark ? { firewallMark: pick([1, 2]) } : {}),
      isEnabled: rnd() < 0.9,
      realServers: isMark ? [] : [server],
    };
  };
  let accepted = 0;
  let refused = 0;
  for (let run = 0; run < 40; run++) {
    const parser = createConfigParser();
    let services = Array.from({ length: 4 }, service);
    let certs = ['c1'];
    for (let step = 0; step < 60; step++) {
      const r = rnd();
      services = services.slice();
      if (r < 0.5 && services.length) services[Math.floor(rnd() * services.length)] = service();
      else if (r < 0.65 && services.length) services.splice(Math.floor(rnd() * services.length), 1);
      else if (r < 0.8 && services.length < 7) services.push(service());
      else if (r < 0.9) certs = pick([[], ['c1'], ['c2'], ['c1', 'c2'], ['c1', 'c1']]);
      // else: the same configuration again
      const raw = () => ({ virtualServices: structuredClone(services), certificates: certs.map(cert) });
      const whole = ConfigSchema.safeParse(raw()).success;
      const wholeBefore = parser.counts.whole;
      const what = `run ${run} step ${step}: ${JSON.stringify(raw().virtualServices)} ${certs}`;
      assert.equal(parser.owned(raw()).success, whole, what);
      // A configuration that passes is found to pass without ConfigSchema (the incremental check refused nothing).
      if (whole) assert.equal(parser.counts.whole, wholeBefore, what);
      if (whole) accepted++;
      else refused++;
    }
  }
  // Both verdicts were reached often enough to mean something.
  assert.ok(accepted > 200 && refused > 200, `${accepted} accepted, ${refused} refused`);
});

test('an HA block whose moving address one change takes away is refused', () => {
  const ha = {
    interface: 'eth1',
    virtualRouterId: 10,
    nodes: [
      { name: 'n1', address: '192.168.0.1', priority: 100 },
      { name: 'n2', address: '192.168.0.2', priority: 90 },
    ],
    movingAddresses: ['10.1.0.7'],
  };
  const parser = createConfigParser();
  const c = { ...base(), ha };
  c.virtualServices[7] = nat('vs-7', 7, { interface: 'eth0' });
  assert.equal(parser.owned(c).success, true);
  const d = { ...base(), ha };
  assert.equal(issuePath(parser.owned(d)), 'ha.movingAddresses.0');
});
