/**
 * A virtual service is programmed whole or not at all, and removals are reported by name. Both rules sit between
 * the data plane and the reconciler, which knows IPVS services but not what a virtual service is made of.
 *
 * Whole or nothing. `protocol: "both"` (and a port range) gives one virtual service several IPVS services. When the
 * kernel refuses one of them (another program holds UDP :53, a module is missing), keeping the others would leave a
 * half that serves while the result says "failed". So the IPVS services this apply created for a virtual service
 * that failed are removed again (a second, full reconcile without them): a new `both` service whose UDP half is
 * refused leaves neither half in the kernel. IPVS services the virtual service already had before this apply are
 * left as they were: they were serving, and taking them down because an added port or half was refused would turn
 * one refusal into an outage. A failed change to such a service (a SET refused) is reported, and the service keeps
 * the settings the kernel kept.
 *
 * Removals. A virtual service deleted from the configuration is reported "removed" by the name its IPVS services were
 * labelled with in the ownership record, so a fresh `fulcrumctl apply` (which never saw the previous configuration)
 * says what it took out, not only what it kept.
 */
import type { ExecResult } from './client.ts';
import { desiredKey, type DesiredService } from './desired.ts';
import { serviceKey } from './model.ts';
import type { ReconcileResult } from './reconciler.ts';

/** Names of the virtual services of `services` that failed in `rec`, and the keys of the IPVS services this apply
 * created for them (to be removed again). */
export function incompleteServices(services: readonly DesiredService[], rec: ReconcileResult): { names: Set<string>; created: Set<string> } {
  const created = new Set<string>();
  for (const r of rec.results) if (r.ok && r.command.cmd === 'new-service') created.add(serviceKey(r.command.service));
  // Nothing created, nothing to take back (a change to existing services): no walk over every service.
  if (!created.size) return { names: new Set(), created };
  const conflicts = new Set(rec.conflicts);
  const failed = new Set<string>();
  for (const s of services) {
    const k = desiredKey(s);
    if (conflicts.has(k) || rec.errorsByService.has(k) || rec.unconfirmed.has(k)) failed.add(s.virtualService);
  }
  const names = new Set<string>();
  const made = new Set<string>();
  for (const s of services) {
    const k = desiredKey(s);
    if (failed.has(s.virtualService) && created.has(k)) {
      names.add(s.virtualService);
      made.add(k);
    }
  }
  return { names, created: made };
}

/** The first reconcile's answer with the second's (the rollback) folded in: its operations counted, its refusals
 * reported, and the removed services no longer counted as unconfirmed. */
export function mergeRollback(first: ReconcileResult, second: ReconcileResult, removed: ReadonlySet<string>): ReconcileResult {
  const opsByService = new Map(first.opsByService);
  for (const [k, n] of second.opsByService) opsByService.set(k, (opsByService.get(k) ?? 0) + n);
  const errorsByService = new Map<string, ExecResult[]>(first.errorsByService);
  for (const [k, e] of second.errorsByService) errorsByService.set(k, [...(errorsByService.get(k) ?? []), ...e]);
  const unconfirmed = new Map([...first.unconfirmed, ...second.unconfirmed].filter(([k]) => !removed.has(k)));
  const timings = { ...first.timings };
  for (const p of Object.keys(timings) as (keyof typeof timings)[]) timings[p] += second.timings[p];
  return {
    depth: first.depth,
    operations: first.operations + second.operations,
    reads: first.reads + second.reads,
    results: [...first.results, ...second.results],
    conflicts: first.conflicts,
    unconfirmed,
    opsByService,
    errorsByService,
    timings,
  };
}

/** The sentence added to a failed virtual service whose new IPVS services were removed again. */
export function rolledBackText(count: number): string {
  return ` Nothing of it was left half-programmed: the ${count === 1 ? 'IPVS service' : `${count} IPVS services`} this apply had created for it ${count === 1 ? 'was' : 'were'} removed again.`;
}

/** Owned IPVS services the configuration no longer asks for, by the virtual service they were labelled with. */
export function labelsOfUnwanted(owned: Iterable<string>, labels: ReadonlyMap<string, string>, wanted: { has(key: string): boolean }): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of owned) if (!wanted.has(k)) out.set(k, labels.get(k) ?? '(unnamed)');
  return out;
}

/** Virtual services whose every IPVS service left the kernel in this apply, with how many: the removed ones to
 * report. `still`: keys still owned after the apply; `configured`: names still in the configuration. */
export function removedByLabel(before: ReadonlyMap<string, string>, still: ReadonlySet<string>, configured: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  const kept = new Set<string>();
  for (const [k, name] of before) if (still.has(k)) kept.add(name);
  for (const [k, name] of before) {
    if (still.has(k) || configured.has(name) || kept.has(name)) continue;
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}
