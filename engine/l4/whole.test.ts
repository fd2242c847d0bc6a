/** whole.ts's rules over a reconciler's answer: which virtual services are undone, and which are reported removed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredService } from './desired.ts';
import { kernelError } from './kernel-errors.ts';
import { serviceKey, type Service } from './model.ts';
import type { ReconcileResult } from './reconciler.ts';
import { incompleteServices, labelsOfUnwanted, removedByLabel, rolledBackText } from './whole.ts';

const svc = (protocol: 'tcp' | 'udp', port: number): Service => ({
  family: 4,
  protocol,
  address: '192.0.2.53',
  port,
  scheduler: 'wlc',
  flags: 0,
  timeout: 0,
  netmaskPrefix: 32,
  peName: '',
});
const want = (vs: string, s: Service): DesiredService => ({ service: s, destinations: [], virtualService: vs, realServers: new Map(), key: serviceKey(s) });
const rec = (over: Partial<ReconcileResult>): ReconcileResult => ({
  depth: 'full',
  operations: 0,
  reads: 0,
  results: [],
  conflicts: [],
  unconfirmed: new Map(),
  opsByService: new Map(),
  errorsByService: new Map(),
  timings: { scope: 0, read: 0, plan: 0, exec: 0, confirm: 0 },
  ...over,
});
const created = (s: Service) => ({ command: { cmd: 'new-service' as const, service: s }, ok: true });
const refused = (s: Service) => {
  const command = { cmd: 'new-service' as const, service: s };
  return { command, ok: false, errno: 'EINVAL', error: kernelError(command, 22) };
};

test('whole or nothing: a both service whose UDP half the kernel refused has its new TCP half undone', () => {
  const tcp = svc('tcp', 53);
  const udp = svc('udp', 53);
  const r = rec({ results: [created(tcp), refused(udp)], errorsByService: new Map([[serviceKey(udp), [refused(udp)]]]) });
  const got = incompleteServices([want('dns', tcp), want('dns', udp), want('web', svc('tcp', 80))], r);
  assert.deepEqual([...got.names], ['dns']);
  assert.deepEqual([...got.created], [serviceKey(tcp)]);
});

test('whole or nothing: a half held by another program undoes the new half; halves that were there before stay', () => {
  const tcp = svc('tcp', 53);
  const udp = svc('udp', 53);
  assert.deepEqual(
    [...incompleteServices([want('dns', tcp), want('dns', udp)], rec({ results: [created(tcp)], conflicts: [serviceKey(udp)] })).created],
    [serviceKey(tcp)],
  );
  // The TCP half was programmed by an earlier apply (no new-service now): it keeps serving, nothing is undone.
  assert.equal(incompleteServices([want('dns', tcp), want('dns', udp)], rec({ conflicts: [serviceKey(udp)] })).created.size, 0);
  // A service that succeeded whole is not touched.
  assert.equal(incompleteServices([want('dns', tcp), want('dns', udp)], rec({ results: [created(tcp), created(udp)] })).created.size, 0);
});

test('removed: owned services no longer wanted, by label; a name still configured or still holding a service is not removed', () => {
  const before = labelsOfUnwanted(
    ['k1', 'k2', 'k3', 'k4'],
    new Map([
      ['k1', 'dns'],
      ['k2', 'dns'],
      ['k3', 'web'],
      ['k4', 'old-web'],
    ]),
    new Set(['k4x']),
  );
  assert.deepEqual(
    [...removedByLabel(before, new Set(), new Set(['web']))],
    [
      ['dns', 2],
      ['old-web', 1],
    ],
  );
  assert.deepEqual(
    [...removedByLabel(before, new Set(['k2']), new Set())],
    [
      ['web', 1],
      ['old-web', 1],
    ],
    'dns still holds k2 (its delete was refused): not removed',
  );
  assert.equal(labelsOfUnwanted(['k9'], new Map(), new Set()).get('k9'), '(unnamed)');
});

test('the undo is said in words, singular and plural', () => {
  assert.match(rolledBackText(1), /the IPVS service this apply had created for it was removed again\.$/);
  assert.match(rolledBackText(3), /the 3 IPVS services this apply had created for it were removed again\.$/);
});
