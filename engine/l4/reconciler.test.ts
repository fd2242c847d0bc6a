/**
 * The reconciler's bookkeeping against an in-memory kernel (the real kernel is in *.kernel.test.ts): depths, scope,
 * write-ahead ownership, refusals, out-of-band changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecResult, IpvsClient, ReadBack } from './client.ts';
import type { Command } from './codec.ts';
import type { DesiredService } from './desired.ts';
import { kernelError } from './kernel-errors.ts';
import { destinationKey, serviceKey, type ObservedService, type Service, type ServiceId } from './model.ts';
import { Ownership } from './ownership.ts';
import { Reconciler } from './reconciler.ts';

class FakeKernel {
  table = new Map<string, ObservedService>();
  mutations = 0;
  reads = 0;
  refuse: (c: Command) => boolean = () => false;
  onExec: (c: Command) => void = () => {};
  private clone = (s: ObservedService): ObservedService => ({ ...s, destinations: s.destinations.map((d) => ({ ...d })) });

  async exec(cmds: readonly Command[]): Promise<ExecResult[]> {
    return cmds.map((c) => {
      this.mutations++;
      this.onExec(c);
      if (this.refuse(c)) return { command: c, ok: false, errno: 'EINVAL', error: kernelError(c, 22) };
      const k = 'service' in c && c.service ? serviceKey(c.service) : '';
      const s = this.table.get(k);
      // As the kernel answers (the client already treats EEXIST on add and ESRCH/ENOENT on delete as success).
      if ((c.cmd === 'set-service' || c.cmd === 'new-dest' || c.cmd === 'set-dest') && !s)
        return { command: c, ok: false, errno: 'ESRCH', error: kernelError(c, 3) };
      if (c.cmd === 'set-dest' && !s!.destinations.some((d) => destinationKey(d) === destinationKey(c.destination)))
        return { command: c, ok: false, errno: 'ENOENT', error: kernelError(c, 2) };
      switch (c.cmd) {
        case 'new-service':
          if (!s) this.table.set(k, { ...c.service, destinations: [] } as ObservedService);
          break;
        case 'set-service':
          if (s) Object.assign(s, c.service);
          break;
        case 'del-service':
          this.table.delete(k);
          break;
        case 'new-dest':
        case 'set-dest':
          if (s)
            s.destinations = [
              ...s.destinations.filter((d) => destinationKey(d) !== destinationKey(c.destination)),
              { ...c.destination, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0 },
            ];
          break;
        case 'del-dest':
          if (s) s.destinations = s.destinations.filter((d) => destinationKey(d) !== destinationKey(c.destination));
          break;
      }
      return { command: c, ok: true };
    });
  }
  async table_(only?: ReadonlySet<string>) {
    this.reads++;
    return [...this.table.values()].map(this.clone).map((s) => (!only || only.has(serviceKey(s)) ? (this.reads++, s) : { ...s, destinations: [] }));
  }
  async service(id: ServiceId) {
    this.reads += 2;
    const s = this.table.get(serviceKey(id));
    return s ? this.clone(s) : undefined;
  }
  client(): IpvsClient {
    const self = this;
    return {
      get mutations() {
        return self.mutations;
      },
      exec: (c: readonly Command[]) => self.exec(c),
      // As IpvsClient's: the changes, then the reads.
      execAndRead: async (c: readonly Command[], back: ReadBack) => {
        const results = await self.exec(c);
        if ('summary' in back) return { results, observed: (await self.table_(back.summary)).filter((s) => back.summary.has(serviceKey(s))) };
        const got = await Promise.all(back.services.map((id) => self.service(id)));
        return { results, observed: got.filter((s) => !!s) };
      },
      table: (only?: ReadonlySet<string>) => self.table_(only),
      tableSummary: (only?: ReadonlySet<string>) => self.table_(only),
      service: (id: ServiceId) => self.service(id),
    } as unknown as IpvsClient;
  }
}

const svc = (port: number): Service =>
  ({ family: 4, protocol: 'tcp', address: '192.0.2.1', port, scheduler: 'wlc', flags: 0, timeout: 0, netmaskPrefix: 32, peName: '' }) as Service;
const want = (port: number, weights: number[]): DesiredService => ({
  service: svc(port),
  destinations: weights.map((w, i) => ({ address: `10.0.0.${i + 1}`, port, forward: 'masq', weight: w, upperThreshold: 0, lowerThreshold: 0 })),
  virtualService: `vs${port}`,
  realServers: new Map(),
});
const table = (n: number, w = 100) => Array.from({ length: n }, (_, i) => want(1000 + i, [w, w, w, w]));
const setup = () => {
  const k = new FakeKernel();
  const own = new Ownership(fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-rec-')));
  return { k, own, r: new Reconciler(k.client(), own) };
};

test('reconciler: first apply is full; a weight change after it changes and re-reads only that service', async () => {
  const { k, r } = setup();
  const d = table(100);
  const first = await r.reconcile(d);
  assert.deepEqual([first.depth, first.operations], ['full', 500]);
  d[42] = want(1042, [100, 7, 100, 100]);
  const reads = k.reads;
  const second = await r.reconcile(d);
  assert.deepEqual([second.depth, second.operations, second.reads], ['incremental', 1, 2]);
  assert.equal(k.reads - reads, 2, 'planned from the confirmed state; GET_SERVICE + GET_DEST once, to confirm');
  assert.equal(k.table.get(serviceKey(svc(1042)))!.destinations.find((x) => x.address === '10.0.0.2')!.weight, 7);
  const third = await r.reconcile(d);
  assert.deepEqual([third.operations, third.reads], [0, 0], 'nothing changed, nothing read');
});

test('reconciler: ownership is recorded before the kernel is changed', async () => {
  const { k, own, r } = setup();
  const seen: boolean[] = [];
  k.onExec = (c) => {
    if (c.cmd === 'new-service') seen.push(JSON.parse(fs.readFileSync(own.file, 'utf8')).services.includes(serviceKey(c.service)));
  };
  await r.reconcile(table(3));
  assert.deepEqual(seen, [true, true, true]);
});

test('reconciler: a refused change is reported, not remembered, and retried from a fresh read', async () => {
  const { k, r } = setup();
  const d = table(2);
  await r.reconcile(d);
  k.refuse = (c) => c.cmd === 'set-dest';
  d[1] = want(1001, [1, 100, 100, 100]);
  const res = await r.reconcile(d);
  assert.equal(res.errorsByService.get(serviceKey(svc(1001)))![0].errno, 'EINVAL');
  k.refuse = () => false;
  const again = await r.reconcile(d);
  assert.deepEqual([again.depth, again.operations, again.errorsByService.size], ['incremental', 1, 0]);
});

test('reconciler: a change behind its back is repaired by the next full read; services it does not own are left alone', async () => {
  const { k, r } = setup();
  const d = table(3);
  await r.reconcile(d);
  k.table.get(serviceKey(svc(1000)))!.destinations[0].weight = 5; // someone ran ipvsadm -e
  k.table.set(serviceKey(svc(9)), { ...svc(9), destinations: [] } as ObservedService); // someone's own service
  assert.equal((await r.reconcile(d)).operations, 0, 'incremental trusts what it confirmed');
  const full = await r.reconcile(d, { full: true });
  assert.deepEqual([full.depth, full.operations], ['full', 1]);
  assert.equal(k.table.get(serviceKey(svc(1000)))!.destinations[0].weight, 100);
  assert.ok(k.table.has(serviceKey(svc(9))));
  const removed = await r.reconcile([]);
  assert.equal(removed.operations, 3);
  assert.deepEqual([...k.table.keys()], [serviceKey(svc(9))]);
});

test('reconciler: a new service is read before anything is sent, so one held by someone else is refused untouched', async () => {
  const { k, r } = setup();
  const d = table(2);
  await r.reconcile(d);
  k.table.set(serviceKey(svc(7)), { ...svc(7), scheduler: 'rr', destinations: [] } as ObservedService);
  const reads = k.reads;
  const res = await r.reconcile([...d, want(7, [100])]);
  assert.deepEqual([res.operations, res.conflicts], [0, [serviceKey(svc(7))]]);
  assert.equal(k.reads - reads, 2, 'the new service was read first');
  assert.equal(k.table.get(serviceKey(svc(7)))!.scheduler, 'rr');
});

test('reconciler: a service changed behind its back since it was confirmed is planned again from the confirming read', async () => {
  const { k, r } = setup();
  const d = table(3);
  await r.reconcile(d);
  const key = serviceKey(svc(1001));
  // Someone removed a real server by hand (ipvsadm -d); then the operator changes that server's weight.
  const s = k.table.get(key)!;
  s.destinations = s.destinations.filter((x) => x.address !== '10.0.0.2');
  d[1] = want(1001, [100, 7, 100, 100]);
  const reads = k.reads;
  const res = await r.reconcile(d);
  assert.deepEqual([res.errorsByService.size, res.unconfirmed.size], [0, 0], 'the refusal of the stale SET_DEST is not reported');
  assert.equal(res.operations, 2, 'SET_DEST refused with ENOENT, then NEW_DEST');
  assert.equal(k.reads - reads, 4, 'confirm, then confirm again after the repair');
  assert.equal(k.table.get(key)!.destinations.find((x) => x.address === '10.0.0.2')!.weight, 7);
  // Someone added a real server by hand to a service we own; touching the service removes it.
  k.table.get(key)!.destinations.push({
    address: '10.0.0.99',
    port: 1001,
    forward: 'masq',
    weight: 1,
    upperThreshold: 0,
    lowerThreshold: 0,
    activeConnections: 0,
    inactiveConnections: 0,
    persistentConnections: 0,
  } as never);
  d[1] = want(1001, [100, 8, 100, 100]);
  const again = await r.reconcile(d);
  assert.deepEqual([again.errorsByService.size, again.unconfirmed.size, again.operations], [0, 0, 2]);
  assert.deepEqual(
    k.table
      .get(key)!
      .destinations.map((x) => `${x.address}=${x.weight}`)
      .sort(),
    ['10.0.0.1=100', '10.0.0.2=8', '10.0.0.3=100', '10.0.0.4=100'],
  );
  assert.equal((await r.reconcile(d)).operations, 0);
});

test('reconciler: a service deleted behind its back is created again when next touched', async () => {
  const { k, r } = setup();
  const d = table(2);
  await r.reconcile(d);
  k.table.delete(serviceKey(svc(1000)));
  d[0] = want(1000, [100, 100, 100, 5]);
  const res = await r.reconcile(d);
  assert.deepEqual([res.errorsByService.size, res.unconfirmed.size], [0, 0]);
  assert.equal(res.operations, 6, 'SET_DEST refused (no service), then NEW_SERVICE and four NEW_DEST');
  assert.deepEqual(
    k.table.get(serviceKey(svc(1000)))!.destinations.map((x) => x.weight),
    [100, 100, 100, 5],
  );
});

test('reconciler: a trusted service whose change was refused but is in the kernel anyway is confirmed from the fresh read', async () => {
  const { k, r } = setup();
  const d = table(2);
  await r.reconcile(d);
  const key = serviceKey(svc(1001));
  // The kernel answers EINVAL to the SET_DEST yet holds the new weight (someone set it at the same moment): the
  // repair plan is empty, and the service must still be read back, not reported missing.
  k.refuse = (c) => c.cmd === 'set-dest';
  k.onExec = (c) => {
    if (c.cmd === 'set-dest') k.table.get(key)!.destinations.find((x) => x.address === c.destination.address)!.weight = c.destination.weight;
  };
  d[1] = want(1001, [100, 7, 100, 100]);
  const res = await r.reconcile(d);
  assert.deepEqual([res.errorsByService.size, [...res.unconfirmed]], [0, []]);
  k.refuse = () => false;
  k.onExec = () => {};
  assert.equal((await r.reconcile(d)).operations, 0, 'confirmed: nothing to do next time');
});
