/**
 * The ARP-problem scripts: the Linux one is valid bash (`bash -n`) and sets exactly arp_ignore=1 and arp_announce=2,
 * persistently, with the VIP on lo; the Windows one uses the adapter names the engineer gave in every netsh call,
 * with weak host receive on both adapters and weak host send on the loopback. Interface names that could break out of
 * the script's quotes are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InterfaceNamesSchema, linuxInstructions, linuxScript, windowsInstructions, windowsScript } from './arp-scripts.ts';

const target = { service: 'symphony', vip: '192.168.10.50', ports: [80, 443], realServer: { name: 'sym-app-1', address: '192.168.10.11' } };

test('Linux: bash -n accepts it; arp_ignore=1, arp_announce=2 in sysctl.d; VIP/32 on lo; networkd and ifupdown persistence', () => {
  const names = InterfaceNamesSchema.parse({ linuxLan: 'ens192' });
  const s = linuxScript(target, names);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'arp-')), 'fulcrum-arp.sh');
  fs.writeFileSync(file, s);
  const r = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(s.startsWith('#!/usr/bin/env bash\n'));
  assert.match(s, /^VIP='192\.168\.10\.50'$/m);
  assert.match(s, /^LAN='ens192'$/m);
  for (const line of [
    'net.ipv4.conf.all.arp_ignore = 1',
    'net.ipv4.conf.all.arp_announce = 2',
    'net.ipv4.conf.$LAN.arp_ignore = 1',
    'net.ipv4.conf.$LAN.arp_announce = 2',
  ])
    assert.ok(s.includes(line), line);
  assert.match(s, /cat > \/etc\/sysctl\.d\/90-fulcrum-arp\.conf/);
  assert.match(s, /ip addr add "\$VIP\/32" dev lo/);
  assert.match(s, /\[Match\]\nName=lo\n\n\[Network\]\nAddress=127\.0\.0\.1\/8\nAddress=::1\/128\nAddress=\$VIP\/32/);
  assert.match(s, /iface lo:fulcrum inet static\n {4}address \$VIP\n {4}netmask 255\.255\.255\.255/);
  fs.rmSync(path.dirname(file), { recursive: true });
  // The heredocs expand to the real values: run the sysctl part's text through bash to see what lands in the file.
  const rendered = spawnSync(
    'bash',
    ['-c', `LAN=ens192; VIP=192.168.10.50; cat <<EOF\n${s.split('90-fulcrum-arp.conf <<EOF\n')[1].split('\nEOF\n')[0]}\nEOF`],
    { encoding: 'utf8' },
  ).stdout;
  assert.match(rendered, /^net\.ipv4\.conf\.ens192\.arp_ignore = 1$/m);
  assert.match(linuxInstructions(target, names), /arp_ignore = 1 .*\n.*arp_announce = 2/);
});

test('Windows: netsh with the names given, weak host receive on both, weak host send on the loopback, VIP /32', () => {
  const names = InterfaceNamesSchema.parse({ windowsLan: 'NIC Team 1', windowsLoopback: 'Fulcrum VIP' });
  const s = windowsScript(target, names);
  assert.match(s, /^\$Lan = 'NIC Team 1'$/m);
  assert.match(s, /^\$Loopback = 'Fulcrum VIP'$/m);
  assert.match(s, /'add', 'address', "name=\$Loopback", "address=\$Vip", 'mask=255\.255\.255\.255'/);
  assert.match(s, /'set', 'interface', \$Lan, 'weakhostreceive=enabled'/);
  assert.match(s, /'set', 'interface', \$Loopback, 'weakhostreceive=enabled'/);
  assert.match(s, /'set', 'interface', \$Loopback, 'weakhostsend=enabled'/);
  assert.doesNotMatch(s, /'set', 'interface', \$Lan, 'weakhostsend/, 'weak host send is for the loopback only');
  const doc = windowsInstructions(target, names);
  assert.match(doc, /Microsoft KM-TEST Loopback Adapter/);
  assert.match(doc, /netsh interface ipv4 set interface "NIC Team 1" weakhostreceive=enabled/);
  assert.match(doc, /netsh interface ipv4 set interface "Fulcrum VIP" weakhostsend=enabled/);
});

test('names that could break out of the script are refused with the reason; defaults are the usual names', () => {
  const bad = InterfaceNamesSchema.safeParse({ windowsLan: "Ethernet'; Remove-Item C:\\ -Recurse; '" });
  assert.equal(bad.success, false);
  assert.match(bad.error!.issues[0].message, /cannot contain quotes/);
  assert.equal(InterfaceNamesSchema.safeParse({ linuxLan: 'eth0; reboot' }).success, false);
  assert.deepEqual(InterfaceNamesSchema.parse({}), { windowsLan: 'Ethernet', windowsLoopback: 'loopback', linuxLan: 'eth0' });
});
