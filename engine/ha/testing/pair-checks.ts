/**
 * What the HA kernel tests assert after the pair moves, over the lab of ha-lab.ts: the new active node holds every
 * moving address and the other none (no split brain), connections started after the takeover succeed and reach
 * both real servers, the long-lived streams are still open, unreset and on one real server (IPVS connection sync),
 * and no VRRP state changes during a settling window (no flapping). Failover figures are printed as diagnostics,
 * never asserted: the tests time nothing. The same checks as ha.kernel.test.ts, shared by handover.kernel.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ConfigSchema } from '../../config/index.ts';
import type { HaStatus } from '../../api-types.ts';
import { sh } from '../../l4/testing/lab.ts';
import type { Director, HaLab } from './ha-lab.ts';

/** The DR VIP, the real servers' floating gateway and the NAT VIP: everything that moves with the active node. */
export const MOVING = ['10.0.0.1', '10.0.0.10', '172.16.0.10'];
/** Eight adverts (4 s at 0.5 s): a pair that is going to flap does it within this. */
export const SETTLE_ADVERTS = 8;

const servers = [
  { name: 'r1', address: '10.0.0.2' },
  { name: 'r2', address: '10.0.0.3' },
];
/** The lab's configuration: a DR and a NAT service, the floating gateway, lb1 (150) over lb2 (100); `ha` overrides. */
export const labConfig = (ha: Record<string, unknown> = {}) =>
  ConfigSchema.parse({
    virtualServices: [
      {
        name: 'dr-web',
        layer: 4,
        mode: 'dr',
        address: '10.0.0.10',
        ports: [80, 9000],
        interface: 'eth0',
        scheduler: 'rr',
        healthCheck: { type: 'none' },
        realServers: servers,
      },
      {
        name: 'nat-web',
        layer: 4,
        mode: 'nat',
        address: '172.16.0.10',
        ports: [80, 9000],
        interface: 'eth1',
        scheduler: 'rr',
        healthCheck: { type: 'none' },
        realServers: servers,
      },
    ],
    floatingIps: [{ address: '10.0.0.1', prefixLength: 24, interface: 'eth0' }],
    ha: {
      interface: 'eth0',
      virtualRouterId: 51,
      nodes: [
        { name: 'lb1', address: '10.0.0.11', priority: 150 },
        { name: 'lb2', address: '10.0.0.12', priority: 100 },
      ],
      ...ha,
    },
  });

/** A deadline, not a measure: the condition must come true, and 20 s is far beyond any VRRP timer here. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`not within ${ms / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const haOf = async (d: Director): Promise<HaStatus> => (await d.client.status()).ha!;
export const held = (s: HaStatus) => s.instances.flatMap((i) => i.addresses.filter((a) => a.isHeld).map((a) => a.address)).sort();
/** Which of `wanted` are on any interface of a director's namespace, read with ip(8). */
export const addressesOf = (d: string, wanted: string[]) => wanted.filter((a) => sh('ip', 'netns', 'exec', d, 'ip', '-o', 'addr', 'show').includes(` ${a}/`));

/** `active` is MASTER holding every moving address with the master sync daemon; `standby` holds none and syncs as backup. */
export async function settled(active: Director, standby: Director, standbyRoles: HaStatus['role'][] = ['backup']): Promise<void> {
  await until(`${active.name} active and ${standby.name} ${standbyRoles.join(' or ')}`, async () => {
    const [a, s] = await Promise.all([haOf(active), haOf(standby)]);
    return (
      a.role === 'master' &&
      standbyRoles.includes(s.role) &&
      held(a).join() === MOVING.join() &&
      held(s).length === 0 &&
      a.syncDaemon.running.map((d) => d.state).join() === 'master' &&
      s.syncDaemon.running.map((d) => d.state).join() === 'backup'
    );
  });
}

interface Stream {
  sent: number;
  received: number;
  servers: string[];
  isOpen: boolean;
  error: string | null;
  maxGapMs: number;
}
type Log = { at: number; body?: string; error?: string }[];

/**
 * Moves the pair with `act` under both steady clients: waits until `to` is active, then until 20 more connections
 * per service started after that; prints the figures and asserts that those connections and the streams are fine.
 * Returns when it acted, on the test process's clock (for went()).
 */
export async function move(
  t: { diagnostic(s: string): void },
  lab: HaLab,
  label: string,
  to: Director,
  from: Director,
  streams: number[],
  act: () => void | Promise<void>,
  fromRoles: HaStatus['role'][] = ['backup'],
): Promise<number> {
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
  const master = to.events.find((e) => e.kind === 'vrrp' && e.state === 'MASTER' && e.seenAt >= actedAt);
  // A cut link is a fault only once the old node's kernel has taken the carrier away: that moment is its FAULT (on the
  // same machine's clock), so the figure after it leaves out the time spent starting ip(8) in the test kernel.
  const fault = from.events.find((e) => e.kind === 'vrrp' && e.state === 'FAULT' && e.seenAt >= actedAt);
  const afterFault = master && fault ? `, ${Date.parse(master.at) - Date.parse(fault.at)} ms after ${from.name} went FAULT` : '';
  const marks = await Promise.all(clients.map((c) => c.ask<{ at: number }>({ op: 'mark' })));
  const logs = await Promise.all(clients.map((c, i) => c.ask<{ log: Log }>({ op: 'steady-stop', after: marks[i].at, min: 20 })));
  const after = await Promise.all(streams.map((id) => lab.streams.ask<Stream>({ op: 'stream-check', id })));
  const figures = ['dr', 'nat'].map((svc, i) => {
    const log = logs[i].log;
    const failed = log.filter((r) => r.error).length;
    let gap = 0;
    let lastOk = log[0]?.at ?? 0;
    for (const r of log)
      if (r.body) {
        gap = Math.max(gap, r.at - lastOk);
        lastOk = r.at;
      }
    return `${svc}: ${failed} of ${log.length} requests failed, longest gap ${Math.round(gap)} ms`;
  });
  t.diagnostic(
    `${label}: ${to.name} MASTER ${master ? Date.parse(master.at) - actedAtWall : '?'} ms after the act${afterFault}; ${figures.join('; ')}; streams (DR, NAT) stalled at most ${after.map((s) => s.maxGapMs).join(' and ')} ms`,
  );
  logs.forEach((l, i) => {
    const later = l.log.filter((r) => r.at > marks[i].at);
    assert.ok(later.length >= 20, `${label}: 20 connections after the takeover (${later.length})`);
    assert.deepEqual(
      later.filter((r) => !r.body),
      [],
      `${label}: every connection started after the takeover succeeded`,
    );
    assert.deepEqual([...new Set(later.map((r) => r.body!.split(' ')[0]))].sort(), ['r1', 'r2'], `${label}: and reached both real servers`);
  });
  after.forEach((s, i) => {
    assert.deepEqual([s.isOpen, s.error], [true, null], `${label}: stream ${i} still open, not reset`);
    assert.ok(s.received > before[i].received, `${label}: stream ${i} answered after the move (${before[i].received} → ${s.received})`);
    assert.equal(s.servers.length, 1, `${label}: stream ${i} stayed on one real server (${s.servers.join(', ')})`);
  });
  return actedAt;
}

/** Both instances (they move together: one sync group) went through exactly `steps` since `since` (none: []). */
export function went(d: Director, since: number, steps: string[], label: string): void {
  const by: Record<string, string[]> = {};
  for (const x of d.transitions(since)) {
    const [instance, step] = x.split(' ');
    (by[instance] ??= []).push(step);
  }
  assert.deepEqual(by, steps.length ? { fulcrum_eth0: steps, fulcrum_eth1: steps } : {}, `${label}: ${d.name}'s VRRP transitions`);
}

type VrrpCounters = Record<string, { received: number; sent: number; becameMaster: number; releasedMaster: number }>;
const STATS_FILE = '/tmp/keepalived.stats';
let statsQueue: Promise<unknown> = Promise.resolve();

/** keepalived's stats file, per instance; undefined until the last instance's block is written out whole. */
export function parseVrrpStats(text: string): VrrpCounters | undefined {
  const blocks = text.split(/^VRRP Instance: /m).slice(1);
  if (blocks.length === 0 || !/Priority Zero:\n\s+Received: \d+\n\s+Sent: \d+\n/.test(blocks[blocks.length - 1])) return undefined;
  const out: VrrpCounters = {};
  for (const b of blocks) {
    const n = (re: RegExp) => Number(re.exec(b)?.[1] ?? NaN);
    out[b.slice(0, b.indexOf('\n'))] = {
      received: n(/Advertisements:\n\s+Received: (\d+)/),
      sent: n(/Advertisements:\n\s+Received: \d+\n\s+Sent: (\d+)/),
      becameMaster: n(/Became master: (\d+)/),
      releasedMaster: n(/Released master: (\d+)/),
    };
  }
  return out;
}

/**
 * keepalived's own counters on one node: SIGUSR2 (its STATS signal) makes it write /tmp/keepalived.stats. The two
 * nodes of the lab share that file, so they are asked one at a time.
 */
export function vrrpCounters(d: Director): Promise<VrrpCounters> {
  const run = statsQueue.then(() => {
    fs.rmSync(STATS_FILE, { force: true });
    process.kill(d.keepalivedPids()[0], 'SIGUSR2');
    return until(`${d.name}'s keepalived to write its counters`, () => fs.existsSync(STATS_FILE) && parseVrrpStats(fs.readFileSync(STATS_FILE, 'utf8')));
  });
  statsQueue = run.catch(() => undefined);
  return run;
}

/**
 * No VRRP change on either node while the active node sends SETTLE_ADVERTS adverts on every instance: the window is
 * clocked by the protocol (keepalived's own sent counters), not by a sleep, and the nodes' became/released-master
 * counters must not move in it either.
 */
export async function noFlapping(lab: HaLab, label: string): Promise<void> {
  const from = performance.now();
  const nodes = [lab.d1, lab.d2];
  const before = await Promise.all(nodes.map(vrrpCounters));
  const sent = (c: VrrpCounters[], i: string) => c.reduce((sum, x) => sum + (x[i]?.sent ?? 0), 0);
  const after = await until(`${SETTLE_ADVERTS} adverts on every instance (${label})`, async () => {
    const now = await Promise.all(nodes.map(vrrpCounters));
    return Object.keys(before[0]).every((i) => sent(now, i) - sent(before, i) >= SETTLE_ADVERTS) && now;
  });
  assert.deepEqual([lab.d1.transitions(from), lab.d2.transitions(from)], [[], []], `${label}: no state change while ${SETTLE_ADVERTS} adverts went out`);
  const masters = (c: VrrpCounters[]) => c.map((x) => Object.entries(x).map(([i, v]) => `${i} became ${v.becameMaster} released ${v.releasedMaster}`));
  assert.deepEqual(masters(after), masters(before), `${label}: keepalived's master counters did not move`);
}
