/**
 * The wizard's DR answer, end to end in the IPVS test kernel (User-Mode Linux, as root): the EMIS Symphony template
 * answered for Layer 4 DR becomes a configuration (lib/wizard/engine.ts) that the engine's layer 4 data plane
 * programs; `ipvsadm -Sn` shows exactly the table the wizard promised (wlc, source-IP persistence 3600 s, direct
 * routing, weight 100). The real servers of the lab are set up only by the Linux script the wizard generates
 * (lib/wizard/arp-scripts.ts), run in each server's namespace: the VIP on lo, arp_ignore=1, arp_announce=2. Traffic
 * from the client's namespace reaches them through the VIP, and only the director answers ARP for it.
 *
 * The script's persistence files go to tmpfs mounts private to each run (the guest's root is the host, read-only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ConfigSchema } from '../../engine/config/index.ts';
import { createL4DataPlane } from '../../engine/l4/dataplane.ts';
import { createLab, sh } from '../../engine/l4/testing/lab.ts';
import { checkRun } from './engine.ts';
import { templates } from './template.ts';
import { InterfaceNamesSchema, linuxScript } from './arp-scripts.ts';

test("wizard DR: the template's config programs the promised IPVS table, the generated ARP script readies the servers, traffic flows", async (t) => {
  const lab = await createLab({ topology: 'one-arm', servers: 2 });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-wizard-'));
  const dp = createL4DataPlane({ dataDir });
  t.after(async () => {
    await dp.close();
    lab.cleanup();
    sh('ipvsadm', '-C');
  });

  const run = checkRun(
    templates().get('emis-symphony')!,
    {
      mode: { modeId: 'l4-dr' },
      service: { name: 'symphony', address: lab.vip, ports: [{ port: 80, label: 'HTTP', isTls: false }], interface: lab.vipInterface },
      servers: { realServers: lab.servers.map((s) => ({ name: s.name, address: s.address, port: null, weight: null })) },
      health: { type: 'none', port: null, intervalMs: null, timeoutMs: null },
    },
    ConfigSchema.parse({}),
  );
  assert.deepEqual(run.issues, []);

  // Each real server runs the wizard's own script, as the engineer would, and nothing else.
  const script = path.join(dataDir, 'fulcrum-arp.sh');
  for (const s of lab.servers) {
    fs.writeFileSync(script, linuxScript({ service: 'symphony', vip: lab.vip, ports: [80], realServer: s }, InterfaceNamesSchema.parse({ linuxLan: 'eth0' })));
    const mounts = ['/etc/sysctl.d', '/etc/network', '/etc/systemd']
      .filter((d) => fs.existsSync(d))
      .map((d) => `mount -t tmpfs none ${d}`)
      .join('; ');
    const out = execFileSync('ip', ['netns', 'exec', s.name, 'unshare', '-m', 'sh', '-c', `${mounts}; bash ${script}`], { encoding: 'utf8' });
    assert.match(out, /done: arp_ignore=1 arp_announce=2/);
    assert.match(
      execFileSync('ip', ['netns', 'exec', s.name, 'ip', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }),
      new RegExp(`inet ${lab.vip.replace(/\./g, '\\.')}/32`),
    );
  }

  const res = await dp.apply({ config: ConfigSchema.parse({ virtualServices: run.objects }), decisions: new Map() });
  assert.deepEqual(
    res.map((r) => [r.name, r.status]),
    [['symphony', 'programmed']],
    JSON.stringify(res),
  );
  const table = sh('ipvsadm', '-Sn').trim().split('\n').sort();
  const [r1, r2] = lab.servers.map((s) => s.address);
  assert.deepEqual(
    table,
    [`-A -t ${lab.vip}:80 -s wlc -p 3600`, `-a -t ${lab.vip}:80 -r ${r1}:80 -g -w 100`, `-a -t ${lab.vip}:80 -r ${r2}:80 -g -w 100`].sort(),
  );

  // Traffic through the VIP reaches a real server, and the client stays with it (source-IP persistence).
  const names = await lab.get(4);
  assert.equal(new Set(names).size, 1, `one server for one client: ${names.join(',')}`);
  assert.ok(lab.servers.some((s) => s.name === names[0]));
  // Only the director answered ARP for the VIP: the client's neighbour entry is the director's bridge address.
  const mac = fs.readFileSync('/sys/class/net/br-lab/address', 'utf8').trim();
  assert.match(execFileSync('ip', ['netns', 'exec', 'lab-client', 'ip', 'neigh', 'show', lab.vip], { encoding: 'utf8' }), new RegExp(`lladdr ${mac}`));
});
