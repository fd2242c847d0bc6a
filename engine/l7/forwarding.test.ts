/**
 * The client-naming fields: X-Forwarded-For, X-Forwarded-Proto and Forwarded (RFC 7239) in each mode, as a raw
 * real server receives them (the exact field lines), from clients bound to 127.0.0.x so that one address is a
 * trusted proxy and another is not; and the pure parts (the modes a policy resolves, RFC 7239 §6 node syntax).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, connectFrom, freePort, httpService, RawClient } from './test-helpers.ts';
import { RawServer } from './smuggling-harness.ts';
import { forwardedElement, forwardedNode, forwardedValue, ForwardingPolicy, FWD_APPEND, FWD_OFF, FWD_REPLACE } from './forwarding.ts';
import { Layer7Schema, type VirtualServiceInput } from '../config/index.ts';

let dp: L7DataPlane;
let raw: RawServer;

before(async () => {
  dp = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-forwarding-${process.pid}`, workers: 0, closeGraceMs: 200 });
  raw = await new RawServer().start();
});

after(async () => {
  await dp.close();
  await raw.close();
});

const NAMES = new Set(['x-forwarded-for', 'x-forwarded-proto', 'forwarded']);

/** One GET from `from` with `headers`; the client-naming field lines the real server got, in order, as "Name: value". */
async function seen(port: number, from: string, headers: Record<string, string> = {}, host = '127.0.0.1'): Promise<string[]> {
  const before = raw.received().messages.length;
  const client = host === '::1' ? await v6Client(port) : await connectFrom(port, from);
  try {
    assert.equal((await client.request('GET', '/', headers)).status, 200);
  } finally {
    client.close();
  }
  const msgs = raw.received().messages;
  assert.equal(msgs.length, before + 1, 'the real server got the request');
  return msgs
    .at(-1)!
    .fields.filter(([k]) => NAMES.has(k.toLowerCase()))
    .map(([k, v]) => `${k}: ${v}`);
}

function v6Client(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '::1' }, () => resolve(RawClient.connect(port, '::1', s)));
    s.once('error', reject);
  });
}

const svc = (name: string, port: number, layer7: object, over: Partial<VirtualServiceInput> = {}): VirtualServiceInput =>
  httpService(name, port, [], { realServers: [{ name: 'raw', address: '127.0.0.1', port: raw.port }], layer7, ...over });

const SPOOF = { 'X-Forwarded-For': '192.0.2.9', 'X-Forwarded-Proto': 'https', Forwarded: 'for=192.0.2.9;proto=https' };
const TRUSTED = ['127.0.0.2/32'];

test('each mode, trusted and untrusted peers: the exact field lines the real server receives', async () => {
  const names = ['legacy', 'off', 'append', 'replace', 'trusted', 'fwd-append', 'fwd-replace', 'fwd-trusted'] as const;
  const ports = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await freePort()] as const))) as Record<(typeof names)[number], number>;
  const res = await dp.apply({
    config: config([
      svc('legacy', ports.legacy, { xForwardedFor: true, xForwardedProto: true }),
      svc('off', ports.off, { xForwardedFor: false, xForwardedProto: false }),
      svc('append', ports.append, { xForwardedFor: { mode: 'append' }, xForwardedProto: { mode: 'append' } }),
      svc('replace', ports.replace, { xForwardedFor: { mode: 'replace' }, xForwardedProto: { mode: 'replace' } }),
      svc('trusted', ports.trusted, { xForwardedFor: { mode: 'trusted' }, xForwardedProto: { mode: 'trusted' }, trustedProxies: TRUSTED }),
      svc('fwd-append', ports['fwd-append'], { xForwardedFor: false, xForwardedProto: false, forwarded: true }),
      svc('fwd-replace', ports['fwd-replace'], { xForwardedFor: false, xForwardedProto: false, forwarded: { mode: 'replace' } }),
      svc('fwd-trusted', ports['fwd-trusted'], {
        xForwardedFor: { mode: 'trusted' },
        xForwardedProto: { mode: 'trusted' },
        forwarded: { mode: 'trusted' },
        trustedProxies: ['127.0.0.0/31', '2001:db8::/32'],
      }),
    ]),
    decisions: new Map(),
  });
  assert.deepEqual(
    res.map((r) => r.status),
    names.map(() => 'programmed'),
  );

  type Row = [string, number, string, Record<string, string>, string[]];
  const rows: Row[] = [
    // The default (and `true`, as older configurations say): X-Forwarded-For appended, X-Forwarded-Proto replaced.
    ['legacy, nothing sent', ports.legacy, '127.0.0.3', {}, ['X-Forwarded-For: 127.0.0.3', 'X-Forwarded-Proto: http']],
    [
      'legacy, spoofed',
      ports.legacy,
      '127.0.0.3',
      SPOOF,
      ['Forwarded: for=192.0.2.9;proto=https', 'X-Forwarded-For: 192.0.2.9, 127.0.0.3', 'X-Forwarded-Proto: http'],
    ],
    // false: the client's lines go on as they came and nothing is added.
    ['off', ports.off, '127.0.0.3', SPOOF, ['X-Forwarded-For: 192.0.2.9', 'X-Forwarded-Proto: https', 'Forwarded: for=192.0.2.9;proto=https']],
    [
      'append',
      ports.append,
      '127.0.0.3',
      SPOOF,
      ['Forwarded: for=192.0.2.9;proto=https', 'X-Forwarded-For: 192.0.2.9, 127.0.0.3', 'X-Forwarded-Proto: https, http'],
    ],
    ['replace', ports.replace, '127.0.0.3', SPOOF, ['Forwarded: for=192.0.2.9;proto=https', 'X-Forwarded-For: 127.0.0.3', 'X-Forwarded-Proto: http']],
    [
      'trusted peer',
      ports.trusted,
      '127.0.0.2',
      SPOOF,
      ['Forwarded: for=192.0.2.9;proto=https', 'X-Forwarded-For: 192.0.2.9, 127.0.0.2', 'X-Forwarded-Proto: https, http'],
    ],
    ['untrusted peer', ports.trusted, '127.0.0.3', SPOOF, ['Forwarded: for=192.0.2.9;proto=https', 'X-Forwarded-For: 127.0.0.3', 'X-Forwarded-Proto: http']],
    ['trusted peer, nothing sent', ports.trusted, '127.0.0.2', {}, ['X-Forwarded-For: 127.0.0.2', 'X-Forwarded-Proto: http']],
    [
      'Forwarded appended',
      ports['fwd-append'],
      '127.0.0.3',
      SPOOF,
      ['X-Forwarded-For: 192.0.2.9', 'X-Forwarded-Proto: https', 'Forwarded: for=192.0.2.9;proto=https, for=127.0.0.3;proto=http;host=test.local'],
    ],
    [
      'Forwarded replaced',
      ports['fwd-replace'],
      '127.0.0.3',
      SPOOF,
      ['X-Forwarded-For: 192.0.2.9', 'X-Forwarded-Proto: https', 'Forwarded: for=127.0.0.3;proto=http;host=test.local'],
    ],
    // RFC 7239 §5.3: host as the client sent it; with a port it is not a token, so it is quoted.
    [
      'Forwarded host with a port',
      ports['fwd-replace'],
      '127.0.0.3',
      { Host: 'test.local:8080' },
      ['Forwarded: for=127.0.0.3;proto=http;host="test.local:8080"'],
    ],
    [
      'all trusted, from 127.0.0.1',
      ports['fwd-trusted'],
      '127.0.0.1',
      SPOOF,
      [
        'X-Forwarded-For: 192.0.2.9, 127.0.0.1',
        'X-Forwarded-Proto: https, http',
        'Forwarded: for=192.0.2.9;proto=https, for=127.0.0.1;proto=http;host=test.local',
      ],
    ],
    [
      'all trusted, from 127.0.0.3 (outside /31)',
      ports['fwd-trusted'],
      '127.0.0.3',
      SPOOF,
      ['X-Forwarded-For: 127.0.0.3', 'X-Forwarded-Proto: http', 'Forwarded: for=127.0.0.3;proto=http;host=test.local'],
    ],
  ];
  for (const [what, port, from, headers, expected] of rows) assert.deepEqual(await seen(port, from, headers), expected, what);
});

test('several lines of one field become one list; an empty value adds nothing', async () => {
  const port = await freePort();
  await dp.apply({ config: config([svc('lists', port, { xForwardedFor: { mode: 'append' }, forwarded: { mode: 'append' } })]), decisions: new Map() });
  const client = await connectFrom(port, '127.0.0.4');
  try {
    client.write(
      'GET / HTTP/1.1\r\nHost: a.example\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For:\r\nx-forwarded-for: 192.0.2.2, 192.0.2.3\r\nForwarded: for=192.0.2.1\r\nforwarded: for="[2001:db8::1]"\r\n\r\n',
    );
    assert.equal((await client.read()).status, 200);
  } finally {
    client.close();
  }
  const got = raw
    .received()
    .messages.at(-1)!
    .fields.filter(([k]) => NAMES.has(k.toLowerCase()))
    .map(([k, v]) => `${k}: ${v}`);
  assert.deepEqual(got, [
    'X-Forwarded-For: 192.0.2.1, 192.0.2.2, 192.0.2.3, 127.0.0.4',
    'X-Forwarded-Proto: http',
    'Forwarded: for=192.0.2.1, for="[2001:db8::1]", for=127.0.0.4;proto=http;host=a.example',
  ]);
});

test('an IPv6 client: X-Forwarded-For carries the address, Forwarded the bracketed and quoted node (RFC 7239 §6)', async () => {
  const port = await freePort();
  await dp.apply({ config: config([svc('v6', port, { forwarded: true }, { address: '::1' })]), decisions: new Map() });
  assert.deepEqual(await seen(port, '::1', { Host: '[::1]:8080' }, '::1'), [
    'X-Forwarded-For: ::1',
    'X-Forwarded-Proto: http',
    'Forwarded: for="[::1]";proto=http;host="[::1]:8080"',
  ]);
});

test("a policy resolves `trusted` per peer, and `true` keeps each field's old meaning", () => {
  const parse = (l7: object) => new ForwardingPolicy(Layer7Schema.parse(l7));
  const legacy = parse({});
  assert.deepEqual(legacy.forPeer('10.0.0.1'), { xff: FWD_APPEND, xfp: FWD_REPLACE, forwarded: FWD_OFF });
  assert.equal(legacy.trusted, legacy.untrusted, 'nothing trusts: one set of modes for every peer');
  const p = parse({
    xForwardedFor: { mode: 'trusted' },
    xForwardedProto: { mode: 'trusted' },
    forwarded: { mode: 'trusted' },
    trustedProxies: ['10.0.0.0/8', '2001:db8::/32'],
  });
  const cases: [string, number][] = [
    ['10.1.2.3', FWD_APPEND],
    ['10.1.2.3', FWD_APPEND], // the memo answers the same address again
    ['192.0.2.1', FWD_REPLACE],
    ['2001:db8::5', FWD_APPEND],
    ['2001:db9::5', FWD_REPLACE],
    ['', FWD_REPLACE],
    ['not-an-address', FWD_REPLACE],
  ];
  for (const [ip, mode] of cases) assert.deepEqual(p.forPeer(ip), { xff: mode, xfp: mode, forwarded: mode }, ip);
});

test('RFC 7239 node and value syntax', () => {
  const nodes: [string, string][] = [
    ['192.0.2.60', '192.0.2.60'],
    ['2001:db8:cafe::17', '"[2001:db8:cafe::17]"'],
    ['', 'unknown'],
  ];
  for (const [ip, out] of nodes) assert.equal(forwardedNode(ip), out, ip);
  const values: [string, string][] = [
    ['example.com', 'example.com'],
    ['example.com:8080', '"example.com:8080"'],
    ['[::1]:80', '"[::1]:80"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ["a!b$c&'()*+,;=", '"a!b$c&\'()*+,;="'],
  ];
  for (const [v, out] of values) assert.equal(forwardedValue(v), out, v);
  assert.equal(forwardedElement('2001:db8::1', true, 'www.example'), 'for="[2001:db8::1]";proto=https;host=www.example');
});
