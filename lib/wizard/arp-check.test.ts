/**
 * The ARP check's reading of arping and its choice of interface, on fixtures. The output below is what iputils
 * arping 20221126 printed here, between two network namespaces joined by a veth pair (a VIP on the peer's lo with
 * arp_ignore=0, then an address where no host was). The probes themselves are proven in the test kernel
 * (arp-check.kernel.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkArp, interfaceFor, parseArping } from './arp-check.ts';

const ANSWERED = `ARPING 10.9.0.10 from 10.9.0.1 va
Unicast reply from 10.9.0.10 [C2:24:F5:2E:14:CD]  0.555ms
Unicast reply from 10.9.0.10 [C2:24:F5:2E:14:CD]  0.552ms
Sent 2 probes (1 broadcast(s))
Received 2 response(s)
`;
const SILENT = `ARPING 10.9.0.77 from 10.9.0.1 va
Sent 2 probes (2 broadcast(s))
Received 0 response(s)
`;

test('arping output: each answering host once, MACs in lower case; none when nobody answered', () => {
  assert.deepEqual(parseArping(ANSWERED), [{ address: '10.9.0.10', mac: 'c2:24:f5:2e:14:cd' }]);
  assert.deepEqual(parseArping(SILENT), []);
});

test('the interface asked from: the longest prefix holding the server, never lo or a /32 such as the VIP', () => {
  const host = [
    { interface: 'lo', address: '127.0.0.1', prefix: 8 },
    { interface: 'ens192', address: '10.0.0.1', prefix: 16 },
    { interface: 'ens224', address: '10.0.5.1', prefix: 24 },
    { interface: 'ens224', address: '10.0.5.10', prefix: 32 },
  ];
  assert.equal(interfaceFor('10.0.5.20', host)?.address, '10.0.5.1');
  assert.equal(interfaceFor('10.0.9.20', host)?.interface, 'ens192');
  assert.equal(interfaceFor('192.168.1.5', host), undefined);
});

test('servers out of reach are named with the reason, without a probe', async (t) => {
  // Whatever networks this run may probe, these are refused before that question: no interface, no ARP in IPv6.
  const allowed = process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS;
  delete process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS;
  t.after(() => {
    if (allowed !== undefined) process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = allowed;
  });
  let probes = 0;
  const arping = async () => {
    probes++;
    return [];
  };
  const host = [{ interface: 'ens192', address: '10.0.0.1', prefix: 24 }];
  const results = await checkArp(
    [
      { service: 's', vip: '10.0.0.10', realServer: { name: 'far', address: '192.168.1.5' } },
      { service: 's', vip: 'fd00::10', realServer: { name: 'six', address: 'fd00::2' } },
    ],
    host,
    arping,
  );
  assert.deepEqual(
    results.map((r) => r.outcome),
    ['no-interface', 'not-probed'],
  );
  assert.match(results[0].message, /^far: this appliance has no interface on the subnet of 192\.168\.1\.5/);
  assert.match(results[1].message, /IPv6 has no ARP/);
  assert.equal(probes, 0);
});
