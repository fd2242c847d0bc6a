/** The one canonical address form (address.ts), pinned row by row against RFC 5952 and RFC 4291. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressBytes, addressFromBytes, canonicalAddress, sameAddress, unmappedAddress } from './address.ts';

/** [given, canonical, why] */
const CANONICAL: [string, string, string][] = [
  ['10.0.0.1', '10.0.0.1', 'IPv4 stays a dotted quad'],
  ['0.0.0.0', '0.0.0.0', 'IPv4 any'],
  ['2001:db8::1', '2001:db8::1', 'already canonical'],
  ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1', 'RFC 5952 §4.1 leading zeros, §4.2.1 zeros compressed'],
  ['2001:0DB8::0001', '2001:db8::1', '§4.1 leading zeros, §4.3 lower case'],
  ['2001:DB8:AC10:FE01::', '2001:db8:ac10:fe01::', '§4.3 lower case, trailing run'],
  ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1', '§4.2.1 the run is compressed'],
  ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1', '§4.2.2 one zero group is not "::"'],
  ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1', '§4.2.3 the longest run is compressed'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', '§4.2.3 equal runs: the first is compressed'],
  ['0:0:0:0:0:0:0:0', '::', 'all zeros'],
  ['::', '::', 'all zeros, already canonical'],
  ['0:0:0:0:0:0:0:1', '::1', 'loopback'],
  ['::0001', '::1', 'loopback with a leading zero'],
  ['1:0:0:0:0:0:0:0', '1::', 'a trailing run'],
  ['::ffff:1.2.3.4', '::ffff:1.2.3.4', '§5 IPv4-mapped in mixed notation; stays IPv6'],
  ['::FFFF:0102:0304', '::ffff:1.2.3.4', 'IPv4-mapped written in hex'],
  ['0:0:0:0:0:ffff:10.0.0.1', '::ffff:10.0.0.1', 'IPv4-mapped spelt out'],
  ['::1.2.3.4', '::102:304', 'RFC 4291 §2.5.5.1 IPv4-compatible (deprecated) is not IPv4-mapped'],
  ['64:ff9b::192.0.2.33', '64:ff9b::c000:221', 'a dotted tail elsewhere is the low 32 bits in hex'],
  ['fe80::0001%eth0', 'fe80::1%eth0', 'a zone id is kept'],
  ['FE80::1%Eth0', 'fe80::1%Eth0', 'a zone id keeps its case (an interface name)'],
  ['not an address', 'not an address', 'not an address: unchanged'],
  ['010.0.0.1', '010.0.0.1', 'IPv4 with a leading zero (octal to some parsers) is not folded'],
  ['::ffff:010.0.0.1', '::ffff:010.0.0.1', 'nor in a dotted tail'],
  ['1.2.3', '1.2.3', 'three parts are not an IPv4 address here'],
  ['1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8:9', 'nine groups'],
];

for (const [given, canonical, why] of CANONICAL) {
  test(`canonicalAddress(${JSON.stringify(given)}) = ${canonical}: ${why}`, () => {
    assert.equal(canonicalAddress(given), canonical);
    assert.equal(canonicalAddress(given), canonical, 'the memoised second answer is the same');
    assert.equal(canonicalAddress(canonical), canonical, 'the canonical form is a fixed point');
  });
}

test('bytes and text agree: addressFromBytes(addressBytes(x)) is canonicalAddress(x) for every address without a zone', () => {
  const refused = new Set(['not an address', '010.0.0.1', '::ffff:010.0.0.1', '1.2.3', '1:2:3:4:5:6:7:8:9']);
  let checked = 0;
  for (const [given, canonical] of CANONICAL) {
    if (given.includes('%')) continue;
    if (refused.has(given)) {
      assert.throws(() => addressBytes(given), /not an IP address/, given);
      continue;
    }
    checked++;
    const bytes = addressBytes(given);
    assert.equal(bytes.length, given.includes(':') ? 16 : 4, given);
    assert.equal(addressFromBytes(bytes), canonical, given);
  }
  assert.equal(checked, CANONICAL.length - refused.size - 2, 'every row but the refused and the two with a zone');
});

test('addressBytes: IPv4-mapped and IPv4-compatible differ on the wire; refusals throw', () => {
  assert.deepEqual(addressBytes('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
  assert.deepEqual(addressBytes('::1.2.3.4'), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  assert.deepEqual(addressBytes('192.0.2.1'), [192, 0, 2, 1]);
  for (const bad of ['fe80::1%eth0', '010.0.0.1', '1.2.3', '::ffff:010.0.0.1', '1:2:3:4:5:6:7:8:9', '', 'example.org', '12345::1']) {
    assert.throws(() => addressBytes(bad), /not an IP address/, bad);
  }
});

test('sameAddress: two spellings of one address, and only those', () => {
  assert.equal(sameAddress('2001:DB8:0::1', '2001:db8::0:1'), true);
  assert.equal(sameAddress('::ffff:10.0.0.1', '::FFFF:a00:1'), true);
  assert.equal(sameAddress('::ffff:10.0.0.1', '10.0.0.1'), false, 'IPv4-mapped is another family');
  assert.equal(sameAddress('fe80::1%eth0', 'fe80::1%eth1'), false, 'another zone is another address');
  assert.equal(sameAddress('fe80::1%eth0', 'fe80::1'), false);
});

test('unmappedAddress: a v4 client on a dual-stack socket is its IPv4 address; nothing else changes', () => {
  const cases: [string, string][] = [
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::FFFF:10.0.0.1', '10.0.0.1'],
    ['::ffff:a00:1', '::ffff:a00:1'], // no dot: Node never writes a mapped client so; the fast path leaves it
    ['::1.2.3.4', '::1.2.3.4'],
    ['64:ff9b::1.2.3.4', '64:ff9b::1.2.3.4'],
    ['10.0.0.1', '10.0.0.1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:10.0.0.1%eth0', '::ffff:10.0.0.1%eth0'],
    ['', ''],
  ];
  for (const [given, want] of cases) assert.equal(unmappedAddress(given), want, given);
});
