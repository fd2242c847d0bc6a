import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigSchema } from '../config/index.ts';
import { createL4DataPlane } from './index.ts';

const hasIpvs = fs.existsSync('/proc/net/ip_vs');

test('data plane: without IPVS, capabilities say so and apply reports every layer 4 service not-programmed', {
  skip: hasIpvs ? 'this kernel has IPVS (covered by the kernel tests)' : false,
}, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l4-'));
  const dp = createL4DataPlane({ dataDir });
  const cap = await dp.capabilities();
  assert.equal(cap.dataPlane, 'l4');
  assert.equal(cap.isAvailable, false);
  assert.match(cap.reason!, /^IPVS is not available in this kernel \(.+\); layer 4 services are accepted but not programmed\.$/);
  const config = ConfigSchema.parse({
    virtualServices: [
      { name: 'web', layer: 4, mode: 'dr', address: '192.0.2.10', ports: [80], realServers: [{ name: 'a', address: '10.0.0.1' }] },
      { name: 'app', layer: 7, mode: 'http', address: '192.0.2.11', ports: [80], realServers: [{ name: 'a', address: '10.0.0.1' }] },
      { name: 'dns', layer: 4, mode: 'nat', protocol: 'udp', address: '192.0.2.12', ports: [53], realServers: [] },
    ],
  });
  const results = await dp.apply({ config, decisions: new Map() });
  assert.deepEqual(
    results.map((r) => [r.name, r.layer, r.status, r.code]),
    [
      ['web', 4, 'not-programmed', 'IPVS_UNAVAILABLE'],
      ['dns', 4, 'not-programmed', 'IPVS_UNAVAILABLE'],
    ],
  );
  assert.equal(results[0].message, cap.reason);
  assert.deepEqual(await dp.counters(), new Map());
  await dp.close();
  assert.equal(fs.existsSync(path.join(dataDir, 'l4-owned.json')), false, 'nothing recorded when nothing was created');
});
