// kernel: qemu — needs nftables' ip/ip6/inet families (absent from UML's kernel); scripts/kernel/run.sh runs this
// file in QEMU with Debian's kernel.
/**
 * SNAT (IPVS masquerade plus source NAT in the engine's nftables table) and firewall-mark services whose packets the
 * engine marks itself, with real traffic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ConfigSchema, type ConfigInput } from '../config/index.ts';
import { createL4DataPlane } from './dataplane.ts';
import { createLab, sh } from './testing/lab.ts';
import { scenario } from './testing/scenario.ts';

/** Why this kernel cannot run these tests, or undefined when it can. */
function nftInetMissing(): string | undefined {
  try {
    execFileSync('nft', ['-f', '-'], { input: 'add table inet fulcrum_probe\ndelete table inet fulcrum_probe\n', stdio: ['pipe', 'ignore', 'pipe'] });
    return undefined;
  } catch (e) {
    return `this kernel's nftables has no inet family (${
      String((e as { stderr?: Buffer }).stderr ?? e)
        .trim()
        .split('\n')[0]
    })`;
  }
}
const skip = nftInetMissing();

test('SNAT: no change on the real servers (no route back to the client); they see the director; rr, persistence, drain, halt', { skip }, async (t) => {
  const lab = await createLab({ topology: 'routed', servers: 2, hasRouteToClient: false });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
    try {
      sh('nft', 'delete', 'table', 'inet', 'fulcrum_l4');
    } catch {
      /* gone */
    }
  });
  const dp = await scenario(lab, 'snat');
  assert.match((await lab.bodies(1))[0], / 10\.0\.0\.1$/, 'the real server saw the director, not the client');
  const cap = await dp.capabilities();
  assert.deepEqual([cap.details!.modes, cap.details!.hasFirewallMarking], [['dr', 'nat', 'snat', 'tun'], true]);
  assert.equal(fs.readFileSync('/proc/sys/net/ipv4/vs/conntrack', 'utf8').trim(), '1');
  assert.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '1');
  const table = sh('nft', 'list', 'table', 'inet', 'fulcrum_l4');
  assert.match(table, /ip daddr 10\.0\.0\.2 ct original ip daddr 172\.16\.0\.10 masquerade/);
  assert.match(table, /ip daddr 10\.0\.0\.3 ct original ip daddr 172\.16\.0\.10 masquerade/);
  // Removing the service removes the engine's table too; nothing else is touched.
  await dp.apply({ config: ConfigSchema.parse({ virtualServices: [] }), decisions: new Map() });
  assert.throws(() => sh('nft', 'list', 'table', 'inet', 'fulcrum_l4'));
  await dp.close();
});

test('SNAT over IPv6: real servers with no route to the client answer the director fd00::1', { skip }, async (t) => {
  const lab = await createLab({ topology: 'routed', servers: 2, hasRouteToClient: false, family: 6 });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
    try {
      sh('nft', 'delete', 'table', 'inet', 'fulcrum_l4');
    } catch {
      /* gone */
    }
  });
  const dp = await scenario(lab, 'snat');
  assert.match((await lab.bodies(1))[0], / fd00::1$/);
  assert.match(sh('nft', 'list', 'table', 'inet', 'fulcrum_l4'), /ip6 daddr fd00::2 ct original ip6 daddr fd01::10 masquerade/);
  await dp.close();
});

test('firewall mark: one IPVS service for ports 80 and 8080, marked by the engine; persistence spans both ports', { skip }, async (t) => {
  const lab = await createLab({ topology: 'routed', servers: 2 });
  t.after(() => {
    lab.cleanup();
    sh('ipvsadm', '-C');
    try {
      sh('nft', 'delete', 'table', 'inet', 'fulcrum_l4');
    } catch {
      /* gone */
    }
  });
  for (const s of lab.servers) await lab.serverAgent(s.name).ask({ op: 'serve', name: s.name, port: 8080 });
  const dp = createL4DataPlane({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l4-')) });
  t.after(() => dp.close());
  const cfg = (persistent: boolean) =>
    ConfigSchema.parse({
      virtualServices: [
        {
          name: 'multi',
          layer: 4,
          mode: 'nat',
          address: lab.vip,
          ports: [80, 8080],
          firewallMark: 42,
          scheduler: 'rr',
          interface: lab.vipInterface,
          persistence: persistent ? { type: 'source-ip', timeoutSeconds: 300 } : { type: 'none' },
          realServers: lab.servers.map((s) => ({ name: s.name, address: s.address })),
        },
      ],
    } as ConfigInput);
  assert.deepEqual(
    (await dp.apply({ config: cfg(false), decisions: new Map() })).map((r) => r.status),
    ['programmed'],
  );
  assert.match(sh('ipvsadm', '-Sn'), /-A -f 42 -s rr/);
  assert.match(sh('nft', 'list', 'table', 'inet', 'fulcrum_l4'), /ip daddr 172\.16\.0\.10 tcp dport \{ 80, 8080 \} meta mark set 0x0000002a/);
  // Without persistence both ports are spread by one scheduler: four requests alternate across ports too.
  const spread = [...(await lab.get(1, 80)), ...(await lab.get(1, 8080)), ...(await lab.get(1, 80)), ...(await lab.get(1, 8080))];
  assert.deepEqual(new Set(spread).size, 2, spread.join(','));
  // With persistence, a client that came in on :80 is kept on the same server for :8080.
  assert.deepEqual(
    (await dp.apply({ config: cfg(true), decisions: new Map() })).map((r) => r.status),
    ['programmed'],
  );
  const first = (await lab.get(1, 80))[0];
  assert.deepEqual([...(await lab.get(3, 8080)), ...(await lab.get(2, 80))], [first, first, first, first, first]);
});
