/**
 * The service form's state and its two conversions. The state ("draft") has the shape of the schema's input, with
 * what the inputs hold at the leaves: numbers and lists as text, X-Forwarded-* as a mode word, booleans as
 * booleans. An optional block (TLS, HSTS, a fallback server …) is on when it is present in the draft.
 *
 *   stored service ──draftFromService──► draft ──(inputs)──► draft ──draftToInput──► schema input ──► zod
 *
 * `draftToInput` converts by the schema's own leaf kinds (schema-fields.ts), so it needs no list of fields: a text
 * in a number field becomes a number (or NaN, which the schema refuses at that field); an empty optional field is
 * left out, so the schema's default applies. The health check keeps its own text model (health-check-fields.tsx).
 */
import { FallbackSchema, Layer7Schema, PersistenceSchema, RealServerSchema, VirtualServiceSchema } from '@/engine/config/schema.ts';
import { DEFAULT_HEALTH_CHECK, healthCheckForm, toHealthCheck, type HealthCheckForm } from '../health-check-fields';
import { normalPath, schemaNodes, type SchemaNode } from './schema-fields';

export type Draft = Record<string, any>;
export interface FormState {
  draft: Draft;
  hc: HealthCheckForm;
}

const NODES = new Map<string, SchemaNode>(schemaNodes(VirtualServiceSchema).map((n) => [n.path, n]));
export const nodeAt = (path: string): SchemaNode | undefined => NODES.get(normalPath(path));
/** The schema's default of a leaf, as the text its input shows ("60000"), or undefined. */
export function defaultText(path: string): string | undefined {
  const d = nodeAt(path)?.default;
  if (d === undefined || (Array.isArray(d) && d.length === 0)) return undefined;
  return Array.isArray(d) ? d.join(', ') : typeof d === 'object' ? undefined : String(d);
}

// ───────────── X-Forwarded-For, X-Forwarded-Proto, Forwarded: `true`/`false`/`{ mode }` as one word ─────────────

export type ForwardingKey = 'xForwardedFor' | 'xForwardedProto' | 'forwarded';
export const FORWARDING_WORDS = ['off', 'append', 'replace', 'trusted'] as const;
/** What `true` has always meant for each header (schema.ts): append, except X-Forwarded-Proto which replaces. */
const trueMeans = (key: ForwardingKey) => (key === 'xForwardedProto' ? 'replace' : 'append');
export function forwardingWord(key: ForwardingKey, v: unknown): string {
  if (v === false) return 'off';
  if (v === true || v === undefined) return v === undefined && key === 'forwarded' ? 'off' : trueMeans(key);
  return (v as { mode: string }).mode;
}
/** The word back to the schema; the mode `true` means is written `true`, so a stored default never shows as changed. */
export function forwardingValue(key: ForwardingKey, word: string): unknown {
  if (word === 'off') return false;
  return word === trueMeans(key) ? true : { mode: word };
}

// ───────────── defaults of blocks that are switched on ─────────────

const opt = (schema: any) => schema.unwrap();
export const blockDefaults = {
  tls: () => ({ ...opt(Layer7Schema.shape.tls).parse({ certificate: 'x' }), certificate: '' }),
  reencrypt: () => opt(Layer7Schema.shape.reencrypt).parse({}),
  httpsRedirect: () => opt(Layer7Schema.shape.httpsRedirect).parse({}),
  /** HSTS has no default max-age in the schema; a year is what browsers' preload lists ask for. */
  hsts: () => ({ maxAgeSeconds: 31_536_000, includeSubDomains: false }),
  layer7: () => Layer7Schema.parse({}),
  fallback: (type: string) => (type === 'server' ? { type, address: '', port: undefined } : FallbackSchema.parse({ type })),
  persistence: (type: string) => PersistenceSchema.parse(type === 'app-cookie' ? { type, cookieName: 'JSESSIONID' } : { type }),
  redirect: () => ({ match: {}, location: '', status: 302 }),
  headerRule: () => ({ action: 'set', name: '', value: '' }),
  urlRewrite: () => ({ pattern: '', replacement: '' }),
  route: () => ({ name: '', match: {}, group: '' }),
  realServer: (seed: Record<string, unknown> = {}) => ({
    ...RealServerSchema.parse({ name: 'x', address: '10.0.0.1', ...seed }),
    name: '',
    address: '',
    ...seed,
  }),
};

// ───────────── stored value → draft ─────────────

/** Any value at `path` of a service → what the inputs hold. */
export function toDraft(value: unknown, path: string): any {
  const node = nodeAt(path);
  if (node?.kind === 'union') return forwardingWord(path.split('.').pop() as ForwardingKey, value);
  if (node?.kind === 'list') return ((value as unknown[]) ?? []).join(path === 'ports' ? ', ' : '\n');
  if (node?.kind === 'number' || (node?.kind === 'enum' && typeof value === 'number')) return value === undefined ? '' : String(value);
  if (node?.kind === 'boolean' && path.endsWith('persistence.secure')) return value === undefined ? 'auto' : String(value);
  if (node?.kind === 'string') return value ?? '';
  if (Array.isArray(value)) return value.map((v, i) => toDraft(v, `${path}.${i}`));
  if (value && typeof value === 'object') {
    // Optional fields the value leaves out have no key here: their inputs read empty (controls.tsx).
    const out: Draft = {};
    for (const [k, v] of Object.entries(value)) out[k] = toDraft(v, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

let keySeq = 0;
/** A real server row of the draft; `_key` keeps React's rows apart while the list is sorted or filtered. */
export function realServerDraft(rs: Record<string, unknown>, i?: number): Draft {
  const d = toDraft(rs, `realServers.${i ?? 0}`);
  return { ...d, _key: `rs${++keySeq}` };
}

export function emptyState(): FormState {
  const draft = toDraft(
    {
      name: '',
      description: '',
      isEnabled: true,
      layer: 4,
      mode: 'dr',
      protocol: 'tcp',
      address: '',
      ports: [80],
      scheduler: 'wlc',
      persistence: { type: 'none' },
    },
    '',
  );
  draft.realServers = [realServerDraft(blockDefaults.realServer())];
  return { draft, hc: DEFAULT_HEALTH_CHECK };
}

/** A service as the API returns it (parsed, defaults filled) → the form. Stamps (id, version, dates) are dropped. */
export function stateFromService(vs: Record<string, any>): FormState {
  const { id: _i, version: _v, createdAt: _c, updatedAt: _u, healthCheck, realServers = [], ...spec } = vs;
  const draft = toDraft(spec, '');
  draft.realServers = realServers.map((r: Record<string, unknown>, i: number) => {
    const { id: _a, version: _b, createdAt: _d, updatedAt: _e, ...rs } = r;
    return realServerDraft(rs, i);
  });
  return { draft, hc: healthCheckForm(healthCheck) };
}

// ───────────── draft → schema input ─────────────

function fromDraft(value: any, path: string): any {
  const node = nodeAt(path);
  if (node && node.kind !== 'object' && typeof value !== 'object') return leafValue(node, value, path);
  if (Array.isArray(value)) return value.map((v, i) => fromDraft(v, `${path}.${i}`));
  if (value && typeof value === 'object') {
    const out: Draft = {};
    for (const [k, v] of Object.entries(value)) if (!k.startsWith('_')) out[k] = fromDraft(v, path ? `${path}.${k}` : k);
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    // An optional block left wholly empty (a real server's check override, a match's header) is not sent.
    if (node?.isOptional && Object.keys(out).length === 0) return undefined;
    return out;
  }
  return value;
}

function leafValue(node: SchemaNode, v: any, path: string): unknown {
  const text = typeof v === 'string' ? v.trim() : v;
  switch (node.kind) {
    case 'number':
      return text === '' || text === undefined ? undefined : Number(text);
    case 'list': {
      const items = String(v ?? '')
        .split(/[\n,]+/)
        .map((s) => s.trim())
        .filter(Boolean);
      return path === 'ports' ? items.map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : items;
    }
    case 'enum':
      return node.options?.some((o) => typeof o === 'number') ? Number(text) : text;
    case 'union':
      return forwardingValue(path.split('.').pop() as ForwardingKey, text);
    case 'boolean':
      return typeof v === 'string' ? (v === 'auto' ? undefined : v === 'true') : v;
    case 'string':
      return text === '' && node.isOptional ? undefined : text;
    default:
      return v;
  }
}

/** The form → what is sent (and what the form parses before sending). */
export function toInput(state: FormState): Record<string, unknown> {
  const { healthCheck: _h, ...draft } = state.draft;
  const input = fromDraft(draft, '') as Record<string, any>;
  input.healthCheck = toHealthCheck(state.hc);
  const isL4 = input.layer === 4;
  if (isL4) delete input.layer7;
  else delete input.layer4;
  if (isL4 && input.layer4) {
    // The scheduler flags go with sh and mh only: switching the scheduler away drops them rather than blocking the save.
    if (input.scheduler !== 'sh' && input.scheduler !== 'mh') {
      delete input.layer4.schedulerFallback;
      delete input.layer4.schedulerPort;
    }
    if (!input.layer4.onePacketScheduling && !input.layer4.schedulerFallback && !input.layer4.schedulerPort) delete input.layer4;
  }
  if (input.ports === undefined) input.ports = [];
  return input;
}

// ───────────── paths ─────────────

export function getIn(obj: any, path: string): any {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** A copy of `obj` with `path` set (or removed, given undefined); every object on the way is copied. */
export function setIn(obj: any, path: string, value: unknown): any {
  const [k, ...rest] = path.split('.');
  const copy = Array.isArray(obj) ? [...obj] : { ...(obj ?? {}) };
  const key = Array.isArray(copy) ? Number(k) : k;
  if (rest.length === 0) {
    if (value === undefined && !Array.isArray(copy)) delete (copy as Draft)[k];
    else (copy as any)[key] = value;
  } else (copy as any)[key] = setIn((copy as any)[key], rest.join('.'), value);
  return copy;
}
