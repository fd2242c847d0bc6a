/**
 * The final screen's VIP check in the test kernel (User-Mode Linux, as root): does each DR real server take a packet
 * for the VIP when it arrives at its MAC? The guest's root namespace is the appliance, holding the VIP as a DR
 * director does, so an ordinary connect to the VIP would stay local; the check goes as the console makes it — ARP
 * for each server's MAC (arp-check.ts), then the engine's POST /v1/probe/vip-answer over its socket (a real Engine
 * and the typed client), which sends the SYN with the real nping. Real servers in namespaces of the lab's bridge,
 * each serving HTTP on port 80 (engine/l4/testing/lab.ts):
 *   r1  readied by the wizard's own Linux script (VIP on lo, arp_ignore=1, arp_announce=2) → accepts, answers :80;
 *                                                   the same server probed on a port nothing serves → refused (RST);
 *   r2  nothing done (no VIP)                                                              → does not accept;
 * and an address where no host is → not checked (ARP found no MAC). Every frame stays on the guest's bridge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createLab, sh } from '../../engine/l4/testing/lab.ts';
import { Engine } from '../../engine/daemon/engine.ts';
import { createEngineServer, listenOnSocket } from '../../engine/daemon/server.ts';
import { createEngineClient } from '../../engine/client/index.ts';
import { InterfaceNamesSchema, linuxScript } from './arp-scripts.ts';
import { checkArp } from './arp-check.ts';
import { hostAddresses } from './preflight.ts';
import { checkVipAnswers } from './vip-check.ts';

const inNs = (name: string, ...args: string[]) => execFileSync('ip', ['netns', 'exec', name, ...args], { encoding: 'utf8' });

test('VIP check: the engine frames a SYN for the VIP to each server; a readied server answers, one without the VIP does not', async (t) => {
  const lab = await createLab({ topology: 'one-arm', servers: 2 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-vip-check-'));
  const engine = new Engine(dir, [], () => undefined);
  const server = createEngineServer(engine, () => undefined);
  const socket = path.join(dir, 'engine.sock');
  await listenOnSocket(server, socket);
  t.after(async () => {
    server.close();
    await engine.close();
    lab.cleanup();
  });
  sh('ip', 'addr', 'add', `${lab.vip}/32`, 'dev', 'br-lab'); // the director's VIP, as the engine puts it there for DR

  const [r1, r2] = lab.servers;
  const script = path.join(dir, 'fulcrum-arp.sh');
  fs.writeFileSync(script, linuxScript({ service: 'symphony', vip: lab.vip, ports: [80], realServer: r1 }, InterfaceNamesSchema.parse({ linuxLan: 'eth0' })));
  const mounts = ['/etc/sysctl.d', '/etc/network', '/etc/systemd']
    .filter((d) => fs.existsSync(d))
    .map((d) => `mount -t tmpfs none ${d}`)
    .join('; ');
  assert.match(inNs(r1.name, 'unshare', '-m', 'sh', '-c', `${mounts}; bash ${script}`), /done: arp_ignore=1 arp_announce=2/);
  assert.doesNotMatch(inNs(r2.name, 'ip', '-4', 'addr', 'show'), new RegExp(`inet ${lab.vip.replace(/\./g, '\\.')}/`), 'r2 has no VIP');
  const mac = (name: string) => inNs(name, 'cat', '/sys/class/net/eth0/address').trim();

  const target = (realServer: { name: string; address: string }, port: number) => ({ service: 'symphony', vip: lab.vip, ports: [port], realServer });
  const targets = [target(r1, 80), target(r1, 81), target(r2, 80), target({ name: 'r-absent', address: '10.0.0.77' }, 80)];
  const host = hostAddresses();
  const client = createEngineClient(socket);
  const results = await checkVipAnswers(await checkArp(targets, host), targets, host, (r) => client.probeVipAnswer(r));
  assert.deepEqual(
    results.map((r) => [r.realServer, r.vipCheck.port, r.vipCheck.outcome]),
    [
      [r1.name, 80, 'accepts'],
      [r1.name, 81, 'not-listening'],
      [r2.name, 80, 'no-answer'],
      ['r-absent', 80, 'not-checked'],
    ],
    // One line a server, first: CI prints only the start of a failure's message.
    results.map((r) => `${r.realServer}:${r.vipCheck.port} ${r.vipCheck.outcome} (ARP ${r.outcome}): ${r.vipCheck.message}`).join('\n'),
  );
  const v = lab.vip.replace(/\./g, '\\.');
  assert.equal(
    results[0].vipCheck.message,
    `r1: accepts packets for the VIP ${lab.vip} and answers on port 80 (a SYN to ${lab.vip}:80 sent to its MAC ${mac(r1.name)} was answered).`,
  );
  assert.match(results[1].vipCheck.message, new RegExp(`^r1: accepts packets for the VIP ${v}, but nothing listens on ${v}:81 there .*: start the service`));
  assert.match(
    results[2].vipCheck.message,
    new RegExp(
      `^r2: does not accept packets for the VIP ${v} \\(a SYN to ${v}:80 sent to its MAC ${mac(r2.name)} had no answer\\): add the VIP to its loopback adapter`,
    ),
  );
  // The SYN-ACK's half-open connection on r1 was ended by the probe's RST, not left to a minute of retransmissions.
  assert.doesNotMatch(inNs(r1.name, 'ss', '-tan'), /SYN-RECV/);

  // The same server, once the VIP is on its lo, takes it: the check follows the server, not the script.
  inNs(r2.name, 'ip', 'addr', 'add', `${lab.vip}/32`, 'dev', 'lo');
  const again = await client.probeVipAnswer({ vip: lab.vip, port: 80, mac: mac(r2.name), interface: 'br-lab', source: lab.directorLan });
  assert.deepEqual(again, { outcome: 'accepts', reply: 'syn-ack', isReset: true });
  // The engine sends only from an address of its own on that interface.
  await assert.rejects(
    client.probeVipAnswer({ vip: lab.vip, port: 80, mac: mac(r2.name), interface: 'br-lab', source: '10.0.0.250' }),
    /10\.0\.0\.250 is not an address/,
  );
});
