import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, parseArgs } from './main.ts';

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  return main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) }).then((code) => ({ code, out: out.join('\n'), err: err.join('\n') }));
}

const write = (obj: unknown) => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrumctl-')), 'config.json');
  fs.writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return f;
};

test('fulcrumctl check: a valid file is summarised as the kernel will see it', async () => {
  const f = write({
    virtualServices: [
      {
        name: 'dns',
        layer: 4,
        mode: 'snat',
        protocol: 'both',
        address: '192.0.2.53',
        ports: [53],
        interface: 'eth0',
        realServers: [{ name: 'a', address: '10.0.0.1' }],
      },
      { name: 'app', layer: 7, mode: 'http', address: '192.0.2.11', ports: [80], realServers: [{ name: 'a', address: '10.0.0.2' }] },
    ],
  });
  const r = await run(['check', f]);
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    [
      `Configuration file ${f} is valid: 2 virtual services (1 layer 4, 1 layer 7).`,
      '  dns [snat]: TCP 192.0.2.53:53 wlc (1 real server), UDP 192.0.2.53:53 wlc (1 real server)',
      '  VIPs to bring up: 192.0.2.53 on eth0',
      '  nftables table inet fulcrum_l4: 1 SNAT rule(s), 0 marking rule(s)',
      '  sysctls: net.ipv4.ip_forward=1, net.ipv4.vs.conntrack=1',
    ].join('\n'),
  );
});

test('fulcrumctl check: IPVS timeouts and a firewall-mark service without an address', async () => {
  const f = write({
    layer4: { timeouts: { tcpSeconds: 7200, udpSeconds: 30 } },
    virtualServices: [
      {
        name: 'pacs',
        layer: 4,
        mode: 'dr',
        firewallMark: 9,
        scheduler: 'sh',
        layer4: { schedulerFallback: true },
        realServers: [{ name: 'a', address: '2001:db8::1' }],
      },
    ],
  });
  const r = await run(['check', f]);
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    [
      `Configuration file ${f} is valid: 1 virtual services (1 layer 4, 0 layer 7).`,
      '  pacs [dr]: FWM 9 IPv6 sh (1 real server)',
      '  IPVS timeouts: tcp 7200 s, udp 30 s',
      // DR: a client port reused after a connection the director saw closing is scheduled anew (engine/l4/desired.ts).
      '  sysctls: net.ipv4.vs.conn_reuse_mode=3',
    ].join('\n'),
  );
  const bad = await run([
    'check',
    write({
      layer4: { timeouts: { udpSeconds: 0 } },
      virtualServices: [{ name: 'x', layer: 4, mode: 'dr', ports: [80], scheduler: 'wlc', layer4: { schedulerPort: true } }],
    }),
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^ {2}layer4\.timeouts\.udpSeconds: The IPVS UDP timeout must be at least 1 s\.$/m);
  assert.match(bad.err, /^ {2}virtualServices\.0\.address: Give an IPv4 address .*; only a layer 4 service with a firewall mark may leave the address out\.$/m);
  assert.match(bad.err, /^ {2}virtualServices\.0\.layer4\.schedulerPort: Hashing the source port is a flag of the sh and mh schedulers only/m);
});

test('fulcrumctl check: every problem with its path, exit 1', async () => {
  const f = write({
    virtualServices: [
      { name: 'x', layer: 4, mode: 'dr', address: '192.0.2.1', ports: [80], scheduler: 'uri', realServers: [{ name: 'a', address: '10.0.0.1', port: 8080 }] },
    ],
  });
  const r = await run(['check', f]);
  assert.equal(r.code, 1);
  assert.match(r.err, /is not valid \(2 problems\)/);
  assert.match(r.err, /virtualServices\.0\.scheduler: Scheduler "uri" is not available at layer 4/);
  assert.match(r.err, /virtualServices\.0\.realServers\.0\.port: Real server 10\.0\.0\.1:8080 cannot be used in DR mode/);
});

test('fulcrumctl check: unreadable, non-JSON and unprogrammable files are refused with the reason', async () => {
  assert.match((await run(['check', '/nonexistent/fulcrum.json'])).err, /cannot read it \(ENOENT\)/);
  assert.match((await run(['check', write('{ nope')])).err, /not valid JSON/);
  const wide = await run(['check', write({ virtualServices: [{ name: 'w', layer: 4, mode: 'nat', address: '192.0.2.1', ports: ['1000-2000'] }] })]);
  assert.equal(wide.code, 1);
  assert.match(wide.err, /w: Virtual service w needs 1001 IPVS services .* give it a firewall mark/);
});

test('fulcrumctl: usage errors exit 2', async () => {
  assert.equal((await run([])).code, 2);
  assert.equal((await run(['check'])).code, 2);
  const bogus = await run(['show', '--bogus']);
  assert.equal(bogus.code, 2);
  assert.match(bogus.err, /^fulcrumctl: Unknown option '--bogus'\nusage:/);
  const noDir = await run(['apply', 'x.json', '--data-dir']);
  assert.equal(noDir.code, 2);
  assert.match(noDir.err, /fulcrumctl: Option '--data-dir <value>' argument missing/);
  assert.match((await run(['check', 'a.json', 'b.json'])).err, /fulcrumctl: unexpected argument b\.json/);
});

test('fulcrumctl: options parsed by node:util parseArgs, in either spelling', () => {
  assert.deepEqual(parseArgs(['show', '--data-dir=/srv/fulcrum', '--json']), { command: 'show', file: undefined, dataDir: '/srv/fulcrum', isJson: true });
  assert.deepEqual(parseArgs(['apply', '--data-dir', '/d', 'c.json']), { command: 'apply', file: 'c.json', dataDir: '/d', isJson: false });
});

test('fulcrumctl apply/show without IPVS say why and exit 2', { skip: fs.existsSync('/proc/net/ip_vs') ? 'this kernel has IPVS' : false }, async () => {
  const f = write({ virtualServices: [] });
  const a = await run(['apply', f, '--data-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrumctl-'))]);
  assert.equal(a.code, 2);
  assert.match(a.err, /^IPVS is not available in this kernel/);
  const s = await run(['show']);
  assert.equal(s.code, 2);
  assert.match(s.err, /^IPVS is not available in this kernel/);
});
