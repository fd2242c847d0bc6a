/**
 * The form's conversions: a stored service read into the form and sent back unchanged is the same service (so an
 * edit changes only what was edited); text becomes the schema's types; an emptied optional field falls back to the
 * schema's default; and every issue path of the schema lands at a control.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualServiceSchema } from '../../engine/config/schema.ts';
import { emptyState, forwardingValue, forwardingWord, setIn, stateFromService, toInput } from './model.ts';
import { controlPathOf, placeIssues, sectionOf } from './errors.ts';

const rich = VirtualServiceSchema.parse({
  name: 'symphony-web',
  description: 'ED front door',
  layer: 7,
  mode: 'http',
  address: '192.168.10.50',
  ports: [443, 8443],
  scheduler: 'wrr',
  interface: 'eth0',
  persistence: { type: 'http-cookie', cookieName: 'SYMID', maxIdleSeconds: 900, secure: true },
  healthCheck: {
    type: 'https',
    intervalMs: 2000,
    timeoutMs: 1000,
    rise: 3,
    fall: 2,
    http: { path: '/health', expectStatus: '200,204', expectBody: 'OK', verifyTls: true, serverName: 'sym.example' },
    agent: { port: 3334 },
  },
  fallback: { type: 'server', address: '192.168.10.90', port: 8080 },
  layer7: {
    xForwardedFor: { mode: 'trusted' },
    xForwardedProto: true,
    forwarded: { mode: 'replace' },
    trustedProxies: ['10.20.0.0/16', '10.30.0.0/16'],
    proxyProtocol: 'v2',
    tls: { certificate: 'symphony', sniCertificates: ['symphony-alt'], minVersion: 'TLSv1.3', cipherProfile: 'modern', alpn: ['http/1.1', 'h2'] },
    httpsRedirect: { status: 308 },
    hsts: { maxAgeSeconds: 31536000, includeSubDomains: true },
    reencrypt: { isEnabled: true, verify: false, serverName: 'backend.example' },
    redirects: [{ match: { pathPrefix: '/old', header: { name: 'X-Site' } }, location: '/new', status: 301 }],
    routes: [{ name: 'api', match: { pathPrefix: '/api/', source: '10.0.0.0/8' }, group: 'api' }],
    urlRewrites: [{ pattern: '^/a/(.*)$', replacement: '/b/$1' }],
    requestHeaders: [{ action: 'delete', name: 'X-Internal' }],
    responseHeaders: [{ action: 'add', name: 'X-Served-By', value: 'fulcrum' }],
    timeouts: { clientMs: 30000 },
    limits: { maxBodyBytes: 1048576 },
  },
  realServers: [
    {
      name: 'sym-app-1',
      address: '192.168.10.61',
      port: 8443,
      weight: 50,
      maxConnections: 200,
      minConnections: 10,
      group: 'api',
      healthCheck: { rise: 5, port: 9000 },
    },
    { name: 'sym-app-2', address: '192.168.10.62', state: 'drain', isBackup: true },
  ],
});

test('a stored service read into the form and sent back is the same service', () => {
  const back = VirtualServiceSchema.parse(toInput(stateFromService(rich)));
  assert.deepEqual(back, rich);
});

test('a layer 4 service round-trips, and has no layer 7 block', () => {
  const l4 = VirtualServiceSchema.parse({
    name: 'dns',
    layer: 4,
    mode: 'nat',
    protocol: 'udp',
    address: '10.0.0.53',
    ports: ['5300-5310', 53],
    persistence: { type: 'source-ip', netmaskPrefix: 24 },
    layer4: { onePacketScheduling: true },
    realServers: [{ name: 'a', address: '10.0.1.1', port: 53 }],
  });
  const input = toInput(stateFromService(l4));
  assert.equal(input.layer7, undefined);
  assert.deepEqual(VirtualServiceSchema.parse(input), l4);
});

test("text becomes the schema's types; an emptied optional field is left out, so its default applies", () => {
  let s = stateFromService(rich);
  s = { ...s, draft: setIn(setIn(setIn(s.draft, 'layer7.timeouts.clientMs', ' 45000 '), 'layer7.limits.maxQueue', ''), 'realServers.1.weight', '7') };
  const out = VirtualServiceSchema.parse(toInput(s));
  assert.equal(out.layer7!.timeouts.clientMs, 45000);
  assert.equal(out.layer7!.limits.maxQueue, 1000);
  assert.equal(out.realServers[1].weight, 7);
});

test("a number field holding words is refused at that field, in the schema's words", () => {
  const s = stateFromService(rich);
  const r = VirtualServiceSchema.safeParse(toInput({ ...s, draft: setIn(s.draft, 'realServers.0.port', 'eighty') }));
  assert.ok(!r.success);
  assert.deepEqual(
    r.error.issues.map((i) => [i.path.join('.'), i.message]),
    [['realServers.0.port', 'Give a port number from 1 to 65535.']],
  );
});

test('a new form sends a valid service once a name, VIP and one real server are filled in', () => {
  let s = emptyState();
  for (const [p, v] of [
    ['name', 'web'],
    ['address', '192.168.10.50'],
    ['realServers.0.name', 'a'],
    ['realServers.0.address', '192.168.10.61'],
  ])
    s = { ...s, draft: setIn(s.draft, p, v) };
  const r = VirtualServiceSchema.safeParse(toInput(s));
  assert.ok(r.success, JSON.stringify(!r.success && r.error.issues));
  assert.deepEqual(r.data.ports, [80]);
  assert.equal(r.data.realServers[0].healthCheck, undefined);
});

test('X-Forwarded-* words: true is written back as true, for the mode true has always meant', () => {
  assert.equal(forwardingWord('xForwardedProto', true), 'replace');
  assert.equal(forwardingWord('xForwardedFor', true), 'append');
  assert.equal(forwardingWord('forwarded', false), 'off');
  assert.equal(forwardingValue('xForwardedProto', 'replace'), true);
  assert.deepEqual(forwardingValue('xForwardedProto', 'append'), { mode: 'append' });
  assert.equal(forwardingValue('forwarded', 'off'), false);
});

test('schema issue paths land at a control', () => {
  const cases: [string, string][] = [
    ['layer7.timeouts.clientMs', 'layer7.timeouts.clientMs'],
    ['ports.1', 'ports'],
    ['layer7.trustedProxies.0', 'layer7.trustedProxies'],
    ['layer7.tls.sniCertificates.2', 'layer7.tls.sniCertificates'],
    ['layer7.hsts', 'layer7.hsts.maxAgeSeconds'],
    ['persistence', 'persistence.type'],
    ['fallback', 'fallback.type'],
    ['layer7.redirects', 'layer7.redirects'],
    ['layer7.redirects.0.match.header', 'layer7.redirects.0.match.header.name'],
    ['realServers.12.healthCheck.timeoutMs', 'realServers.12.healthCheck.timeoutMs'],
    ['realServers', 'realServers'],
    ['healthCheck.http.path', 'healthCheck.http.path'],
  ];
  for (const [issue, control] of cases) assert.equal(controlPathOf(issue), control, issue);
  assert.deepEqual(placeIssues({ 'ports.0': 'first', 'ports.1': 'second' }), { ports: 'first' });
  assert.deepEqual(
    ['realServers.3.port', 'layer7.hsts', 'layer7.routes.0.group', 'layer7.limits.maxQueue', 'layer7.proxyProtocol', 'scheduler'].map(sectionOf),
    ['realServers', 'tls', 'rules', 'limits', 'advanced', 'basics'],
  );
});
