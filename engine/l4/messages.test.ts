/** Changes as netlink bytes, and the kernel's errnos as reports (the kernel's own answers are in client.kernel.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frame, NLM_F_REQUEST } from './attrs.ts';
import { encodeMessages, resultsOf } from './messages.ts';
import { encodeCommand, IPVS_GENL_VERSION, type Command } from './codec.ts';
import type { Service, ServiceId } from './model.ts';

const service = {
  family: 4,
  protocol: 'tcp',
  address: '192.0.2.1',
  port: 80,
  scheduler: 'wlc',
  flags: 0,
  timeout: 0,
  netmaskPrefix: 32,
  peName: '',
} as Service;
const commands: Command[] = [
  { cmd: 'new-service', service },
  { cmd: 'new-dest', service, destination: { address: '10.0.0.1', port: 80, forward: 'masq', weight: 5, upperThreshold: 0, lowerThreshold: 0 } },
  { cmd: 'del-dest', service, destination: { address: '10.0.0.2', port: 80 } },
];

test('messages: encodeMessages is each command framed, back to back, with family, sequence and ACK left to the sender', () => {
  const each = commands.map((c) => {
    const e = encodeCommand(c);
    return frame({ type: 0, flags: NLM_F_REQUEST, seq: 0, pid: 0, cmd: e.cmd, version: IPVS_GENL_VERSION, attrs: e.attrs });
  });
  const bytes = encodeMessages(commands);
  assert.deepEqual(bytes, Buffer.concat(each));
  // Each message's length field walks to the next: what execMessages splits by.
  let off = 0;
  const lengths: number[] = [];
  while (off < bytes.length) {
    lengths.push(bytes.readUInt32LE(off));
    off += (bytes.readUInt32LE(off) + 3) & ~3;
  }
  assert.deepEqual(
    lengths,
    each.map((b) => b.length),
  );
  assert.equal(encodeMessages([]).length, 0);
});

test('messages: resultsOf reports each errno as exec did: 0 done, EEXIST on add and ENOENT on delete harmless, others refused', () => {
  const r = resultsOf(commands, Int32Array.from([17, 22, 2]));
  assert.deepEqual(
    r.map((x) => [x.command.cmd, x.ok, x.errno]),
    [
      ['new-service', true, 'EEXIST'],
      ['new-dest', false, 'EINVAL'],
      ['del-dest', true, 'ENOENT'],
    ],
  );
  assert.equal(r[1].error?.code, 'IPVS_KERNEL');
  assert.deepEqual(
    resultsOf(commands, [0, 0, 0]).map((x) => [x.ok, x.errno, x.error]),
    [
      [true, undefined, undefined],
      [true, undefined, undefined],
      [true, undefined, undefined],
    ],
  );
});

test('messages: a whole table encodes to the same bytes as each command framed apart (destinations written in place, one SERVICE attribute per run)', () => {
  // Every change kind; IPv4, IPv6 and firewall-mark services; destination settings at their edges; runs of
  // destination commands sharing one service object (as plan() makes them) and commands with a copy of it.
  const cmds: Command[] = [];
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  const forwards = ['masq', 'local', 'tunnel', 'route', 'bypass'] as const;
  for (let i = 0; i < 300; i++) {
    const v6 = rnd(3) === 0;
    const fw = rnd(5) === 0;
    const s = {
      ...service,
      family: v6 ? 6 : 4,
      ...(fw ? { fwmark: 1 + rnd(1000), protocol: undefined, address: undefined, port: undefined } : {}),
      ...(!fw ? { address: v6 ? `2001:db8::${i.toString(16)}` : `192.0.2.${i % 250}`, port: 1 + rnd(65535), protocol: rnd(2) ? 'tcp' : 'udp' } : {}),
    } as Service;
    const id = (fw ? { family: s.family, fwmark: s.fwmark } : { family: s.family, protocol: s.protocol, address: s.address, port: s.port }) as ServiceId;
    cmds.push({ cmd: rnd(2) ? 'new-service' : 'set-service', service: s });
    for (let k = 0; k < 1 + rnd(5); k++) {
      const address = v6 ? `fd00::${k + 1}:${i.toString(16)}` : `10.${k}.${i % 250}.${1 + rnd(250)}`;
      const tunnel = rnd(2) === 0;
      const destination = {
        address,
        port: rnd(65536),
        forward: forwards[rnd(5)],
        weight: rnd(3) === 0 ? 0 : rnd(2) ? 0xffffffff : rnd(100000),
        upperThreshold: rnd(2) ? 0 : rnd(1 << 30),
        lowerThreshold: rnd(1000),
        ...(tunnel ? { tunnelType: rnd(3), tunnelPort: rnd(65536), tunnelFlags: rnd(8) } : {}),
      } as const;
      const on = rnd(4) === 0 ? { ...id } : id; // a copy now and then: another object, the same service
      const kind = rnd(3);
      if (kind === 2) cmds.push({ cmd: 'del-dest', service: on, destination: { address, port: destination.port } });
      else cmds.push({ cmd: kind === 0 ? 'new-dest' : 'set-dest', service: on, destination });
    }
    if (rnd(4) === 0) cmds.push({ cmd: 'del-service', service: id });
  }
  const each = cmds.map((c) => {
    const e = encodeCommand(c);
    return frame({ type: 0, flags: NLM_F_REQUEST, seq: 0, pid: 0, cmd: e.cmd, version: IPVS_GENL_VERSION, attrs: e.attrs });
  });
  assert.ok(cmds.filter((c) => c.cmd === 'new-dest' || c.cmd === 'set-dest').length > 300);
  assert.deepEqual(encodeMessages(cmds), Buffer.concat(each));
});
