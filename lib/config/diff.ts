/**
 * What is staged against what is running, object by object, field by field.
 *
 * Operator state (online/drain/halt) is operational, not configuration: it takes effect at once and is not a
 * pending change. Certificates are compared by content but shown without their private keys.
 */
import type { Config } from '../../engine/config/index.ts';
import { canonicalJson, sha256Hex } from '../../engine/canonical.ts';
import { changeHeadline, fieldSentence, type FieldChange as Field } from './words.ts';

export interface FieldChange extends Field {
  /** The change in words: "weight of sym-app-1 in symphony-web: 100 → 50". */
  text: string;
}

export interface Change {
  kind: 'added' | 'removed' | 'changed';
  objectType: 'virtual-service' | 'real-server' | 'certificate' | 'floating-ip' | 'ha';
  /** "symphony-web" or "symphony-web/sym-app-1". */
  name: string;
  /** "Real server sym-app-3 added to symphony-web". */
  headline: string;
  /** The candidate row's id, when the object is stored (not for one the candidate removed). */
  id?: string;
  fields: FieldChange[];
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** Field by field; lists of objects (header rules, routes) item by item, lists of values (ports) whole. */
export function fieldDiff(before: unknown, after: unknown, path = ''): Field[] {
  if (canonicalJson(before) === canonicalJson(after)) return [];
  const at = (k: string | number) => (path ? `${path}.${k}` : String(k));
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => fieldDiff(before[k], after[k], at(k)));
  }
  if (Array.isArray(before) && Array.isArray(after) && [...before, ...after].some(isObj)) {
    return Array.from({ length: Math.max(before.length, after.length) }, (_, i) => i).flatMap((i) => {
      if (i >= before.length || i >= after.length) return [{ path: at(i), before: before[i] ?? null, after: after[i] ?? null }];
      return fieldDiff(before[i], after[i], at(i));
    });
  }
  return [{ path, before: before ?? null, after: after ?? null }];
}

/**
 * An object that differs, before its fields are listed and worded: `before`/`after` are the compared views (no
 * operator state, no private key). Finding these costs one canonical comparison per object; listing and wording the
 * fields is left to `describeChange`, so a page of a long list words only what it shows.
 */
export interface ObjectChange {
  kind: Change['kind'];
  objectType: Change['objectType'];
  name: string;
  headline: string;
  before: unknown;
  after: unknown;
}

/** One object's change field by field, each field in words. */
export function describeChange(c: ObjectChange): Change {
  const fields = fieldDiff(c.kind === 'added' ? {} : c.before, c.kind === 'removed' ? {} : c.after);
  return {
    kind: c.kind,
    objectType: c.objectType,
    name: c.name,
    headline: c.headline,
    fields: fields.map((f) => ({ ...f, text: fieldSentence(f, c.objectType, c.name) })),
  };
}

function byName<T extends { name: string }>(list: T[]): Map<string, T> {
  return new Map(list.map((x) => [x.name, x]));
}

function pair<T>(objectType: Change['objectType'], before: Map<string, T>, after: Map<string, T>, view: (x: T) => unknown, prefix = ''): ObjectChange[] {
  const out: ObjectChange[] = [];
  const one = (kind: Change['kind'], name: string, b: unknown, a: unknown) =>
    out.push({ kind, objectType, name: prefix + name, headline: changeHeadline(kind, objectType, prefix + name), before: b, after: a });
  for (const [name, a] of after) {
    const b = before.get(name);
    if (!b) one('added', name, null, view(a));
    else {
      const [vb, va] = [view(b), view(a)];
      if (canonicalJson(vb) !== canonicalJson(va)) one('changed', name, vb, va);
    }
  }
  for (const [name, b] of before) if (!after.has(name)) one('removed', name, view(b), null);
  return out;
}

/** The objects that differ, in the order the changes page lists them (services, real servers, certificates, …). */
export function objectChanges(running: Config | null, candidate: Config): ObjectChange[] {
  const empty: Config = { schemaVersion: 1, virtualServices: [], floatingIps: [], certificates: [] };
  const before = running ?? empty;
  const vsView = (vs: Config['virtualServices'][number]) => {
    const { realServers: _rs, ...rest } = vs;
    return rest;
  };
  const rsView = (rs: Config['virtualServices'][number]['realServers'][number]) => {
    const { state: _s, ...rest } = rs;
    return rest;
  };
  const changes = pair('virtual-service', byName(before.virtualServices), byName(candidate.virtualServices), vsView);
  const beforeVs = byName(before.virtualServices);
  for (const vs of candidate.virtualServices) {
    changes.push(...pair('real-server', byName(beforeVs.get(vs.name)?.realServers ?? []), byName(vs.realServers), rsView, `${vs.name}/`));
  }
  const candVs = byName(candidate.virtualServices);
  for (const vs of before.virtualServices) {
    if (!candVs.has(vs.name)) changes.push(...pair('real-server', byName(vs.realServers), new Map(), rsView, `${vs.name}/`));
  }
  const certView = (c: Config['certificates'][number]) => ({ certificateSha256: sha256Hex(c.certificatePem), privateKey: '[kept private]' });
  changes.push(...pair('certificate', byName(before.certificates), byName(candidate.certificates), certView));
  const fip = (list: Config['floatingIps']) => new Map(list.map((f) => [f.address, f]));
  changes.push(...pair('floating-ip', fip(before.floatingIps), fip(candidate.floatingIps), (f) => f));
  const ha = (c: Config) => new Map(c.ha ? [['the HA pair', c.ha]] : []); // one object: the `ha` block
  changes.push(...pair('ha', ha(before), ha(candidate), (h) => h));
  return changes;
}

/** Every change with its fields in words (version diffs, wizard reviews, restore previews). */
export function diffConfigs(running: Config | null, candidate: Config): Change[] {
  return objectChanges(running, candidate).map(describeChange);
}

const PLURAL: Record<Change['objectType'], [string, string]> = {
  'virtual-service': ['virtual service', 'virtual services'],
  'real-server': ['real server', 'real servers'],
  certificate: ['certificate', 'certificates'],
  'floating-ip': ['floating IP', 'floating IPs'],
  ha: ['settings of the HA pair', 'settings of the HA pair'],
};

/**
 * The whole list in a few sentences, one per kind of change and type of object, for a list too long to read at a
 * glance: ["1,000 virtual services added", "4,000 real servers added", "1 real server changed"].
 */
export function changeSummary(changes: ObjectChange[]): string[] {
  const counts = new Map<string, number>();
  for (const c of changes) counts.set(`${c.kind}|${c.objectType}`, (counts.get(`${c.kind}|${c.objectType}`) ?? 0) + 1);
  const out: string[] = [];
  for (const kind of ['added', 'changed', 'removed'] as const) {
    for (const type of Object.keys(PLURAL) as Change['objectType'][]) {
      const n = counts.get(`${kind}|${type}`);
      // The HA block is one object: "settings of the HA pair changed", not counted.
      if (n) out.push(type === 'ha' ? `${PLURAL.ha[0]} ${kind}` : `${n.toLocaleString('en-GB')} ${PLURAL[type][n === 1 ? 0 : 1]} ${kind}`);
    }
  }
  return out;
}

/** The config with operator states taken from `states` (by "vs/rs"), for rollbacks that must not undo a drain. */
export function withOperatorStates(config: Config, states: Map<string, string>): Config {
  return {
    ...config,
    virtualServices: config.virtualServices.map((vs) => ({
      ...vs,
      realServers: vs.realServers.map((rs) => ({ ...rs, state: (states.get(`${vs.name}/${rs.name}`) as typeof rs.state) ?? rs.state })),
    })),
  };
}
