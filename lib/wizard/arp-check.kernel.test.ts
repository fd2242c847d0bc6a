/**
 * The final screen's ARP check in the test kernel (User-Mode Linux, as root), against real servers in network
 * namespaces this test makes on the lab's bridge (engine/l4/testing/lab.ts): the guest's root namespace is the
 * appliance, holding the VIP as a DR director does. Three real servers, as an engineer may leave them:
 *   r1  readied by the wizard's own Linux script (VIP on lo, arp_ignore=1, arp_announce=2)   → quiet for the VIP;
 *   r2  the VIP put on lo by hand, the sysctls forgotten                                     → answers ARP for it;
 *   r3  nothing done (no VIP)                                                                → quiet (ARP cannot see
 *       that it lacks the VIP; the screen says so);
 * and an address on the lab's subnet where no host is → no ARP answer. The probe is the real iputils arping; every
 * frame stays on the guest's bridge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createLab, sh } from '../../engine/l4/testing/lab.ts';
import { InterfaceNamesSchema, linuxScript } from './arp-scripts.ts';
import { checkArp } from './arp-check.ts';
import { hostAddresses } from './preflight.ts';

const inNs = (name: string, ...args: string[]) => execFileSync('ip', ['netns', 'exec', name, ...args], { encoding: 'utf8' });

test('ARP check: a server readied by the script is quiet for the VIP, one with the VIP on lo but no sysctls answers, a missing host is named', async (t) => {
  const lab = await createLab({ topology: 'one-arm', servers: 3 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-arp-check-'));
  t.after(() => lab.cleanup());
  sh('ip', 'addr', 'add', `${lab.vip}/32`, 'dev', 'br-lab'); // the director's VIP, as the engine puts it there for DR

  const [r1, r2, r3] = lab.servers;
  const script = path.join(dir, 'fulcrum-arp.sh');
  fs.writeFileSync(script, linuxScript({ service: 'symphony', vip: lab.vip, ports: [80], realServer: r1 }, InterfaceNamesSchema.parse({ linuxLan: 'eth0' })));
  const mounts = ['/etc/sysctl.d', '/etc/network', '/etc/systemd']
    .filter((d) => fs.existsSync(d))
    .map((d) => `mount -t tmpfs none ${d}`)
    .join('; ');
  assert.match(inNs(r1.name, 'unshare', '-m', 'sh', '-c', `${mounts}; bash ${script}`), /done: arp_ignore=1 arp_announce=2/);
  inNs(r2.name, 'ip', 'addr', 'add', `${lab.vip}/32`, 'dev', 'lo');
  assert.equal(inNs(r2.name, 'sysctl', '-n', 'net.ipv4.conf.all.arp_ignore').trim(), '0', 'r2 keeps the kernel default');
  const mac = (name: string) => inNs(name, 'cat', '/sys/class/net/eth0/address').trim();

  const targets = [...lab.servers, { name: 'r-absent', address: '10.0.0.77' }].map((realServer) => ({ service: 'symphony', vip: lab.vip, realServer }));
  const results = await checkArp(targets, hostAddresses());
  const by = new Map(results.map((r) => [r.realServer, r]));
  assert.deepEqual(
    results.map((r) => [r.realServer, r.outcome]),
    [
      [r1.name, 'ok'],
      [r2.name, 'answers-arp'],
      [r3.name, 'ok'],
      ['r-absent', 'no-answer'],
    ],
    JSON.stringify(results, null, 1),
  );
  assert.equal(by.get(r1.name)!.mac, mac(r1.name));
  assert.ok(
    by.get(r1.name)!.message.startsWith(`r1: does not answer ARP for the VIP ${lab.vip} (it answers for ${r1.address} from ${mac(r1.name)}).`),
    by.get(r1.name)!.message,
  );
  assert.equal(by.get(r2.name)!.mac, mac(r2.name));
  assert.match(
    by.get(r2.name)!.message,
    new RegExp(
      `^r2: answers ARP for the VIP ${lab.vip.replace(/\./g, '\\.')} \\(from ${mac(r2.name)}\\): the loopback/arp_ignore settings are missing — see the Linux script`,
    ),
  );
  // The quiet ones are told of the host that does answer for the VIP (r2), never of the appliance itself.
  for (const r of [r1, r3]) assert.match(by.get(r.name)!.message, new RegExp(`Another host does answer for the VIP \\(${mac(r2.name)}\\):`));
  assert.match(by.get('r-absent')!.message, /no ARP answer for its own address 10\.0\.0\.77 on br-lab/);
});
