/**
 * Every former canonicaliser now agrees: the schema's rules, the desired state's service keys, the kernel's
 * read-back over netlink (bytes → text) and /proc/net/ip_vs all name one address the same way, so the reconciler's
 * desired and observed keys match whichever spelling the configuration used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressBytes, canonicalAddress, ConfigSchema, type ConfigInput } from '../config/index.ts';
import { canonical, formatAddress, inetAddr, parseAddress } from './addr.ts';
import { decodeCommand, encodeCommand } from './codec.ts';
import { desiredFromConfig } from './desired.ts';
import { serviceKey, type Service } from './model.ts';
import { parseProcIpVs } from './procfs.ts';

/** canonical form → spellings the schema accepts for it. */
const SPELLINGS: [string, string[]][] = [
  ['10.0.0.10', ['10.0.0.10']],
  ['2001:db8::10', ['2001:db8::10', '2001:0DB8:0:0:0:0:0:0010', '2001:db8:0::10']],
  ['2001:db8::1:0:0:1', ['2001:db8:0:0:1:0:0:1', '2001:DB8::1:0:0:1']],
  ['2001:0:0:1::1', ['2001:0:0:1:0:0:0:1', '2001::1:0:0:0:1']],
  ['::ffff:10.0.0.10', ['::ffff:10.0.0.10', '::FFFF:a00:a', '0:0:0:0:0:ffff:10.0.0.10']],
  ['::102:304', ['::1.2.3.4', '::102:304']],
];

const service = (name: string, address: string) => ({
  name,
  layer: 4,
  mode: 'nat',
  address,
  ports: [80],
  realServers: [{ name: 'a', address: address.includes(':') ? '2001:db8:1::5' : '10.0.1.5', port: 8080 }],
});

/** /proc/net/ip_vs writes IPv4 as 8 hex digits and IPv6 as "[%pI6]" (eight 4-digit groups). */
function procText(address: string): string {
  const b = Buffer.from(addressBytes(address));
  return b.length === 4 ? b.toString('hex').toUpperCase() : `[${(b.toString('hex').match(/.{4}/g) ?? []).join(':')}]`;
}

for (const [want, spellings] of SPELLINGS) {
  test(`one key for ${want}: schema, desired state, netlink read-back and procfs agree`, () => {
    const family = want.includes(':') ? 6 : 4;
    const key = `tcp|${family}|${want}|80`;
    for (const spelling of spellings) {
      assert.equal(canonicalAddress(spelling), want, spelling);
      assert.equal(canonical(spelling), want, `engine/l4's name for it (engine/ha imports it): ${spelling}`);
      assert.equal(formatAddress(inetAddr(spelling), family), want, `the kernel's 16 bytes read back: ${spelling}`);

      const desired = desiredFromConfig(ConfigSchema.parse({ virtualServices: [service('s', spelling)] } as ConfigInput), new Map());
      const s = desired.services[0].service;
      assert.equal(serviceKey(s), key, `desired key from ${spelling}`);
      const e = encodeCommand({ cmd: 'new-service', service: s });
      const back = decodeCommand(e.cmd, Buffer.concat(e.attrs)) as { service: Service };
      assert.equal(serviceKey(back.service), key, `observed key after the netlink round trip of ${spelling}`);

      const proc = parseProcIpVs(`IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\nTCP  ${procText(spelling)}:0050 wlc \n`);
      assert.deepEqual([...proc.keys()], [key], `/proc/net/ip_vs for ${spelling}`);
    }
    if (spellings.length > 1) {
      // The schema's cross-service rule compares through the same function: two spellings are one VIP.
      const r = ConfigSchema.safeParse({ virtualServices: spellings.map((a, i) => service(`s${i}`, a)) });
      assert.equal(r.success, false, `${spellings.join(' and ')} are one VIP:port`);
      assert.match(r.error!.issues[0].message, /already listens on/);
    }
  });
}

test('netlink bytes: parseAddress gives 4 or 16 bytes and refuses what is not an address', () => {
  assert.equal(parseAddress('10.0.0.1').toString('hex'), '0a000001');
  assert.equal(parseAddress('::ffff:10.0.0.1').toString('hex'), '00000000000000000000ffff0a000001');
  assert.equal(parseAddress('::1.2.3.4').toString('hex'), '00000000000000000000000001020304');
  assert.equal(inetAddr('10.0.0.1').toString('hex'), `0a000001${'0'.repeat(24)}`);
  const first = parseAddress('2001:db8::1');
  first[0] = 0xff;
  assert.equal(parseAddress('2001:db8::1').toString('hex'), '20010db8000000000000000000000001', 'the memo hands out copies');
  for (const bad of ['fe80::1%eth0', '1.2.3', '256.0.0.1', '2001:db8::1::2', 'x']) assert.throws(() => parseAddress(bad), /not an IP address/, bad);
  assert.equal(formatAddress(Buffer.alloc(16), 6), '::');
  assert.equal(formatAddress(Buffer.alloc(16), 4), '0.0.0.0');
  assert.equal(formatAddress(inetAddr('::1'), 6), '::1');
});
