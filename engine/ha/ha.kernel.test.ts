/**
 * The HA pair in the real kernel (User-Mode Linux): two directors, each the real engine in its own network namespace
 * running its own rendered keepalived (testing/ha-lab.ts), a client, two real servers. A DR service (VIP on the LAN)
 * and a NAT service (VIP on the client side, the real servers' gateway a floating IP on the LAN) carry a steady
 * client each and one long-lived TCP stream each. The pair is moved four ways, in order:
 *
 *   1. kill: the active node's keepalived is SIGKILLed (main and VRRP process: no priority-0 advert, a silent master)
 *      → the standby takes over; the killed node's engine restarts keepalived, which comes back BACKUP and stays
 *        BACKUP (nopreempt, the default)
 *   2. planned: preemption turned on (preempt_delay 2) by an apply → keepalived reloaded in place (SIGHUP, same pid)
 *      → the higher priority node takes over again after its delay
 *   3. cut: the active node's HA link loses carrier → it goes FAULT, the standby takes over
 *   4. restore: the link comes back → FAULT → BACKUP, then MASTER again after the preemption delay
 *
 * Then HA is switched off on the standby (the engine holds every address itself, recorded as its own) and on again
 * (keepalived's once more: the standby holds none). Before anything moves, the standby binds a listener to a VIP it
 * does not hold (ip_nonlocal_bind, as layer 7 needs).
 *
 * After each move: the new active node holds every moving address and the other none (no split brain); every connection
 * the steady clients start once it is MASTER succeeds; both streams are still open, unreset, and answered by the
 * same real server (IPVS connection sync); and after a settling window no VRRP state changes (no flapping). The
 * failover time and the failed requests are printed as diagnostics, not asserted: the test times nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { configHash } from '../canonical.ts';
import { sh } from '../l4/testing/lab.ts';
import { createHaLab, type HaLab } from './testing/ha-lab.ts';
import { addressesOf, haOf as ha, labConfig as config, move, MOVING, noFlapping, settled, until, went } from './testing/pair-checks.ts';

/** Listens on argv[1]:8443 and says so, or prints the error code. */
const LISTEN =
  "require('net').createServer().listen(8443, process.argv[1], function () { console.log('listening on ' + process.argv[1]); this.close(); }).on('error', (e) => console.log(e.code))";

/**
 * HA off on the standby: keepalived stops and the engine brings every address up itself (rtnetlink, recorded as its
 * own in l4-owned.json); on again: they are keepalived's once more, and the standby holds none.
 */
async function offAndOn(lab: HaLab, on: ReturnType<typeof config>): Promise<void> {
  const off = config({ ...on.ha, isEnabled: false });
  assert.equal((await lab.d2.client.apply(3, configHash(off), off)).ok, true);
  const d2Off = await ha(lab.d2);
  assert.deepEqual([d2Off.isEnabled, d2Off.keepalived.isRunning], [false, false]);
  assert.deepEqual(addressesOf('d2', MOVING), MOVING, 'the engine holds every address itself with HA off');
  assert.deepEqual(
    JSON.parse(fs.readFileSync(path.join(lab.d2.dataDir, 'l4-owned.json'), 'utf8'))
      .vips.map((v: { address: string }) => v.address)
      .sort(),
    MOVING,
  );
  assert.equal((await lab.d2.client.apply(4, configHash(on), on)).ok, true);
  await settled(lab.d1, lab.d2);
  assert.deepEqual(addressesOf('d2', MOVING), [], 'HA on again: the standby holds none');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(lab.d2.dataDir, 'l4-owned.json'), 'utf8')).vips, []);
}

// It builds bridges and namespaces: only inside the throwaway test kernel (scripts/kernel/init.sh sets this), never on
// the machine that runs the unit tests (engine/ha/*.test.ts matches this file too).
const skip = process.env.FULCRUM_IN_TEST_KERNEL !== '1' && 'runs inside the test kernel: scripts/kernel/run.sh engine/ha/ha.kernel.test.ts';

test('HA pair: kill, planned move, link cut and restore; no split brain, no flapping, streams survive', { timeout: 300_000, skip }, async (t) => {
  const lab = await createHaLab('/tmp');
  try {
    const v1 = config();
    for (const d of [lab.d1, lab.d2]) {
      const r = await d.client.apply(1, configHash(v1), v1);
      assert.deepEqual(
        r.results.map((x) => `${x.name} ${x.status}`),
        ['dr-web programmed', 'nat-web programmed'],
        JSON.stringify(r),
      );
    }
    await settled(lab.d1, lab.d2);
    const [s1, s2] = await Promise.all([ha(lab.d1), ha(lab.d2)]);
    assert.deepEqual([s1.node, s2.node, s1.instances.map((i) => `${i.name} ${i.virtualRouterId}`)], ['lb1', 'lb2', ['fulcrum_eth0 51', 'fulcrum_eth1 52']]);
    assert.deepEqual(s1.sysctls, { 'net.ipv4.ip_nonlocal_bind': '1', 'net.ipv6.ip_nonlocal_bind': '1' });
    // ip_nonlocal_bind: a listener on a VIP the standby does not hold (layer 7's case) starts anyway.
    assert.equal(sh('ip', 'netns', 'exec', 'd2', process.execPath, '-e', LISTEN, '172.16.0.10').trim(), 'listening on 172.16.0.10');

    // The long-lived streams, and their connections synced to the standby before anything moves.
    const dr = await lab.streams.ask<{ id: number }>({ op: 'stream-open', host: '10.0.0.10', port: 9000, gapMs: 50 });
    const nat = await lab.streams.ask<{ id: number }>({ op: 'stream-open', host: '172.16.0.10', port: 9000, gapMs: 50 });
    await until('both streams synced to d2', () => lab.connections('d2', 9000).length === 2);
    const streams = [dr.id, nat.id];

    // 1. kill: a silent master (the VRRP process first, so it cannot send its priority-0 goodbye). The main process
    // is stopped before that: running, it restarts a VRRP child that dies, and on one CPU it may do so between the
    // two kills, leaving an orphan keepalived behind (which the engine then finds and stops: another act).
    const [mainPid, vrrpPid] = lab.d1.keepalivedPids();
    const killedAt = await move(
      t,
      lab,
      'kill (SIGKILL keepalived on d1)',
      lab.d2,
      lab.d1,
      streams,
      () => {
        process.kill(mainPid, 'SIGSTOP');
        process.kill(vrrpPid, 'SIGKILL');
        process.kill(mainPid, 'SIGKILL');
      },
      ['stopped', 'backup'],
    );
    // d1's engine starts keepalived again; it comes back BACKUP and stays so (nopreempt).
    await until('d1 keepalived restarted and BACKUP', async () => {
      const s = await ha(lab.d1);
      return s.keepalived.restarts === 1 && s.role === 'backup' && s;
    });
    await settled(lab.d2, lab.d1);
    await noFlapping(lab, 'after the kill');
    went(lab.d1, killedAt, ['MASTER→STOP', 'STOP→BACKUP'], 'kill');
    went(lab.d2, 0, ['INIT→BACKUP', 'BACKUP→MASTER'], 'kill');

    // 2. planned: preemption on, by an apply; keepalived reloads in place and d1 preempts after 2 s.
    const v2 = config({ preempt: true, preemptDelaySeconds: 2 });
    const pids = await Promise.all([lab.d1, lab.d2].map(async (d) => (await ha(d)).keepalived.pid));
    const plannedAt = await move(t, lab, 'planned (preempt on, reload)', lab.d1, lab.d2, streams, async () => {
      for (const d of [lab.d1, lab.d2]) assert.equal((await d.client.apply(2, configHash(v2), v2)).ok, true);
    });
    for (const [i, d] of [lab.d1, lab.d2].entries()) {
      const k = (await ha(d)).keepalived;
      assert.deepEqual([k.pid, k.reloads], [pids[i], 1], `${d.name}: reloaded in place (SIGHUP), not restarted`);
    }
    await noFlapping(lab, 'after the planned move');
    went(lab.d1, plannedAt, ['BACKUP→MASTER'], 'planned');
    went(lab.d2, plannedAt, ['MASTER→BACKUP'], 'planned');

    // 3. cut: d1's HA link loses carrier.
    const cutAt = await move(t, lab, 'link cut (d1 eth0 down)', lab.d2, lab.d1, streams, () => lab.setLink('d1', false), ['fault']);
    await noFlapping(lab, 'during the cut');
    went(lab.d1, cutAt, ['MASTER→FAULT'], 'cut');
    went(lab.d2, cutAt, ['BACKUP→MASTER'], 'cut');

    // 4. restore: FAULT → BACKUP, then MASTER again after the preemption delay.
    const restoredAt = await move(t, lab, 'restore (d1 eth0 up, preempts after 2 s)', lab.d1, lab.d2, streams, () => lab.setLink('d1', true));
    await noFlapping(lab, 'after the restore');
    went(lab.d1, restoredAt, ['FAULT→BACKUP', 'BACKUP→MASTER'], 'restore');
    went(lab.d2, restoredAt, ['MASTER→BACKUP'], 'restore');

    await offAndOn(lab, v2);
  } catch (e) {
    for (const d of [lab.d1, lab.d2])
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
