/** The VIP check's words and its choice of what to probe, with a recorded probe (vip-check.kernel.test.ts sends real frames). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ArpCheckResult } from './arp-check.ts';
import { checkVipAnswers, type VipProbe } from './vip-check.ts';

const host = [{ interface: 'eth1', address: '10.0.0.1', prefix: 24 }];
const t = (name: string, address: string, ports: (number | string)[] = [443, 80]) => ({
  service: 'sym',
  vip: '10.0.0.10',
  ports,
  realServer: { name, address },
});
const arp = (realServer: string, address: string, outcome: ArpCheckResult['outcome'], mac: string | null): ArpCheckResult => ({
  service: 'sym',
  realServer,
  address,
  outcome,
  mac,
  message: '',
});

test('each server with a MAC is probed on the lowest port of its service, from the LAN interface; the rest are not checked', async () => {
  const asked: unknown[] = [];
  const probe: VipProbe = async (r) => {
    asked.push(r);
    return r.mac.endsWith('02') ? { outcome: 'no-answer', reply: 'none', isReset: false } : { outcome: 'accepts', reply: 'rst', isReset: false };
  };
  const targets = [t('a', '10.0.0.2'), t('b', '10.0.0.3'), t('c', '10.0.0.4')];
  const results = await checkVipAnswers(
    [arp('a', '10.0.0.2', 'ok', '02:00:00:00:00:02'), arp('b', '10.0.0.3', 'answers-arp', '02:00:00:00:00:03'), arp('c', '10.0.0.4', 'no-answer', null)],
    targets,
    host,
    probe,
  );
  assert.deepEqual(asked, [
    { vip: '10.0.0.10', port: 80, mac: '02:00:00:00:00:02', interface: 'eth1', source: '10.0.0.1' },
    { vip: '10.0.0.10', port: 80, mac: '02:00:00:00:00:03', interface: 'eth1', source: '10.0.0.1' },
  ]);
  assert.deepEqual(
    results.map((r) => r.vipCheck.outcome),
    ['no-answer', 'not-listening', 'not-checked'],
  );
  assert.match(results[0].vipCheck.message, /^a: does not accept packets for the VIP 10\.0\.0\.10 .*: add the VIP to its loopback adapter/);
  assert.match(results[1].vipCheck.message, /^b: accepts packets for the VIP 10\.0\.0\.10, but nothing listens on 10\.0\.0\.10:80 there/);
});

test('an engine that cannot be asked, or a probe that could not be sent, is a failed check in words, never a pass', async () => {
  const down: VipProbe = async () => {
    throw new Error('The engine is not answering on /x/engine.sock: connect ENOENT');
  };
  const [r] = await checkVipAnswers([arp('a', '10.0.0.2', 'ok', '02:00:00:00:00:02')], [t('a', '10.0.0.2')], host, down);
  assert.deepEqual(r.vipCheck, {
    outcome: 'error',
    port: 80,
    message: 'a: the VIP check failed (The engine is not answering on /x/engine.sock: connect ENOENT).',
  });
  const failed: VipProbe = async () => ({ outcome: 'error', reply: 'none', isReset: false, error: 'nping could not send the probe: eth1 is down' });
  const [f] = await checkVipAnswers([arp('a', '10.0.0.2', 'ok', '02:00:00:00:00:02')], [t('a', '10.0.0.2')], host, failed);
  assert.equal(f.vipCheck.message, 'a: the VIP check could not be made (nping could not send the probe: eth1 is down).');
});
