/**
 * The reconciler: the only caller of the client's changing commands. It reads what the kernel has, asks plan() for
 * the difference, records ownership before changing anything, applies, and re-reads what it touched to confirm.
 *
 * Two reading depths, because "one weight change is one netlink operation" must stay cheap in a 1,000-service table:
 *  - full: dump every service and the destinations of every service we want or own. Used on the first apply after
 *    start (restart = reconcile, not flush: unchanged services get zero operations, so traffic never blips), when
 *    asked, and when the last full read is older than fullEveryMs.
 *  - incremental: compare the desired table with the state confirmed by the previous apply; only services that
 *    differ are planned, applied and re-read (GET_SERVICE + GET_DEST of each). Changes made behind the engine's back
 *    are caught when the engine next touches that service, or by the next full read (default within 60 s).
 *
 * Round trips of an incremental apply that changes one service we confirmed before (each is one scheduler wake-up;
 * GET_SERVICE and GET_DEST go out together on two reading sockets, so a "read" is one wait, not two):
 *  1. write: the changing messages, planned from the state the previous apply confirmed; one datagram, one ACK.
 *  2. confirm: GET of the same service; plan() over it must be empty, or the service is reported unconfirmed.
 * Both are one call to the IPVS helper process (execAndRead), so the engine waits for the helper once per apply, not
 * twice; for one service the helper sends both steps in one datagram, one sendmsg (client.ts changeAndReadOne).
 * Why no read before the write: the confirm is that read, taken after the write. If someone changed the service
 * behind our back since we confirmed it, either the kernel refuses part of the stale plan (a destination gone: SET_DEST
 * answers ENOENT) or the confirm shows a difference (a destination added); then the service is planned, written and
 * confirmed once more from that fresh read (step 4b), and its refusals of the stale plan are not reported. The
 * outcome is the same as reading first; only a service changed behind our back pays the extra round trips. A service
 * we have not confirmed (a new one, or one that failed before) is still read first: it may be someone else's, and we
 * must see that before sending anything.
 * No dump, and no ownership write unless ownership changed (Ownership.save() compares change counters).
 */
import { performance } from 'node:perf_hooks';
import type { ExecResult, IpvsPort, ReadBack } from './client.ts';
import type { Command } from './codec.ts';
import { desiredKey, type DesiredService } from './desired.ts';
import { destinationKey, sameDestinationSettings, sameServiceSettings, serviceKey, type ObservedService, type ServiceId } from './model.ts';
import type { Ownership } from './ownership.ts';
import { plan } from './plan.ts';

export interface ReconcileResult {
  depth: 'full' | 'incremental';
  /** Changing netlink messages sent. */
  operations: number;
  /** Reading requests sent (dumps and gets). */
  reads: number;
  results: ExecResult[];
  /** Desired service keys held in the kernel by someone else. */
  conflicts: string[];
  /** Service key → what still differs after applying. */
  unconfirmed: Map<string, string>;
  /** Service key → operations sent for it. */
  opsByService: Map<string, number>;
  /** Service key → errors of its operations. */
  errorsByService: Map<string, ExecResult[]>;
  /** Milliseconds per phase: read the kernel, plan, send changes and read them back (exec), compare and remember. */
  timings: { scope: number; read: number; plan: number; exec: number; confirm: number };
}

export interface ReconcilerOptions {
  /** Full read at least this often (ms). 60 s: bounds how long an out-of-band ipvsadm change goes unnoticed. */
  fullEveryMs?: number;
}

const commandServiceKey = (c: Command): string | undefined => ('service' in c && c.service ? serviceKey(c.service) : undefined);

export class Reconciler {
  private confirmed: Map<string, ObservedService> | undefined;
  /** Per confirmed service, the desired form it was confirmed against. */
  private readonly confirmedAgainst = new Map<string, DesiredService>();
  private lastFullAt = 0;
  private readonly fullEveryMs: number;

  constructor(
    private readonly client: IpvsPort,
    private readonly ownership: Ownership,
    opts: ReconcilerOptions = {},
  ) {
    this.fullEveryMs = opts.fullEveryMs ?? 60_000;
  }

  /** Forget the confirmed state (next reconcile reads everything). */
  invalidate(): void {
    this.confirmed = undefined;
  }

  async reconcile(desired: readonly DesiredService[], opts: { full?: boolean } = {}): Promise<ReconcileResult> {
    const t0 = performance.now();
    const isFull = opts.full || !this.confirmed || Date.now() - this.lastFullAt > this.fullEveryMs;
    const wantKeys = this.wanted(desired);
    const owned = this.ownership.services;
    let reads = 0;
    const timings = { scope: 0, read: 0, plan: 0, exec: 0, confirm: 0 };
    // Desired services by key, in the keys' order: O(keys), not a pass over every desired service.
    const pick = (keys: Iterable<string>): DesiredService[] => {
      const out: DesiredService[] = [];
      for (const k of keys) {
        const d = wantKeys.get(k);
        if (d) out.push(d);
      }
      return out;
    };
    const readServices = async (keys: Iterable<string>, known: ReadonlyMap<string, ServiceId>): Promise<ObservedService[]> => {
      const list = [...keys];
      const got = await Promise.all(list.map((k) => this.client.service((wantKeys.get(k)?.service ?? known.get(k)) as ServiceId)));
      reads += 2 * list.length;
      return got.filter((s): s is ObservedService => !!s);
    };

    // 1. Read.
    let observed: ObservedService[];
    let scope: Set<string>;
    /** Scoped services planned from the state confirmed by an earlier apply instead of a fresh read. */
    const trusted = new Set<string>();
    if (isFull) {
      observed = await this.client.table(new Set([...wantKeys.keys(), ...owned]));
      reads += 1 + observed.filter((s) => wantKeys.has(serviceKey(s)) || owned.has(serviceKey(s))).length;
      scope = new Set([...wantKeys.keys(), ...observed.map(serviceKey)]);
      // Owned services that vanished (removed by hand, or a crash after recording) are forgotten.
      const present = new Set(observed.map(serviceKey));
      for (const k of [...owned]) if (!present.has(k) && !wantKeys.has(k)) owned.delete(k);
    } else {
      // Scope: services whose desired form changed since the last confirmed apply, new ones, and ones to remove.
      const confirmed = this.confirmed!;
      scope = new Set<string>();
      // Indexed, allocating nothing per service (see wanted()); `kept`: desired keys that are confirmed, so when
      // that is every confirmed key, none of them is to be removed and the confirmed keys need no walk.
      let kept = 0;
      for (let i = 0; i < desired.length; i++) {
        const d = desired[i];
        const k = desiredKey(d);
        if (wantKeys.get(k) !== d) continue; // a key given twice: its last service is the one wanted
        const before = this.confirmedAgainst.get(k);
        if (confirmed.has(k)) kept++;
        if (!confirmed.has(k) || !before || !sameDesired(before, d)) scope.add(k);
      }
      if (kept < confirmed.size) for (const k of confirmed.keys()) if (!wantKeys.has(k)) scope.add(k);
      timings.scope = performance.now() - t0;
      // A service we confirmed is planned from that confirmation; only the others (new ones, which may be someone
      // else's) are read first. See the header for why this is as safe as a read.
      observed = [];
      const unknown: string[] = [];
      for (const k of scope) {
        const c = confirmed.get(k);
        if (c) {
          observed.push(c);
          trusted.add(k);
        } else unknown.push(k);
      }
      if (unknown.length) observed.push(...(await readServices(unknown, confirmed)));
    }

    timings.read = performance.now() - t0 - timings.scope;
    // 2. Plan, within scope.
    const p = plan({ desired: pick(scope), observed, owned });
    const observedIds = new Map<string, ServiceId>(observed.map((s) => [serviceKey(s), s]));

    timings.plan = performance.now() - t0 - timings.scope - timings.read;
    // 3. Record ownership first (write-ahead), then apply; 4. confirm: re-read what was touched (in the same call to
    // the IPVS helper: one round trip, not two); plan again must be empty.
    const touched = new Set(p.opsByService.keys());
    const idOf = (k: string) => (wantKeys.get(k)?.service ?? observedIds.get(k)) as ServiceId;
    const before = this.client.mutations;
    const results: ExecResult[] = [];
    const errorsByService = new Map<string, ExecResult[]>();
    // Bulk: the service dump (every service setting) plus /proc/net/ip_vs (every destination's forwarding and weight)
    // in two reads, instead of a GET_DEST dump per service. Thresholds and tunnel settings of a bulk change are then
    // confirmed by the kernel's per-message answer only; incremental changes re-read them exactly.
    const isBulk = touched.size > 64;
    let reread = await this.write(
      p.ops,
      new Set(observedIds.keys()),
      results,
      errorsByService,
      isBulk ? { summary: touched } : { services: [...touched].map(idOf) },
    );
    reads += isBulk ? 2 : 2 * touched.size;
    timings.exec = performance.now() - t0 - timings.scope - timings.read - timings.plan;
    let again = plan({ desired: pick(touched), observed: reread, owned });

    // 4b. A service planned from trusted state that the kernel refused, or that still differs, was changed behind
    // our back since we confirmed it: the confirming read is a fresh read of it, so plan, apply and confirm once more
    // from that. Its first refusals were answers to a stale plan and are not reported.
    const stale = new Set<string>();
    for (const k of trusted) if (errorsByService.has(k) || again.opsByService.has(k)) stale.add(k);
    if (stale.size) {
      for (const k of stale) errorsByService.delete(k);
      const fresh = reread.filter((s) => stale.has(serviceKey(s)));
      const p2 = plan({ desired: pick(stale), observed: fresh, owned });
      for (const [k, n] of p2.opsByService) p.opsByService.set(k, (p.opsByService.get(k) ?? 0) + n);
      const reread2 = await this.write(p2.ops, new Set(fresh.map(serviceKey)), results, errorsByService, { services: [...stale].map(idOf) });
      reads += 2 * stale.size;
      reread = [...reread.filter((s) => !stale.has(serviceKey(s))), ...reread2];
      again = plan({ desired: pick(touched), observed: reread, owned });
    }
    const operations = this.client.mutations - before;
    const unconfirmed = new Map<string, string>();
    for (const c of again.ops) {
      const k = commandServiceKey(c)!;
      if (errorsByService.has(k)) continue;
      unconfirmed.set(k, [unconfirmed.get(k), describeDifference(c)].filter(Boolean).join('; '));
    }

    // 5. Remember the confirmed state.
    // Updated in place (no awaits from here on): copying 1,000 entries per apply was a measurable part of a one-change.
    const next = isFull || !this.confirmed ? new Map<string, ObservedService>() : this.confirmed;
    if (!isFull) for (const k of scope) next.delete(k);
    for (const s of observed) if (owned.has(serviceKey(s))) next.set(serviceKey(s), s);
    for (const k of touched) next.delete(k);
    for (const s of reread) if (owned.has(serviceKey(s))) next.set(serviceKey(s), completeSummary(s, wantKeys.get(serviceKey(s))));
    for (const k of unconfirmed.keys()) next.delete(k);
    for (const k of errorsByService.keys()) next.delete(k);
    this.confirmed = next;
    if (isFull) this.confirmedAgainst.clear();
    // Incremental: only keys in scope, touched, unconfirmed or refused can have left `next` (every other confirmed
    // key is kept as it was), so only those are looked at, not all 1,000.
    else
      for (const keys of [scope, touched, unconfirmed.keys(), errorsByService.keys()]) for (const k of keys) if (!next.has(k)) this.confirmedAgainst.delete(k);
    for (const d of isFull ? wantKeys.values() : pick(scope)) {
      const k = desiredKey(d);
      if (next.has(k)) this.confirmedAgainst.set(k, d);
    }
    if (isFull) this.lastFullAt = Date.now();

    timings.confirm = performance.now() - t0 - timings.scope - timings.read - timings.plan - timings.exec;
    return {
      depth: isFull ? 'full' : 'incremental',
      operations,
      reads,
      results,
      conflicts: p.conflicts,
      unconfirmed,
      opsByService: p.opsByService,
      errorsByService,
      timings,
    };
  }

  /** The last reconcile's desired services by key, kept and updated in place (see wanted()); `seenIn`: per key, the
   * last pass of wanted() that met it. */
  private readonly wantKeys = new Map<string, DesiredService>();
  private readonly seenIn = new Map<string, number>();
  private pass = 0;

  /**
   * Desired services by key (a key given twice keeps its last service). Kept from one reconcile to the next and
   * updated in place: a one-change apply sets one entry instead of building a 1,000-entry map, and its garbage, each
   * time. When keys are left over that are no longer desired, the map is built again.
   */
  wanted(desired: readonly DesiredService[]): ReadonlyMap<string, DesiredService> {
    const m = this.wantKeys;
    const pass = ++this.pass;
    let distinct = 0;
    for (let i = 0; i < desired.length; i++) {
      const k = desiredKey(desired[i]);
      if (this.seenIn.get(k) !== pass) {
        distinct++;
        this.seenIn.set(k, pass);
      }
      if (m.get(k) !== desired[i]) m.set(k, desired[i]);
    }
    if (m.size > distinct) {
      m.clear();
      this.seenIn.clear();
      for (let i = 0; i < desired.length; i++) {
        m.set(desiredKey(desired[i]), desired[i]);
        this.seenIn.set(desiredKey(desired[i]), pass);
      }
    }
    return m;
  }

  /** Send `ops`, recording the services they create as ours first (write-ahead) and forgetting those they delete or
   * failed to create; refusals are collected per service. `present`: keys of services read as existing. Answers what
   * `readBack` read after the changes. */
  private async write(
    ops: readonly Command[],
    present: ReadonlySet<string>,
    results: ExecResult[],
    errorsByService: Map<string, ExecResult[]>,
    readBack: ReadBack,
  ): Promise<ObservedService[]> {
    if (!ops.length) {
      this.ownership.save(); // a full read may have forgotten vanished services
      // Nothing to send, but what was asked for is still read (a repair that found nothing left to do).
      const isNothing = 'services' in readBack ? readBack.services.length === 0 : readBack.summary.size === 0;
      return isNothing ? [] : (await this.client.execAndRead([], readBack)).observed;
    }
    const owned = this.ownership.services;
    for (const c of ops) if (c.cmd === 'new-service') owned.add(serviceKey(c.service));
    this.ownership.save();
    const { results: got, observed } = await this.client.execAndRead(ops, readBack);
    for (const r of got) {
      results.push(r);
      const k = commandServiceKey(r.command)!;
      if (r.ok) {
        if (r.command.cmd === 'del-service') owned.delete(k);
        continue;
      }
      errorsByService.set(k, [...(errorsByService.get(k) ?? []), r]);
      if (r.command.cmd === 'new-service' && !present.has(k)) owned.delete(k);
    }
    this.ownership.save();
    return observed;
  }
}

/** Whether two desired forms of one service ask the same of the kernel (everything plan() compares). Allocates
 * nothing: it runs over every service on every apply. */
function sameDesired(a: DesiredService, b: DesiredService): boolean {
  if (a === b) return true; // the dataplane's DesiredMemo hands back the same object for an unchanged service
  if (!sameServiceSettings(a.service, b.service) || a.destinations.length !== b.destinations.length) return false;
  for (let i = 0; i < a.destinations.length; i++) {
    const x = a.destinations[i];
    const y = b.destinations[i];
    if (x.address !== y.address || x.port !== y.port || !sameDestinationSettings(x, y)) return false;
  }
  return true;
}

/**
 * A summary-read service (procfs.ts) lacks destination thresholds and tunnel settings. For the confirmed-state cache
 * they are taken from what we sent and the kernel accepted without refusal; address, port, forwarding and weight
 * are the kernel's own.
 */
function completeSummary(s: ObservedService, d: DesiredService | undefined): ObservedService {
  if (!s.destinations.some((x) => x.isSummary)) return s;
  const sent = new Map((d?.destinations ?? []).map((x) => [destinationKey(x), x]));
  return {
    ...s,
    destinations: s.destinations.map((x) => {
      const y = sent.get(destinationKey(x));
      if (!x.isSummary || !y) return x;
      return {
        ...x,
        upperThreshold: y.upperThreshold,
        lowerThreshold: y.lowerThreshold,
        tunnelType: y.tunnelType,
        tunnelPort: y.tunnelPort,
        tunnelFlags: y.tunnelFlags,
        isSummary: false,
      };
    }),
  };
}

function describeDifference(c: Command): string {
  switch (c.cmd) {
    case 'new-service':
      return 'the service is missing';
    case 'set-service':
      return 'scheduler or persistence differ';
    case 'del-service':
      return 'a service that should be gone is present';
    case 'new-dest':
      return `real server ${c.destination.address}:${c.destination.port} is missing`;
    case 'set-dest':
      return `real server ${c.destination.address}:${c.destination.port} has other settings`;
    case 'del-dest':
      return `real server ${c.destination.address}:${c.destination.port} should be gone`;
    default:
      return c.cmd;
  }
}
