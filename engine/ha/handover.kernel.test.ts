/**
 * The planned hand-over in the real kernel (User-Mode Linux, the lab of testing/ha-lab.ts: two directors, each the
 * real engine running its own rendered keepalived, a client, two real servers, a DR and a NAT service under a steady
 * client each and one long-lived TCP stream each). The console's "move the service to the peer" ends in the engine's
 * standby (lib/ha/handover.ts → PUT /v1/ha/standby → Engine.setHaStandby); this proves what that does:
 *
 *   1. standby on the active node (lb1) → its track script fails, keepalived puts both instances in FAULT, lb2 takes
 *      every moving address; the track script says why (GET /v1/ha/check names the operator and the reason)
 *   2. standby cleared, nopreempt (the default) → lb1 comes back BACKUP and stays so; lb2 keeps the service
 *   3. standby on lb2 (the lower priority node can hand over too) → lb1 takes over; cleared → lb2 BACKUP
 *   4. preemption on (preempt_delay 2, by an apply: keepalived reloads, nothing moves); standby on lb1 → lb2 takes
 *      over; cleared → lb1 FAULT → BACKUP, then MASTER again after the delay
 *
 * After each move, as ha.kernel.test.ts asserts (testing/pair-checks.ts): the new active node holds every moving
 * address and the old one none, connections started after the takeover succeed on both services, both streams are
 * still open and on their real server (connection sync), and no VRRP state changes in a settling window. The figures
 * (time to MASTER, failed requests, stream stalls) are printed as diagnostics, never asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { configHash } from '../canonical.ts';
import { createHaLab, type Director } from './testing/ha-lab.ts';
import { addressesOf, haOf, labConfig, move, MOVING, noFlapping, settled, until, went } from './testing/pair-checks.ts';

const MAINTENANCE = { by: 'ed-admin', reason: 'patching lb for the kernel update' };

/** GET /v1/ha/check as keepalived's track script asks it, over the director's engine socket: its status and body. */
function trackCheck(d: Director): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .request({ socketPath: d.client.socketPath, path: '/v1/ha/check' }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject)
      .end();
  });
}

const skip = process.env.FULCRUM_IN_TEST_KERNEL !== '1' && 'runs inside the test kernel: scripts/kernel/run.sh engine/ha/handover.kernel.test.ts';

test('HA pair: a planned hand-over (engine standby) moves the service cleanly; clearing it makes a backup, a master again only with preempt', {
  timeout: 300_000,
  skip,
}, async (t) => {
  const lab = await createHaLab('/tmp');
  const { d1, d2 } = lab;
  try {
    const v1 = labConfig();
    for (const d of [d1, d2]) assert.equal((await d.client.apply(1, configHash(v1), v1)).ok, true);
    await settled(d1, d2);
    const dr = await lab.streams.ask<{ id: number }>({ op: 'stream-open', host: '10.0.0.10', port: 9000, gapMs: 50 });
    const nat = await lab.streams.ask<{ id: number }>({ op: 'stream-open', host: '172.16.0.10', port: 9000, gapMs: 50 });
    await until('both streams synced to d2', () => lab.connections('d2', 9000).length === 2);
    const streams = [dr.id, nat.id];
    assert.equal((await trackCheck(d1)).status, 200, 'before: lb1 may be active');

    // 1. Standby on the active node: FAULT there, the peer takes over.
    const at1 = await move(
      t,
      lab,
      'hand-over lb1 → lb2 (standby on lb1)',
      d2,
      d1,
      streams,
      async () => {
        assert.equal((await d1.client.setHaStandby(MAINTENANCE)).standby?.reason, MAINTENANCE.reason);
      },
      ['fault'],
    );
    const s1 = await haOf(d1);
    assert.equal(s1.standby?.by, MAINTENANCE.by, 'lb1 reports that it stands by, and who asked');
    const check = await trackCheck(d1);
    assert.equal(check.status, 503, 'the track script fails');
    assert.match(check.body, /HA_UNHEALTHY.*ed-admin.*patching lb for the kernel update/, 'and says who stood it by and why');
    assert.deepEqual(addressesOf('d1', MOVING), [], 'lb1 holds no moving address (read with ip)');
    await noFlapping(lab, 'while lb1 stands by');
    went(d1, at1, ['MASTER→FAULT'], 'hand-over to lb2');
    went(d2, at1, ['BACKUP→MASTER'], 'hand-over to lb2');

    // 2. Cleared, nopreempt: lb1 is a backup again (its higher priority does not take the service back).
    const at2 = performance.now();
    assert.equal((await d1.client.setHaStandby(null)).standby, null);
    await until('lb1 BACKUP after standby ends', async () => (await haOf(d1)).role === 'backup');
    await settled(d2, d1);
    assert.equal((await trackCheck(d1)).status, 200, 'the track script passes again');
    await noFlapping(lab, 'after standby ends (nopreempt)');
    went(d1, at2, ['FAULT→BACKUP'], 'standby ended, nopreempt');
    went(d2, at2, [], 'standby ended, nopreempt');

    // 3. The lower priority node hands over too; cleared, it waits as the backup.
    const at3 = await move(t, lab, 'hand-over lb2 → lb1 (standby on lb2)', d1, d2, streams, async () => void (await d2.client.setHaStandby(MAINTENANCE)), [
      'fault',
    ]);
    await noFlapping(lab, 'while lb2 stands by');
    went(d2, at3, ['MASTER→FAULT'], 'hand-over to lb1');
    went(d1, at3, ['BACKUP→MASTER'], 'hand-over to lb1');
    const at3b = performance.now();
    await d2.client.setHaStandby(null);
    await until('lb2 BACKUP after standby ends', async () => (await haOf(d2)).role === 'backup');
    await settled(d1, d2);
    await noFlapping(lab, 'after lb2 standby ends');
    went(d2, at3b, ['FAULT→BACKUP'], 'lb2 standby ended');
    went(d1, at3b, [], 'lb2 standby ended');

    // 4. Preempt on (an apply reloads keepalived in place; lb1 is already active, so nothing moves).
    const v2 = labConfig({ preempt: true, preemptDelaySeconds: 2 });
    const at4 = performance.now();
    for (const d of [d1, d2]) assert.equal((await d.client.apply(2, configHash(v2), v2)).ok, true);
    await until('both keepalived reloaded', async () => (await Promise.all([haOf(d1), haOf(d2)])).every((s) => s.keepalived.reloads === 1));
    await settled(d1, d2);
    await noFlapping(lab, 'after preempt on');
    went(d1, at4, [], 'preempt on');
    went(d2, at4, [], 'preempt on');
    const at5 = await move(t, lab, 'hand-over lb1 → lb2 with preempt', d2, d1, streams, async () => void (await d1.client.setHaStandby(MAINTENANCE)), [
      'fault',
    ]);
    await noFlapping(lab, 'while lb1 stands by (preempt)');
    went(d1, at5, ['MASTER→FAULT'], 'hand-over with preempt');
    went(d2, at5, ['BACKUP→MASTER'], 'hand-over with preempt');
    // Cleared with preempt: lb1 takes the service back once its delay has run.
    const at6 = await move(t, lab, 'standby ended on lb1, preempts after 2 s', d1, d2, streams, async () => void (await d1.client.setHaStandby(null)));
    await noFlapping(lab, 'after lb1 preempts');
    went(d1, at6, ['FAULT→BACKUP', 'BACKUP→MASTER'], 'standby ended, preempt');
    went(d2, at6, ['MASTER→BACKUP'], 'standby ended, preempt');
  } catch (e) {
    for (const d of [d1, d2])
      for (const l of d
        .log()
        .split('\n')
        .filter((x) => x && !x.includes('gratuitous ARP'))
        .slice(-30))
        t.diagnostic(`${d.name}: ${l}`);
    throw e;
  } finally {
    await lab.cleanup();
  }
});
