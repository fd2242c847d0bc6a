import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcIpVs } from './procfs.ts';

// Captured from /proc/net/ip_vs in the test kernel after the ipvsadm commands in codec fixtures.
const SAMPLE = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A000001:0050 wrr  persistent 30000 FFFFFF00
  -> 0A000102:0050      Route   0      0          0         
  -> 0A000101:1F90      Masq    5      3          1         
TCP  [2001:0db8:0000:0000:0000:0000:0000:0002]:01BB mh persistent 6000 30000000
UDP  [2001:0db8:0000:0000:0000:0000:0000:0001]:0035 sh 
  -> [2001:0db8:0001:0000:0000:0000:0000:0005]:14E9      Masq    9      0          0         
FWM  00000007 rr 
  -> 0A000103:0000      Tunnel  2      0          0         
`;

test('procfs: destinations by service key, canonical addresses, summary-marked; firewall-mark services left to netlink', () => {
  const m = parseProcIpVs(SAMPLE);
  assert.deepEqual([...m.keys()], ['tcp|4|10.0.0.1|80', 'tcp|6|2001:db8::2|443', 'udp|6|2001:db8::1|53']);
  assert.deepEqual(
    m.get('tcp|4|10.0.0.1|80')!.map((d) => [d.address, d.port, d.forward, d.weight, d.activeConnections, d.inactiveConnections, d.isSummary]),
    [
      ['10.0.1.2', 80, 'route', 0, 0, 0, true],
      ['10.0.1.1', 8080, 'masq', 5, 3, 1, true],
    ],
  );
  assert.deepEqual(
    m.get('udp|6|2001:db8::1|53')!.map((d) => [d.address, d.port, d.family]),
    [['2001:db8:1::5', 5353, 6]],
  );
  assert.deepEqual(m.get('tcp|6|2001:db8::2|443'), []);
});
