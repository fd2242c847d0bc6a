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
import { ConfigSchema } from '../config/index.ts';
import { configHash } from '../canonical.ts';
import type { HaStatus } from '../api-types.ts';
import { sh } from '../l4/testing/lab.ts';
import { createHaLab, type Director, type HaLab } from './testing/ha-lab.ts';

const MOVING = ['10.0.0.1', '10.0.0.10', '172.16.0.10'];
/** Listens on argv[1]:8443 and says so, or prints the error code. */
const LISTEN = "require('net').createServer().listen(8443, process.argv[1], function () { console.log('listening on ' + process.argv[1]); this.close(); }).on('error', (e) => console.log(e.code))";

/** Which of `wanted` are on any interface of a director's namespace, read with ip(8). */
const addressesOf = (d: string, wanted: string[]) => wanted.filter((a) => sh('ip', 'netns', 'exec', d, 'ip', '-o', 'addr', 'show').includes(` ${a}/`));
/** Eight adverts at 0.5 s: a pair that is going to flap does it within this. */
const SETTLE_MS = 4000;

const servers = [{ name: 'r1', address: '10.0.0.2' }, { name: 'r2', address: '10.0.0.3' }];
const config = (ha: Record<string, unknown> = {}) => ConfigSchema.parse({
  virtualServices: [
    { name: 'dr-web', layer: 4, mode: 'dr', address: '10.0.0.10', ports: [80, 9000], interface: 'eth0', scheduler: 'rr', healthCheck: { type: 'none' }, realServers: servers },
    { name: 'nat-web', layer: 4, mode: 'nat', address: '172.16.0.10', ports: [80, 9000], interface: 'eth1', scheduler: 'rr', healthCheck: { type: 'none' }, realServers: servers },
  ],
  floatingIps: [{ address: '10.0.0.1', prefixLength: 24, interface: 'eth0' }],
  ha: { interface: 'eth0', virtualRouterId: 51, nodes: [{ name: 'lb1', address: '10.0.0.11', priority: 150 }, { name: 'lb2', address: '10.0.0.12', priority: 100 }], ...ha },
});

/** A deadline, not a measure: the condition must come true, and 20 s is far beyond any VRRP timer here. */
async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`not within ${ms / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ha = async (d: Director): Promise<HaStatus> => (await d.client.status()).ha!;
const held = (s: HaStatus) => s.instances.flatMap((i) => i.addresses.filter((a) => a.isHeld).map((a) => a.address)).sort();

/** `active` is MASTER holding every moving address with the master sync daemon; `standby` holds none and syncs as backup. */
async function settled(active: Director, standby: Director, standbyRoles: HaStatus['role'][] = ['backup']): Promise<void> {
  await until(`${active.name} active and ${standby.name} ${standbyRoles.join(' or ')}`, async () => {
    const [a, s] = await Promise.all([ha(active), ha(standby)]);
    return a.role === 'master' && standbyRoles.includes(s.role) && held(a).join() === MOVING.join() && held(s).length === 0 &&
      a.syncDaemon.running.map((d) => d.state).join() === 'master' && s.syncDaemon.running.map((d) => d.state).join() === 'backup';
  });
}

interface Stream { sent: number; received: number; servers: string[]; isOpen: boolean; error: string | null; maxGapMs: number }
type Log = { at: number; body?: string; error?: string }[];

/**
 * Moves the pair with `act` under both steady clients: waits until `to` is active, then until 20 more connections
 * per service started after that; returns the figures and asserts that those connections and the streams are fine.
 */
async function move(t: { diagnostic(s: string): void }, lab: HaLab, label: string, to: Director, from: Director, streams: number[], act: () => void | Promise<void>, fromRoles: HaStatus['role'][] = ['backup']) {
  const before = await Promise.all(streams.map((id) => lab.streams.ask<Stream>({ op: 'stream-check', id, reset: true })));
  const clients = [lab.drClient, lab.natClient];
  await lab.drClient.ask({ op: 'steady', url: 'http://10.0.0.10/', gapMs: 20 });
  await lab.natClient.ask({ op: 'steady', url: 'http://172.16.0.10/', gapMs: 20 });
  await new Promise((r) => setTimeout(r, 500));
  const actedAt = performance.now();
  const actedAtWall = Date.now();
  await act();
  await settled(to, from, fromRoles);
  // The takeover is complete for the client once its neighbour entries for both VIPs name the new active node (its
  // gratuitous ARP has arrived); connections started before that may still go to the old node's address and are
  // counted in the figures, not asserted on.
  await until(`the client to see ${to.name} for both VIPs`, () => {
    const macs = ['eth0', 'eth1'].map((i) => sh('ip', 'netns', 'exec', to.name, 'cat', `/sys/class/net/${i}/address`).trim());
    const seen = ['10.0.0.10', '172.16.0.10'].map((v) => sh('ip', 'netns', 'exec', 'lab-client', 'ip', 'neigh', 'show', v));
    return seen.every((line, i) => line.includes(macs[i]));
  });
  // When `to`'s engine read MASTER from its FIFO, by the one clock of the test kernel.
  const master = to.events.find((e) => e.kind === 'vrrp' && e.state === 'MASTER' && e.seenAt >= actedAt);
  const marks = await Promise.all(clients.map((c) => c.ask<{ at: number }>({ op: 'mark' })));
  const logs = await Promise.all(clients.map((c, i) => c.ask<{ log: Log }>({ op: 'steady-stop', after: marks[i].at, min: 20 })));
  const after = await Promise.all(streams.map((id) => lab.streams.ask<Stream>({ op: 'stream-check', id })));
  const figures = ['dr', 'nat'].map((svc, i) => {
    const log = logs[i].log;
    const failed = log.filter((r) => r.error).length;
    // The longest stretch without an answer, seen by the client: from the last success before a failure to the next.
    let gap = 0;
    let lastOk = log[0]?.at ?? 0;
    for (const r of log) if (r.body) { gap = Math.max(gap, r.at - lastOk); lastOk = r.at; }
    return `${svc}: ${failed} of ${log.length} requests failed, longest gap ${Math.round(gap)} ms`;
  });
  t.diagnostic(`${label}: ${to.name} MASTER ${master ? Date.parse(master.at) - actedAtWall : '?'} ms after the act; ${figures.join('; ')}; streams (DR, NAT) stalled at most ${after.map((s) => s.maxGapMs).join(' and ')} ms`);
  logs.forEach((l, i) => {
    const later = l.log.filter((r) => r.at > marks[i].at);
    assert.ok(later.length >= 20, `${label}: 20 connections after the takeover (${later.length})`);
    assert.deepEqual(later.filter((r) => !r.body), [], `${label}: every connection started after the takeover succeeded`);
    assert.deepEqual([...new Set(later.map((r) => r.body!.split(' ')[0]))].sort(), ['r1', 'r2'], `${label}: and reached both real servers`);
  });
  after.forEach((s, i) => {
    assert.deepEqual([s.isOpen, s.error], [true, null], `${label}: stream ${i} still open, not reset`);
    assert.ok(s.received > before[i].received, `${label}: stream ${i} answered after the move (${before[i].received} → ${s.received})`);
    assert.equal(s.servers.length, 1, `${label}: stream ${i} stayed on one real server (${s.servers.join(', ')})`);
  });
  return actedAt;
}

/** Both instances (they move together: one sync group) went through exactly `steps` since `since`. */
function went(d: Director, since: number, steps: string[], label: string): void {
  const by: Record<string, string[]> = {};
  for (const x of d.transitions(since)) {
    const [instance, step] = x.split(' ');
    (by[instance] ??= []).push(step);
  }
  assert.deepEqual(by, { fulcrum_eth0: steps, fulcrum_eth1: steps }, `${label}: ${d.name}'s VRRP transitions`);
}

/** No VRRP change on either node during a settling window. */
async function noFlapping(lab: HaLab, label: string): Promise<void> {
  const from = performance.now();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  assert.deepEqual([lab.d1.transitions(from), lab.d2.transitions(from)], [[], []], `${label}: no state change in ${SETTLE_MS / 1000} s`);
}

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
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(lab.d2.dataDir, 'l4-owned.json'), 'utf8')).vips.map((v: { address: string }) => v.address).sort(), MOVING);
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
      assert.deepEqual(r.results.map((x) => `${x.name} ${x.status}`), ['dr-web programmed', 'nat-web programmed'], JSON.stringify(r));
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
    const killedAt = await move(t, lab, 'kill (SIGKILL keepalived on d1)', lab.d2, lab.d1, streams, () => {
      process.kill(mainPid, 'SIGSTOP');
      process.kill(vrrpPid, 'SIGKILL');
      process.kill(mainPid, 'SIGKILL');
    }, ['stopped', 'backup']);
    // d1's engine starts keepalived again; it comes back BACKUP and stays so (nopreempt).
    await until('d1 keepalived restarted and BACKUP', async () => { const s = await ha(lab.d1); return s.keepalived.restarts === 1 && s.role === 'backup' && s; });
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
    for (const d of [lab.d1, lab.d2]) for (const l of d.log().split('\n').filter((x) => x && !x.includes('gratuitous ARP')).slice(-30)) t.diagnostic(`${d.name}: ${l}`);
    throw e;
  } finally {
    await lab.cleanup();
  }
});
