import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeInsertCookie, encodeInsertCookie, readCookie, readRdpCookie, readSetCookie, sourceKey, StickTable } from './persistence.ts';
import { proxyHeaderV1, proxyHeaderV2 } from './proxy-protocol.ts';

test('source keys are masked to the persistence prefix', () => {
  assert.equal(sourceKey('10.1.2.3', undefined), '10.1.2.3');
  assert.equal(sourceKey('10.1.2.3', 24), '10.1.2.0/24');
  assert.equal(sourceKey('10.1.2.3', 0), '0.0.0.0/0');
  assert.equal(sourceKey('2001:db8:1:2::5', 48), '2001:db8:1::/48');
  assert.equal(sourceKey('2001:db8:1:a2ff::5', 52), '2001:db8:1:a000::/52', 'a prefix inside a group keeps its high bits');
  assert.equal(sourceKey('fe80::1:2%eth0', 64), 'fe80::/64', 'a zone id is not part of the key');
  assert.equal(sourceKey('2001:db8::5', 0), '::/0');
});

test('the insert cookie carries a server id and, with limits, first and last seen', () => {
  assert.deepEqual(decodeInsertCookie(encodeInsertCookie('k3x9', undefined, undefined)), { serverId: 'k3x9' });
  const v = encodeInsertCookie('k3x9', 1_700_000_000_000, 1_700_000_100_000);
  assert.deepEqual(decodeInsertCookie(v), { serverId: 'k3x9', firstSeen: 1_700_000_000_000, lastSeen: 1_700_000_100_000 });
  assert.equal(decodeInsertCookie('../etc'), undefined);
});

test('cookies are read from Cookie and Set-Cookie headers', () => {
  assert.equal(readCookie(['a=1; JSESSIONID=abc ; b=2'], 'JSESSIONID'), 'abc');
  assert.equal(readCookie(['a=1', 'FULCRUMID=x'], 'FULCRUMID'), 'x');
  assert.equal(readCookie(['XJSESSIONID=1'], 'JSESSIONID'), undefined);
  assert.equal(readSetCookie('JSESSIONID=s1; Path=/; HttpOnly', 'JSESSIONID'), 's1');
  assert.equal(readSetCookie('other=s1', 'JSESSIONID'), undefined);
});

test('the RDP mstshash cookie is read from an X.224 connection request', () => {
  const cookie = 'Cookie: mstshash=alice\r\n';
  const x224 = Buffer.concat([Buffer.from([0x0e, 0xe0, 0, 0, 0, 0, 0]), Buffer.from(cookie, 'latin1'), Buffer.from([1, 0, 8, 0, 3, 0, 0, 0])]);
  const tpkt = Buffer.concat([Buffer.from([3, 0, 0, 0]), x224]);
  tpkt.writeUInt16BE(tpkt.length, 2);
  assert.equal(readRdpCookie(tpkt), 'alice');
  assert.equal(readRdpCookie(Buffer.from('GET / HTTP/1.1\r\n')), undefined);
});

test('a stick table expires idle entries and tells others only on news', () => {
  let now = 1000;
  const synced: string[] = [];
  const t = new StickTable(
    'svc/source',
    100,
    (_n, k, e) => synced.push(`${k}=${e.server}`),
    () => now,
  );
  t.set('1.2.3.4', 'a');
  assert.equal(t.get('1.2.3.4'), 'a');
  now += 10;
  t.set('1.2.3.4', 'a');
  assert.deepEqual(synced, ['1.2.3.4=a']);
  now += 99;
  assert.equal(t.get('1.2.3.4'), 'a', 'still within the idle timeout, refreshed');
  now += 101;
  assert.equal(t.get('1.2.3.4'), undefined);
  t.merge('5.6.7.8', { server: 'b', expiresAt: now + 50 });
  assert.equal(t.get('5.6.7.8'), 'b');
});

test('PROXY protocol v1 and v2 headers, byte for byte', () => {
  const e = { sourceAddress: '::ffff:10.0.0.1', sourcePort: 51000, destAddress: '127.0.0.1', destPort: 80 };
  assert.equal(proxyHeaderV1(e).toString(), 'PROXY TCP4 10.0.0.1 127.0.0.1 51000 80\r\n');
  assert.equal(proxyHeaderV2(e).toString('hex'), '0d0a0d0a000d0a515549540a' + '21' + '11' + '000c' + '0a000001' + '7f000001' + 'c738' + '0050');
  const v6 = proxyHeaderV2({ sourceAddress: '2001:db8::1', sourcePort: 1, destAddress: '::1', destPort: 2 });
  assert.equal(v6.length, 52);
  assert.equal(v6.subarray(13, 16).toString('hex'), '210024');
  assert.equal(v6.subarray(16, 32).toString('hex'), '20010db8000000000000000000000001');
  assert.equal(
    proxyHeaderV1({ sourceAddress: '2001:db8::1', sourcePort: 1, destAddress: '::1', destPort: 2 }).toString(),
    'PROXY TCP6 2001:db8::1 ::1 1 2\r\n',
  );
  // A v4 client to a v6 address: both go as IPv6, the client as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2); a link-local
  // peer's zone id has no room in the address block.
  const mixed = proxyHeaderV2({ sourceAddress: '10.0.0.1', sourcePort: 1, destAddress: 'fe80::1%eth0', destPort: 2 });
  assert.equal(mixed.subarray(16, 48).toString('hex'), '00000000000000000000ffff0a000001' + 'fe800000000000000000000000000001');
});
