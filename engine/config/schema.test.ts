/** The one schema's rules, table-driven: each case names the input, whether it passes, and the field path blamed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress } from './address.ts';
import { ConfigSchema, VirtualServiceSchema } from './schema.ts';

const dr = (over: Record<string, unknown> = {}) => ({
  name: 'symphony-web',
  layer: 4,
  mode: 'dr',
  address: '192.168.10.50',
  ports: [80],
  realServers: [{ name: 'a', address: '192.168.10.61' }],
  ...over,
});
const l7 = (over: Record<string, unknown> = {}) => ({
  name: 'symphony-l7',
  layer: 7,
  mode: 'http',
  address: '192.168.10.51',
  ports: [443],
  scheduler: 'wrr',
  realServers: [{ name: 'a', address: '192.168.10.61', port: 8080 }],
  ...over,
});

type Case = { name: string; input: Record<string, unknown>; path?: string; message?: RegExp };
/** The shape of a PEM certificate (the schema checks shape only; the engine reads the DER). */
const PEM = `-----BEGIN CERTIFICATE-----\n${'MIIBszCCAVmgAwIBAgIUQ2'.repeat(4)}\n${'A'.repeat(40)}==\n-----END CERTIFICATE-----`;

const serviceCases: Case[] = [
  {
    name: 'the issue example (DR, two ports, source-ip persistence)',
    input: dr({ ports: [80, 443], scheduler: 'wlc', persistence: { type: 'source-ip', timeoutSeconds: 3600 } }),
  },
  {
    name: 'DR refuses port translation',
    input: dr({ realServers: [{ name: 'a', address: '192.168.10.61', port: 8080 }] }),
    path: 'realServers.0.port',
    message: /DR cannot translate ports/,
  },
  { name: 'DR accepts the same port', input: dr({ realServers: [{ name: 'a', address: '192.168.10.61', port: 80 }] }) },
  {
    name: 'DR with a range refuses a fixed real-server port',
    input: dr({ ports: ['8000-8010'], realServers: [{ name: 'a', address: '192.168.10.61', port: 8000 }] }),
    path: 'realServers.0.port',
  },
  {
    name: 'TUN refuses port translation too',
    input: dr({ mode: 'tun', realServers: [{ name: 'a', address: '192.168.10.61', port: 81 }] }),
    path: 'realServers.0.port',
  },
  { name: 'NAT allows port translation', input: dr({ mode: 'nat', realServers: [{ name: 'a', address: '192.168.10.61', port: 8080 }] }) },
  { name: 'L7 allows port translation', input: l7() },
  { name: 'layer 4 refuses a layer 7 mode', input: dr({ mode: 'http' }), path: 'mode' },
  { name: 'layer 7 refuses a layer 4 mode', input: l7({ mode: 'nat' }), path: 'mode' },
  { name: 'layer 7 refuses an IPVS-only scheduler', input: l7({ scheduler: 'mh' }), path: 'scheduler', message: /not available at layer 7/ },
  { name: 'layer 4 refuses a proxy-only scheduler', input: dr({ scheduler: 'uri' }), path: 'scheduler' },
  { name: 'unknown scheduler', input: dr({ scheduler: 'fastest' }), path: 'scheduler' },
  { name: 'layer 7 refuses UDP', input: l7({ protocol: 'udp' }), path: 'protocol' },
  {
    name: 'address families agree at layer 4',
    input: dr({ realServers: [{ name: 'a', address: '2001:db8::61' }] }),
    path: 'realServers.0.address',
    message: /IPv6 but the VIP is IPv4/,
  },
  { name: 'IPv6 VIP with IPv6 servers', input: dr({ address: '2001:db8::50', realServers: [{ name: 'a', address: '2001:db8::61' }] }) },
  { name: 'weight above 65535', input: dr({ realServers: [{ name: 'a', address: '192.168.10.61', weight: 65536 }] }), path: 'realServers.0.weight' },
  { name: 'negative weight', input: dr({ realServers: [{ name: 'a', address: '192.168.10.61', weight: -1 }] }), path: 'realServers.0.weight' },
  { name: 'weight 0 is allowed', input: dr({ realServers: [{ name: 'a', address: '192.168.10.61', weight: 0 }] }) },
  { name: 'not an IP address', input: dr({ address: '192.168.10.500' }), path: 'address' },
  { name: 'port 0', input: dr({ ports: [0] }), path: 'ports.0' },
  { name: 'backwards range', input: dr({ ports: ['90-80'] }), path: 'ports.0' },
  { name: 'no ports and no firewall mark', input: dr({ ports: [] }), path: 'ports' },
  { name: 'firewall mark service without ports', input: dr({ ports: [], firewallMark: 10 }) },
  // A firewall-mark service needs no made-up address.
  { name: 'firewall mark service without an address', input: dr({ address: undefined, ports: [], firewallMark: 10 }) },
  {
    name: 'firewall mark service without an address, IPv6 servers',
    input: dr({
      address: undefined,
      ports: [],
      firewallMark: 10,
      realServers: [
        { name: 'a', address: '2001:db8::61' },
        { name: 'b', address: '2001:db8::62' },
      ],
    }),
  },
  {
    name: 'no address and no firewall mark',
    input: dr({ address: undefined }),
    path: 'address',
    message:
      /^Give an IPv4 address such as 192\.168\.10\.50 or an IPv6 address such as 2001:db8::50; only a layer 4 service with a firewall mark may leave the address out\.$/,
  },
  { name: 'an empty address at layer 7', input: l7({ address: '' }), path: 'address', message: /only a layer 4 service with a firewall mark/ },
  {
    name: 'no address but ports to mark',
    input: dr({ address: undefined, firewallMark: 10 }),
    path: 'ports',
    message: /Without an address the engine cannot mark packets for these ports/,
  },
  {
    name: 'no address but an interface',
    input: dr({ address: undefined, ports: [], firewallMark: 10, interface: 'eth0' }),
    path: 'interface',
    message: /no address to bring up/,
  },
  {
    name: 'no address in SNAT mode',
    input: dr({ mode: 'snat', address: undefined, ports: [], firewallMark: 10 }),
    path: 'mode',
    message: /SNAT rewrites connections made to the VIP/,
  },
  {
    name: 'no address, real servers of two families',
    input: dr({
      address: undefined,
      ports: [],
      firewallMark: 10,
      realServers: [
        { name: 'a', address: '10.0.0.1' },
        { name: 'b', address: '2001:db8::62' },
      ],
    }),
    path: 'realServers.1.address',
    message: /IPv6 but the first real server \(10\.0\.0\.1\) is IPv4/,
  },
  { name: 'firewall mark at layer 7', input: l7({ firewallMark: 10 }), path: 'firewallMark' },
  { name: 'cookie persistence at layer 4', input: dr({ persistence: { type: 'http-cookie' } }), path: 'persistence.type' },
  { name: 'RDP cookie needs L7 tcp', input: l7({ persistence: { type: 'rdp-cookie' } }), path: 'persistence.type' },
  { name: 'RDP cookie on L7 tcp', input: l7({ mode: 'tcp', persistence: { type: 'rdp-cookie' } }) },
  { name: 'netmask prefix beyond IPv4', input: dr({ persistence: { type: 'source-ip', netmaskPrefix: 33 } }), path: 'persistence.netmaskPrefix' },
  {
    name: 'duplicate real server names',
    input: dr({
      realServers: [
        { name: 'a', address: '192.168.10.61' },
        { name: 'a', address: '192.168.10.62' },
      ],
    }),
    path: 'realServers.1.name',
  },
  {
    name: 'duplicate real server endpoint',
    input: dr({
      realServers: [
        { name: 'a', address: '192.168.10.61' },
        { name: 'b', address: '192.168.10.61' },
      ],
    }),
    path: 'realServers.1.address',
  },
  { name: 'unknown field', input: dr({ colour: 'blue' }), path: '' },
  {
    name: 'min connections above max',
    input: dr({ realServers: [{ name: 'a', address: '192.168.10.61', minConnections: 10, maxConnections: 5 }] }),
    path: 'realServers.0.minConnections',
  },
  {
    name: 'health timeout longer than interval',
    input: dr({ healthCheck: { type: 'connect', intervalMs: 1000, timeoutMs: 2000 } }),
    path: 'healthCheck.timeoutMs',
  },
  { name: 'DICOM echo check needs AE titles', input: dr({ healthCheck: { type: 'dicom-echo' } }), path: 'healthCheck.dicom' },
  { name: 'one-packet scheduling on TCP', input: dr({ layer4: { onePacketScheduling: true } }), path: 'layer4.onePacketScheduling' },
  {
    name: 'header rules on an L7 tcp service',
    input: l7({ mode: 'tcp', layer7: { requestHeaders: [{ action: 'set', name: 'X-A', value: '1' }] } }),
    path: 'layer7.requestHeaders',
  },
  {
    name: 'header value with a line break',
    input: l7({ layer7: { requestHeaders: [{ action: 'set', name: 'X-A', value: 'a\r\nb' }] } }),
    path: 'layer7.requestHeaders.0.value',
  },
  { name: 'invalid rewrite regex', input: l7({ layer7: { urlRewrites: [{ pattern: '([', replacement: '' }] } }), path: 'layer7.urlRewrites.0.pattern' },
  {
    name: 'route to a group nobody is in',
    input: l7({ layer7: { routes: [{ name: 'api', match: { pathPrefix: '/api' }, group: 'api' }] } }),
    path: 'layer7.routes.0.group',
  },
  { name: 'maintenance page at layer 4', input: dr({ fallback: { type: 'maintenance-page' } }), path: 'fallback.type' },
  // Client-address fields: the old booleans, the object form, and trusted proxies.
  { name: 'xForwardedFor as the boolean older configurations wrote', input: l7({ layer7: { xForwardedFor: false, xForwardedProto: true } }) },
  {
    name: 'xForwardedFor, xForwardedProto and forwarded by mode',
    input: l7({
      layer7: {
        xForwardedFor: { mode: 'replace' },
        xForwardedProto: { mode: 'append' },
        forwarded: { mode: 'trusted' },
        trustedProxies: ['10.0.0.0/8', '2001:db8::/32'],
      },
    }),
  },
  { name: 'an unknown forwarding mode', input: l7({ layer7: { xForwardedFor: { mode: 'prepend' } } }), path: 'layer7.xForwardedFor' },
  { name: 'a forwarding mode as a bare string', input: l7({ layer7: { forwarded: 'append' } }), path: 'layer7.forwarded', message: /true, false or \{ mode/ },
  {
    name: 'trusted with no trusted proxies',
    input: l7({ layer7: { xForwardedFor: { mode: 'trusted' }, forwarded: { mode: 'trusted' } } }),
    path: 'layer7.trustedProxies',
    message: /xForwardedFor, forwarded trust the headers .* list their networks here, or use mode "replace"/,
  },
  {
    name: 'a trusted proxy that is not a network',
    input: l7({ layer7: { trustedProxies: ['10.0.0.1'] } }),
    path: 'layer7.trustedProxies.0',
    message: /network such as/,
  },
  // Re-encryption CA bundle: PEM certificates only.
  {
    name: 'a CA bundle of two certificates with comments between',
    input: l7({ layer7: { reencrypt: { isEnabled: true, ca: `# Root\n${PEM}\n# Intermediate\n${PEM}\n` } } }),
  },
  {
    name: 'a CA bundle that is not PEM',
    input: l7({ layer7: { reencrypt: { isEnabled: true, ca: 'MIIB...' } } }),
    path: 'layer7.reencrypt.ca',
    message: /Paste the CA certificates in PEM/,
  },
  {
    name: 'a CA bundle with a private key in it',
    input: l7({ layer7: { reencrypt: { isEnabled: true, ca: `${PEM}\n-----BEGIN PRIVATE KEY-----\n${'A'.repeat(64)}\n-----END PRIVATE KEY-----\n` } } }),
    path: 'layer7.reencrypt.ca',
  },
  {
    name: 'a CA bundle whose block is cut short',
    input: l7({ layer7: { reencrypt: { isEnabled: true, ca: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' } } }),
    path: 'layer7.reencrypt.ca',
  },
  // Slow clients.
  { name: 'no minimum body rate', input: l7({ layer7: { limits: { minBodyBytesPerSecond: 0 } } }) },
  { name: 'a negative minimum body rate', input: l7({ layer7: { limits: { minBodyBytesPerSecond: -1 } } }), path: 'layer7.limits.minBodyBytesPerSecond' },
  // The sh and mh schedulers' flags (ipvsadm -b).
  { name: 'sh with fallback and port hashing', input: dr({ scheduler: 'sh', layer4: { schedulerFallback: true, schedulerPort: true } }) },
  { name: 'mh with fallback', input: dr({ scheduler: 'mh', layer4: { schedulerFallback: true } }) },
  {
    name: 'scheduler fallback with wlc',
    input: dr({ layer4: { schedulerFallback: true } }),
    path: 'layer4.schedulerFallback',
    message: /flag of the sh and mh schedulers only; choose sh or mh, or turn it off \(the scheduler is wlc\)/,
  },
  {
    name: 'port hashing with rr',
    input: dr({ scheduler: 'rr', layer4: { schedulerPort: true } }),
    path: 'layer4.schedulerPort',
    message: /sh and mh schedulers only/,
  },
  { name: 'a scheduler flag that is not a boolean', input: dr({ scheduler: 'sh', layer4: { schedulerPort: 'yes' } }), path: 'layer4.schedulerPort' },
  {
    name: 'a body rate window under 100 ms',
    input: l7({ layer7: { timeouts: { bodyRateWindowMs: 50 } } }),
    path: 'layer7.timeouts.bodyRateWindowMs',
    message: /at least 100 ms/,
  },
];

/** A case without `path` must pass; with it, must be refused with an issue at that path (and that message). */
function runCases(
  label: string,
  schema: { safeParse(x: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } },
  cases: Case[],
) {
  for (const c of cases) {
    test(`${label}: ${c.name}`, () => {
      const r = schema.safeParse(c.input);
      if (c.path === undefined) {
        assert.ok(r.success, r.success ? '' : JSON.stringify(r.error!.issues));
        return;
      }
      assert.equal(r.success, false, 'expected a refusal');
      const paths = r.error!.issues.map((i) => i.path.join('.'));
      assert.ok(paths.includes(c.path), `expected an issue at "${c.path}", got ${JSON.stringify(paths)}`);
      if (c.message)
        assert.ok(
          r.error!.issues.some((i) => c.message!.test(i.message)),
          `expected ${c.message}, got ${r.error!.issues.map((i) => i.message).join(' | ')}`,
        );
    });
  }
}

runCases('virtual service', VirtualServiceSchema, serviceCases);

const configCases: Case[] = [
  { name: 'two services on one VIP, port and protocol', input: { virtualServices: [dr(), dr({ name: 'other' })] }, path: 'virtualServices.1.ports' },
  { name: 'same VIP and port, TCP and UDP apart', input: { virtualServices: [dr(), dr({ name: 'udp', protocol: 'udp' })] } },
  {
    name: '"both" overlaps with UDP',
    input: { virtualServices: [dr({ protocol: 'both' }), dr({ name: 'udp', protocol: 'udp' })] },
    path: 'virtualServices.1.ports',
  },
  { name: 'a range overlapping a port', input: { virtualServices: [dr({ ports: ['70-90'] }), dr({ name: 'b' })] }, path: 'virtualServices.1.ports' },
  {
    name: 'IPv6 spelled two ways is one address',
    input: { virtualServices: [dr({ address: '2001:db8::50', realServers: [] }), dr({ name: 'b', address: '2001:DB8:0::50', realServers: [] })] },
    path: 'virtualServices.1.ports',
  },
  { name: 'duplicate service names', input: { virtualServices: [dr(), dr({ ports: [81] })] }, path: 'virtualServices.1.name' },
  {
    name: 'RIP:PORT in both L4 SNAT and L7 is refused',
    input: {
      virtualServices: [
        dr({ name: 'snat', mode: 'snat', realServers: [{ name: 'a', address: '10.0.0.5', port: 8080 }] }),
        l7({ realServers: [{ name: 'a', address: '10.0.0.5', port: 8080 }] }),
      ],
    },
    path: 'virtualServices.1.realServers.0.address',
    message: /firewall rules of layer 4 SNAT and layer 7 conflict/,
  },
  {
    name: 'L4 SNAT real server without a port takes the VIP port',
    input: {
      virtualServices: [
        dr({ name: 'snat', mode: 'snat', ports: [8080], realServers: [{ name: 'a', address: '10.0.0.5' }] }),
        l7({ realServers: [{ name: 'a', address: '10.0.0.5', port: 8080 }] }),
      ],
    },
    path: 'virtualServices.1.realServers.0.address',
  },
  {
    name: 'L4 NAT and L7 may share a RIP:PORT',
    input: {
      virtualServices: [
        dr({ name: 'nat', mode: 'nat', realServers: [{ name: 'a', address: '10.0.0.5', port: 8080 }] }),
        l7({ realServers: [{ name: 'a', address: '10.0.0.5', port: 8080 }] }),
      ],
    },
  },
  {
    name: 'TLS certificate must exist',
    input: { virtualServices: [l7({ layer7: { tls: { certificate: 'missing' } } })] },
    path: 'virtualServices.0.layer7.tls.certificate',
  },
  { name: 'disabled services do not clash', input: { virtualServices: [dr(), dr({ name: 'b', isEnabled: false })] } },
];

runCases('config', ConfigSchema, configCases);

const timeoutCases: Case[] = [
  { name: 'IPVS timeouts, all three', input: { layer4: { timeouts: { tcpSeconds: 7200, tcpFinSeconds: 60, udpSeconds: 30 } } } },
  { name: "one IPVS timeout (the others stay the kernel's)", input: { layer4: { timeouts: { udpSeconds: 30 } } } },
  {
    name: 'an IPVS timeout of 0',
    input: { layer4: { timeouts: { tcpSeconds: 0 } } },
    path: 'layer4.timeouts.tcpSeconds',
    message: /The IPVS TCP timeout must be at least 1 s/,
  },
  {
    name: "an IPVS timeout past the kernel's jiffies",
    input: { layer4: { timeouts: { udpSeconds: 3_000_000 } } },
    path: 'layer4.timeouts.udpSeconds',
    message: /The IPVS UDP timeout must be at most 2000000 s/,
  },
  {
    name: 'an IPVS timeout in fractions',
    input: { layer4: { timeouts: { tcpFinSeconds: 1.5 } } },
    path: 'layer4.timeouts.tcpFinSeconds',
    message: /whole seconds/,
  },
  { name: 'an unknown IPVS timeout', input: { layer4: { timeouts: { sctpSeconds: 10 } } }, path: 'layer4.timeouts' },
];
runCases('config', ConfigSchema, timeoutCases);

test('canonicalAddress folds IPv6 spellings and leaves IPv4 alone (the full table: address.test.ts)', () => {
  assert.equal(canonicalAddress('2001:DB8::1'), canonicalAddress('2001:db8:0:0::1'));
  assert.equal(canonicalAddress('::1'), '::1');
  assert.equal(canonicalAddress('10.0.0.1'), '10.0.0.1');
});

test('one real server written in two IPv6 spellings is listed twice', () => {
  const r = VirtualServiceSchema.safeParse(
    dr({
      address: '2001:db8::80',
      realServers: [
        { name: 'a', address: '2001:db8::5' },
        { name: 'b', address: '2001:DB8:0:0::0005' },
      ],
    }),
  );
  assert.equal(r.success, false);
  const issue = r.error!.issues.find((i) => /listed twice/.test(i.message));
  assert.ok(issue, JSON.stringify(r.error!.issues));
  assert.deepEqual(issue.path, ['realServers', 1, 'address']);
});

test('defaults are filled so the engine always sees a complete service', () => {
  const vs = VirtualServiceSchema.parse(dr());
  assert.equal(vs.protocol, 'tcp');
  assert.equal(vs.scheduler, 'wlc');
  assert.deepEqual(vs.persistence, { type: 'none' });
  assert.equal(vs.realServers[0].weight, 100);
  assert.equal(vs.realServers[0].state, 'online');
});

test('layer 7 defaults are those of before: X-Forwarded-For appended, X-Forwarded-Proto replaced, no Forwarded', () => {
  const l = VirtualServiceSchema.parse(l7({ layer7: {} })).layer7!;
  assert.equal(l.xForwardedFor, true);
  assert.equal(l.xForwardedProto, true);
  assert.equal(l.forwarded, false);
  assert.deepEqual(l.trustedProxies, []);
  assert.equal(l.reencrypt, undefined);
  assert.equal(l.limits.minBodyBytesPerSecond, 500);
  assert.equal(l.timeouts.bodyRateWindowMs, 20_000);
  assert.equal(l.timeouts.httpRequestMs, 10_000);
  // The object form is kept as given, so an older engine's output is not rewritten.
  assert.deepEqual(VirtualServiceSchema.parse(l7({ layer7: { xForwardedFor: { mode: 'replace' } } })).layer7!.xForwardedFor, { mode: 'replace' });
});

test('services on one VIP or mark: the grouped check finds exactly the collisions every pair compared would', () => {
  // A seeded generator: the same 300 tables every run.
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const overlap = (a: (number | string)[], b: (number | string)[]) => {
    const r = (p: number | string) => (typeof p === 'number' ? [p, p] : p.split('-').map(Number));
    return a.some((x) => b.some((y) => r(x)[0] <= r(y)[1] && r(y)[0] <= r(x)[1]));
  };
  const protoOverlap = (a: string, b: string) => a === 'both' || b === 'both' || a === b;
  for (let t = 0; t < 300; t++) {
    type Svc = { name: string; address?: string; ports: (number | string)[]; protocol: string; firewallMark?: number; isEnabled: boolean };
    const services: Svc[] = Array.from({ length: 2 + rand(9) }, (_, i) => {
      const ports = Array.from({ length: 1 + rand(2) }, () => (rand(4) === 0 ? `${80 + rand(4)}-${84 + rand(4)}` : 80 + rand(8)));
      const mark = rand(5) === 0 ? 1 + rand(2) : undefined;
      const address = ['10.0.0.1', '10.0.0.2', '::1', '0:0:0:0:0:0:0:1'][rand(4)];
      return {
        name: `s${i}`,
        ...(mark === undefined ? { address, ports } : { firewallMark: mark, ports: [] }),
        protocol: ['tcp', 'udp', 'both'][rand(3)],
        isEnabled: rand(6) !== 0,
      };
    });
    const input = services.map((v, i) => dr({ ...v, address: v.address, realServers: [{ name: 'a', address: i % 2 ? '10.0.0.61' : 'fd00::61' }] }));
    const want: string[] = [];
    services.forEach((vs, i) => {
      for (let j = 0; j < i; j++) {
        const o = services[j];
        if (!vs.isEnabled || !o.isEnabled) continue;
        if (vs.firewallMark !== undefined || o.firewallMark !== undefined) {
          if (vs.firewallMark === o.firewallMark) want.push(`${i} firewallMark ${o.name}`);
          continue;
        }
        const same = canonicalAddress(vs.address!) === canonicalAddress(o.address!);
        if (same && protoOverlap(vs.protocol, o.protocol) && overlap(vs.ports, o.ports)) want.push(`${i} ports ${o.name}`);
      }
    });
    const r = ConfigSchema.safeParse({ virtualServices: input });
    const got = (r.success ? [] : r.error.issues)
      .filter((x) => /already listens on|is already used by/.test(x.message))
      .map((x) => `${String(x.path[1])} ${String(x.path[2])} ${/"(s\d+)"/.exec(x.message)![1]}`);
    assert.deepEqual(got, want, `table ${t}: ${JSON.stringify(services.map((s) => [s.address, s.ports, s.protocol, s.firewallMark, s.isEnabled]))}`);
  }
});
