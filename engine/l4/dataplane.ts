/**
 * The Layer 4 DataPlane (engine/dataplane.ts) on IPVS. Per apply, in this order (so the first packet of a new
 * service already finds its VIP and its SNAT rule):
 *   sysctls (forwarding, vs/conntrack) → VIP addresses (rtnetlink) → nftables table (marks, SNAT) → IPVS (reconciler)
 * Where the kernel has no IPVS it answers `not-programmed` with IPVS_UNAVAILABLE for every layer 4 service and never
 * throws. Layer 7 services are ignored. Applies are serialised: a second apply waits for the first.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import type { ApplyInput, Capability, DataPlane, ServerCounters, ServiceResult } from '../dataplane.ts';
import { EngineError, type EngineErrorCode } from '../errors.ts';
import type { ExecResult, IpvsPort } from './client.ts';
import { openIpvsProcess } from './ipvs-process.ts';
import { DesiredMemo, desiredFromConfig, desiredKey, type DesiredL4, type DesiredService } from './desired.ts';
import { ensureSysctls, reconcileVips, type SysctlReport } from './host.ts';
import { destinationKey, serviceKey, serviceText, type ObservedService, type Stats } from './model.ts';
import { nftUnavailable, renderRuleset, replaceScript, runNft } from './nft.ts';
import { Ownership } from './ownership.ts';
import { Reconciler } from './reconciler.ts';
import { ensureTimeouts, timeoutsText, wantedTimeouts, type TimeoutsReport } from './timeouts.ts';
import { incompleteServices, labelsOfUnwanted, mergeRollback, removedByLabel, rolledBackText } from './whole.ts';
import { LAYER4_SCHEDULERS, serviceFamily } from '../config/index.ts';
import { engineHeldAddresses } from '../ha/addresses.ts';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void;

export interface L4Options {
  dataDir: string;
  log?: Log;
  /** See Reconciler; tests and the benchmark set it. */
  fullEveryMs?: number;
  /** How IPVS is reached: by default the engine's IPVS helper process (ipvs-process.ts says why). */
  openIpvs?: () => Promise<IpvsPort>;
}

export interface L4DataPlane extends DataPlane {
  /** The last apply's details, for the CLI and the benchmark. */
  readonly lastApply?: {
    operations: number;
    reads: number;
    depth: 'full' | 'incremental';
    sysctls: SysctlReport[];
    timeouts: TimeoutsReport;
    timings: Record<string, number>;
  };
}

/** Schedulers this kernel offers: loaded modules, plus modules present on disk (IPVS loads them on first use). */
export function availableSchedulers(): string[] {
  const release = os.release();
  const dirs = [`/lib/modules/${release}/kernel/net/netfilter/ipvs`, `/usr/lib/modules/${release}/kernel/net/netfilter/ipvs`];
  return LAYER4_SCHEDULERS.filter(
    (s) =>
      fs.existsSync(`/sys/module/ip_vs_${s}`) ||
      dirs.some((d) => fs.existsSync(`${d}/ip_vs_${s}.ko`) || fs.existsSync(`${d}/ip_vs_${s}.ko.xz`) || fs.existsSync(`${d}/ip_vs_${s}.ko.zst`)),
  );
}

const DISABLED = (name: string): ServiceResult => ({ name, layer: 4, status: 'removed', message: 'Disabled: not in the kernel.' });

/** "1 IPVS service in the kernel; 0 operations. Relies on …": the common strings are made once, not per apply. */
const messages = new Map<string, string[]>();
function programmedMessage(services: number, operations: number, relies: string): string {
  if (operations !== 0 || services > 64) return makeProgrammedMessage(services, operations, relies);
  let byCount = messages.get(relies);
  if (!byCount) messages.set(relies, (byCount = []));
  return (byCount[services] ??= makeProgrammedMessage(services, 0, relies));
}
const makeProgrammedMessage = (services: number, operations: number, relies: string) =>
  `${services} IPVS service${services === 1 ? '' : 's'} in the kernel; ${operations} operation${operations === 1 ? '' : 's'}.${relies}`;

export function createL4DataPlane(opts: L4Options): L4DataPlane {
  const log: Log = opts.log ?? (() => {});
  let client: IpvsPort | undefined;
  let unavailable: EngineError | undefined;
  let reconciler: Reconciler | undefined;
  let ownership: Ownership | undefined;
  let nftApplied: string | undefined;
  let lastDesired: DesiredL4 | undefined;
  let lastNames = new Set<string>();
  const nameSeen = new Map<string, number>();
  let namePass = 0;
  /** Per virtual service, its result from the last apply (reused while nothing about it changed). */
  const lastResults = new Map<string, ServiceResult>();
  const desiredMemo = new DesiredMemo();
  let queue: Promise<unknown> = Promise.resolve();
  const state: { lastApply?: L4DataPlane['lastApply'] } = {};

  async function connect(): Promise<IpvsPort | undefined> {
    if (client) return client;
    try {
      client = await (opts.openIpvs ?? openIpvsProcess)();
      unavailable = undefined;
      ownership = new Ownership(opts.dataDir);
      reconciler = new Reconciler(client, ownership, { fullEveryMs: opts.fullEveryMs });
      return client;
    } catch (e) {
      unavailable = e instanceof EngineError ? e : new EngineError('IPVS_UNAVAILABLE', { reason: (e as Error).message });
      return undefined;
    }
  }

  // Whether nftables has the inet family: a `nft -c` run, asked again at most every minute (every status asks for
  // the capabilities, and starting a process each time cost a test kernel most of its CPU while a test polled).
  let nftChecked: { at: number; reason: Promise<string | undefined> } | undefined;
  const nftProbe = () => {
    if (!nftChecked || performance.now() - nftChecked.at > 60_000) nftChecked = { at: performance.now(), reason: nftUnavailable() };
    return nftChecked.reason;
  };

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  async function doApply(input: ApplyInput): Promise<ServiceResult[]> {
    const started = performance.now();
    // Indexed loops over every virtual service, here and below (desired.ts desiredFromConfig says why).
    const l4 = input.config.virtualServices.filter((vs) => vs.layer === 4);
    const names = namesOf(l4, lastNames, nameSeen, ++namePass);
    const removedNames = names === lastNames ? [] : [...lastNames].filter((n) => !names.has(n));
    const c = await connect();
    if (!c) {
      const err = unavailable!;
      return l4.map((vs) => ({ name: vs.name, layer: 4, status: 'not-programmed', code: err.code, message: err.message }));
    }
    const tPrep = performance.now() - started;
    const desired = desiredFromConfig(input.config, input.decisions as ReadonlyMap<string, never>, desiredMemo);
    const tDesired = performance.now() - started - tPrep;
    const problems = new Map<string, { code: EngineErrorCode; message: string }>();
    const fail = (vs: string, e: EngineError) => problems.has(vs) || problems.set(vs, { code: e.code, message: e.message });
    for (const r of desired.refused) fail(r.virtualService, new EngineError(r.code, r.params));

    // Sysctls: report failures against the services that need them.
    const sysctls = ensureSysctls(desired.sysctls);
    for (const s of sysctls) {
      if (s.wasChanged) log('info', `sysctl ${s.path.replace(/\//g, '.')} set to ${s.value}`);
      if (s.error) {
        for (const vs of l4) {
          const needs = (s.path.includes('forward') && (vs.mode === 'nat' || vs.mode === 'snat')) || (s.path.includes('conntrack') && vs.mode === 'snat');
          if (needs) fail(vs.name, new EngineError('IPVS_KERNEL', { operation: `setting ${s.path.replace(/\//g, '.')}=${s.value}`, errno: s.error }));
        }
      }
    }

    // VIPs and floating IPs, less those that move with the HA group: keepalived holds them (ha/addresses.ts says why).
    const hostAddresses = engineHeldAddresses(input.config, desired.vips);
    const vipRes = await reconcileVips(hostAddresses, ownership!.vips);
    ownership!.vips = vipRes.owned;
    for (const r of vipRes.results) {
      if (r.outcome === 'failed') {
        const users = hostAddresses.filter((v) => v.address === r.address && v.interface === r.interface);
        for (const v of users)
          if (v.virtualService)
            fail(v.virtualService, new EngineError('IPVS_KERNEL', { operation: `bringing up VIP ${r.address} on ${r.interface}`, errno: r.error }));
        if (users.some((v) => !v.virtualService)) log('error', `floating IP ${r.address} cannot be brought up on ${r.interface}: ${r.error}`);
      } else if (r.outcome !== 'present')
        log(
          'info',
          `${hostAddresses.some((v) => v.address === r.address && !v.virtualService) ? 'floating IP' : 'VIP'} ${r.address} ${r.outcome} on ${r.interface}`,
        );
    }

    // nftables: only when the rules change, and only our table.
    const needsNft = desired.snat.length > 0 || desired.marks.length > 0;
    const ruleset = needsNft ? renderRuleset(desired.marks, desired.snat) : undefined;
    if (ruleset !== nftApplied && (needsNft || ownership!.hasNftTable)) {
      const res = await runNft(replaceScript(ruleset));
      if (res.ok) {
        nftApplied = ruleset;
        ownership!.hasNftTable = needsNft;
      } else {
        const users = new Set([...desired.snat.map((r) => r.virtualService), ...desired.marks.map((m) => m.virtualService)]);
        for (const vs of users) fail(vs, new EngineError('NFT_FAILED', { service: vs, reason: res.stderr || 'nft exited with an error' }));
        log('error', 'nft refused the layer 4 table', { stderr: res.stderr });
      }
    }
    ownership!.save();

    // IPVS's own timeouts (the whole kernel's, not a service's): a refusal is logged, services are still programmed.
    const timeouts = await ensureTimeouts(c, input.config.layer4?.timeouts);
    if (timeouts.error) log('error', `the kernel refused the IPVS timeouts ${timeoutsText(wantedTimeouts(input.config.layer4?.timeouts))}: ${timeouts.error}`);
    else if (Object.keys(timeouts.changed).length) log('info', `IPVS timeouts set: ${timeoutsText(timeouts.changed)}`);

    // IPVS.
    const tHost = performance.now() - started - tPrep - tDesired;
    const refusedNames = new Set(desired.refused.map((r) => r.virtualService));
    const services = refusedNames.size ? desired.services.filter((s) => !refusedNames.has(s.virtualService)) : desired.services;
    const labels = ownership!.labels;
    for (let i = 0; i < services.length; i++) {
      const k = desiredKey(services[i]);
      if (labels.get(k) !== services[i].virtualService) labels.set(k, services[i].virtualService);
    }
    const tLabels = performance.now() - started - tPrep - tDesired - tHost;
    const unwanted = labelsOfUnwanted(ownership!.services, labels, reconciler!.wanted(services));
    let rec = await reconciler!.reconcile(services);
    // Whole or nothing (whole.ts): what this apply created for a virtual service that failed is removed again.
    const incomplete = incompleteServices(services, rec);
    if (incomplete.created.size) {
      const again = await reconciler!.reconcile(
        services.filter((s) => !incomplete.created.has(desiredKey(s))),
        { full: true },
      );
      rec = mergeRollback(rec, again, incomplete.created);
    }
    const removedNow = removedByLabel(unwanted, ownership!.services, names);
    state.lastApply = {
      operations: rec.operations,
      reads: rec.reads,
      depth: rec.depth,
      sysctls,
      timeouts,
      timings: { prep: tPrep, desired: tDesired, host: tHost, labels: tLabels, ...rec.timings, total: performance.now() - started },
    };
    lastDesired = desired;
    lastNames = names;
    for (const n of removedNames) lastResults.delete(n);
    const conflicts = new Set(rec.conflicts);
    // The sysctl note is the same for every service of one mode and family: built once each, not per service.
    const reliesMemo = new Map<string, string[]>();
    // `family`: its IPVS services' (known without parsing the address again), else the configuration's.
    const reliesFor = (vs: (typeof l4)[number], family: 4 | 6): string => {
      const isV6 = family === 6;
      const familyName = isV6 ? 'ipv6' : 'ipv4';
      let byFamily = reliesMemo.get(vs.mode);
      if (!byFamily) reliesMemo.set(vs.mode, (byFamily = []));
      let text = byFamily[isV6 ? 1 : 0];
      if (text === undefined) {
        const needs = sysctls.filter(
          (x) =>
            (x.path.includes('forward') && (vs.mode === 'nat' || vs.mode === 'snat') && x.path.includes(familyName)) ||
            (x.path.includes('conntrack') && vs.mode === 'snat'),
        );
        text = needs.length ? ` Relies on ${needs.map((x) => `${x.path.replace(/\//g, '.')}=${x.value}${x.wasChanged ? ' (set now)' : ''}`).join(', ')}.` : '';
        byFamily[isV6 ? 1 : 0] = text;
      }
      return text;
    };

    // One result per virtual service. `services` holds each virtual service's IPVS services together and in
    // configuration order (desiredFromConfig), so one index walks both lists; an unchanged service's result is the
    // object it got last time (results are frozen, never changed after they are made), so a one-change apply builds
    // one result, not 1,000.
    const results: ServiceResult[] = [];
    let next = 0;
    for (let v = 0; v < l4.length; v++) {
      const vs = l4[v];
      if (!vs.isEnabled) {
        results.push(DISABLED(vs.name));
        continue;
      }
      // One pass over this virtual service's IPVS services (usually one): operations, first refusal, conflict,
      // unconfirmed difference.
      const first = next;
      while (next < services.length && services[next].virtualService === vs.name) next++;
      let operations = 0;
      let execErr: ExecResult | undefined;
      let conflict: DesiredService | undefined;
      let unconfirmed: string | undefined;
      for (let i = first; i < next; i++) {
        const k = desiredKey(services[i]);
        operations += rec.opsByService.get(k) ?? 0;
        execErr ??= rec.errorsByService.get(k)?.[0];
        if (conflict === undefined && conflicts.has(k)) conflict = services[i];
        if (unconfirmed === undefined && rec.unconfirmed.has(k)) unconfirmed = k;
      }
      const count = next - first;
      let result: ServiceResult;
      const p = problems.get(vs.name);
      const undone = incomplete.names.has(vs.name)
        ? rolledBackText(services.slice(first, next).filter((s) => incomplete.created.has(desiredKey(s))).length)
        : '';
      if (p) result = { name: vs.name, layer: 4, status: 'failed', code: p.code, message: p.message, operations };
      else if (execErr) result = { name: vs.name, layer: 4, status: 'failed', code: execErr.error!.code, message: execErr.error!.message + undone, operations };
      else if (conflict) {
        const e = new EngineError('IPVS_EXISTS', existsParams(conflict));
        result = { name: vs.name, layer: 4, status: 'failed', code: e.code, message: e.message + undone, operations };
      } else if (unconfirmed) {
        const e = new EngineError('IPVS_NOT_CONFIRMED', { service: vs.name, difference: rec.unconfirmed.get(unconfirmed) });
        result = { name: vs.name, layer: 4, status: 'failed', code: e.code, message: e.message + undone, operations };
      } else {
        const relies = reliesFor(vs, count ? services[first].service.family : serviceFamily(vs));
        const was = lastResults.get(vs.name);
        if (operations === 0 && was && was.status === 'programmed' && was.operations === 0 && was.message === programmedMessage(count, 0, relies)) {
          results.push(was);
          continue;
        }
        result = { name: vs.name, layer: 4, status: 'programmed', message: programmedMessage(count, operations, relies), operations };
      }
      Object.freeze(result);
      lastResults.set(vs.name, result);
      results.push(result);
    }
    for (const n of removedNames) results.push({ name: n, layer: 4, status: 'removed', message: 'Removed from the kernel.' });
    for (const [n, count] of removedNow) {
      if (!removedNames.includes(n))
        results.push({ name: n, layer: 4, status: 'removed', message: `Removed from the kernel: ${count} IPVS service${count === 1 ? '' : 's'}.` });
    }
    state.lastApply.timings.report = performance.now() - started - state.lastApply.timings.total;
    state.lastApply.timings.total = performance.now() - started;
    return results;
  }

  const plane: L4DataPlane = {
    name: 'l4',
    get lastApply() {
      return state.lastApply;
    },
    async capabilities(): Promise<Capability> {
      const c = await connect();
      if (!c) return { dataPlane: 'l4', isAvailable: false, reason: unavailable!.message, details: { code: unavailable!.code, kernel: os.release() } };
      const [info, nftReason] = await Promise.all([c.info(), nftProbe()]);
      return {
        dataPlane: 'l4',
        isAvailable: true,
        details: {
          kernel: os.release(),
          ipvsVersion: info.version,
          connectionTableSize: info.connectionTableSize,
          schedulers: availableSchedulers(),
          // SNAT and engine-marked firewall-mark services need nftables' inet family.
          modes: nftReason ? ['dr', 'nat', 'tun'] : ['dr', 'nat', 'snat', 'tun'],
          hasFirewallMarking: !nftReason,
          ...(nftReason ? { nftablesReason: nftReason } : {}),
          sysctls: Object.fromEntries(
            ['net/ipv4/ip_forward', 'net/ipv6/conf/all/forwarding', 'net/ipv4/vs/conntrack', 'net/ipv4/ip_nonlocal_bind', 'net/ipv6/ip_nonlocal_bind'].map(
              (p) => [p.replace(/\//g, '.'), readSysctlSafe(p)],
            ),
          ),
        },
      };
    },
    apply(input: ApplyInput): Promise<ServiceResult[]> {
      return serial(async () => {
        try {
          return await doApply(input);
        } catch (e) {
          log('error', 'layer 4 apply failed unexpectedly', { error: (e as Error).stack });
          reconciler?.invalidate();
          const err =
            e instanceof EngineError ? e : new EngineError('IPVS_KERNEL', { operation: 'applying the layer 4 configuration', errno: (e as Error).message });
          return input.config.virtualServices
            .filter((vs) => vs.layer === 4)
            .map((vs) => ({ name: vs.name, layer: 4 as const, status: 'failed' as const, code: err.code, message: err.message }));
        }
      });
    },
    async counters() {
      const out = new Map<string, { service: ServerCounters; servers: Map<string, ServerCounters> }>();
      const c = await connect();
      if (!c || !lastDesired) return out;
      const wanted = new Map(lastDesired.services.map((s) => [serviceKey(s.service), s]));
      const table = await serial(() => c.table(new Set(wanted.keys())));
      for (const s of table) {
        const d = wanted.get(serviceKey(s));
        if (!d) continue;
        const entry = out.get(d.virtualService) ?? { service: zero(), servers: new Map<string, ServerCounters>() };
        add(entry.service, s, s.stats);
        for (const dest of s.destinations) {
          const rs = d.realServers.get(destinationKey(dest));
          if (!rs || rs === '(fallback)') continue; // the fallback counts in the service's totals only
          const sc = entry.servers.get(rs) ?? zero();
          add(sc, undefined, dest.stats);
          sc.activeConnections += dest.activeConnections;
          sc.inactiveConnections! += dest.inactiveConnections;
          entry.service.activeConnections += dest.activeConnections;
          entry.service.inactiveConnections! += dest.inactiveConnections;
          entry.servers.set(rs, sc);
        }
        out.set(d.virtualService, entry);
      }
      return out;
    },
    async close() {
      await queue.catch(() => {});
      client?.close();
      client = undefined;
    },
  };
  return plane;
}

/**
 * The names of `l4` as a set: `last` itself when they are the same names, so a one-change apply builds no set.
 * `seen`: per name of `last`, the last `pass` that met it, so a name given twice is counted once.
 */
function namesOf(l4: readonly { name: string }[], last: Set<string>, seen: Map<string, number>, pass: number): Set<string> {
  let known = 0;
  for (let i = 0; i < l4.length; i++) {
    const n = l4[i].name;
    if (last.has(n) && seen.get(n) !== pass) {
      seen.set(n, pass);
      known++;
    }
  }
  // Every name of `last` is there, and there are no more names than it has: the same set.
  if (known === last.size && l4.length === last.size) return last;
  seen.clear();
  const names = new Set<string>();
  for (let i = 0; i < l4.length; i++) names.add(l4[i].name);
  return names;
}

/** IPVS_EXISTS's words: a firewall-mark service is told about its mark, an address service about its address. */
function existsParams(d: DesiredService): { what: string; instead: string } {
  const s = d.service;
  return s.fwmark !== undefined
    ? { what: `An IPVS firewall-mark service for mark ${s.fwmark}${s.family === 6 ? ' (IPv6)' : ''}`, instead: 'another firewall mark' }
    : { what: `IPVS service ${serviceText(s)}`, instead: 'another address or port' };
}

function readSysctlSafe(p: string): string | null {
  try {
    return fs.readFileSync(`/proc/sys/${p}`, 'utf8').trim();
  } catch {
    return null;
  }
}

const zero = (): ServerCounters => ({
  activeConnections: 0,
  inactiveConnections: 0,
  totalConnections: 0,
  bytesIn: 0,
  bytesOut: 0,
  packetsIn: 0,
  packetsOut: 0,
});

function add(c: ServerCounters, _s: ObservedService | undefined, st: Stats | undefined): void {
  if (!st) return;
  c.totalConnections += st.connections;
  c.bytesIn += st.bytesIn;
  c.bytesOut += st.bytesOut;
  c.packetsIn! += st.packetsIn;
  c.packetsOut! += st.packetsOut;
}
