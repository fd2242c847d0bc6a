/** Changes as netlink bytes, and the kernel's errnos as reports (the kernel's own answers are in client.kernel.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frame, NLM_F_REQUEST } from './attrs.ts';
import { encodeMessages, resultsOf } from './messages.ts';
import { encodeCommand, IPVS_GENL_VERSION, type Command } from './codec.ts';
import type { Service } from './model.ts';

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
