/**
 * The HA kernel tests clock their no-flapping window by keepalived's own counters (pair-checks.ts vrrpCounters):
 * the stats file keepalived 2.2.7 writes on SIGUSR2 (this text was written by the Debian package), read per
 * instance, and a file caught half-written is not read at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVrrpStats } from './pair-checks.ts';

const block = (name: string, received: number, sent: number, became: number) =>
  `VRRP Instance: ${name}\n  Advertisements:\n    Received: ${received}\n    Sent: ${sent}\n  Became master: ${became}\n  Released master: 0\n  Packet Errors:\n    Length: 0\n    TTL: 0\n    Invalid Type: 0\n    Advertisement Interval: 0\n    Address List: 0\n  Authentication Errors:\n    Invalid Type: 0\n    Type Mismatch: 0\n    Failure: 0\n  Priority Zero:\n    Received: 0\n    Sent: 0\n`;

test('keepalived stats: counters per instance; a half-written file is not read', () => {
  const text = block('fulcrum_eth0', 12, 7, 1) + block('fulcrum_eth1', 3, 40, 2);
  assert.deepEqual(parseVrrpStats(text), {
    fulcrum_eth0: { received: 12, sent: 7, becameMaster: 1, releasedMaster: 0 },
    fulcrum_eth1: { received: 3, sent: 40, becameMaster: 2, releasedMaster: 0 },
  });
  assert.equal(parseVrrpStats(text.slice(0, text.length - 12)), undefined);
  assert.equal(parseVrrpStats(''), undefined);
});
