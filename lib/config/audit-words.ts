/**
 * An audit event in words: the object it is about by name ("sym-app-1 in symphony-web"; the id stays on the row),
 * one sentence for what happened, and its before/after field by field (words.ts). The rows themselves are not
 * changed: this is how the trail is read, computed when it is shown.
 */
import { fieldDiff } from './diff.ts';
import { fieldSentence, objectWords } from './words.ts';

export interface AuditEventLike {
  action: string;
  objectType: string;
  objectId: string | null;
  outcome: string;
  before: unknown;
  after: unknown;
}

export interface AuditWords {
  /** The object by name, when the event names it. */
  objectName: string | null;
  summary: string;
  changes: string[];
}

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

const STATE_VERBS: Record<string, string> = { online: 'Brought online', drain: 'Drained', halt: 'Halted' };
const VERBS: Record<string, string> = {
  create: 'Created',
  update: 'Changed',
  delete: 'Deleted',
  apply: 'Applied',
  rollback: 'Rolled back with',
  'rollback-stage': 'Staged a rollback for',
  discard: 'Discarded the staged changes',
  'discard-object': 'Discarded the staged changes of',
};
const TYPE_WORDS: Record<string, string> = {
  'virtual-service': 'virtual service',
  'real-server': 'real server',
  certificate: 'certificate',
  'floating-ip': 'floating IP',
  'config-version': 'version',
};

/** "sym-app-1 in symphony-web" for a real server (by the names the event carries), else the object's name. */
function nameOf(e: AuditEventLike): { words: string | null; key: string | null } {
  const b = asObj(e.before);
  const a = asObj(e.after);
  if (e.objectType === 'real-server') {
    const rs = str(a.realServer) ?? str(b.realServer) ?? str(a.name) ?? str(b.name);
    const vs = str(a.virtualService) ?? str(b.virtualService);
    if (!rs) return { words: null, key: null };
    return vs ? { words: objectWords('real-server', `${vs}/${rs}`), key: `${vs}/${rs}` } : { words: rs, key: rs };
  }
  if (e.objectType === 'config-version') {
    const v = a.version ?? e.objectId;
    return v != null ? { words: `version ${v}`, key: `version ${v}` } : { words: null, key: null };
  }
  const n = str(a.name) ?? str(b.name) ?? str(a.address) ?? str(b.address);
  return { words: n ?? null, key: n ?? null };
}

/** Names are what the sentence says; they are not fields that changed. */
function withoutNames(v: unknown): Obj {
  const { virtualService: _v, realServer: _r, ...rest } = asObj(v);
  return rest;
}

export function auditWords(e: AuditEventLike): AuditWords {
  const { words: name, key } = nameOf(e);
  const verb = e.action.split('.').slice(1).join('.');
  const type = TYPE_WORDS[e.objectType] ?? e.objectType;
  const a = asObj(e.after);
  const b = asObj(e.before);
  if (e.objectType === 'host' && e.action === 'host.state') return hostWords(e, a, b);
  if (e.action.endsWith('.state') || e.action.endsWith('.state-resend')) {
    const state = str(a.state) ?? '';
    const was = str(b.state);
    const lead = e.action.endsWith('.state-resend') ? `Sent ${state} again for` : (STATE_VERBS[state] ?? `Set ${state}`);
    return { objectName: name, summary: `${lead} ${name ?? e.objectId ?? 'a real server'}${was ? ` (was ${was})` : ''}`, changes: [] };
  }
  const isEdit = e.before !== null && e.before !== undefined && e.after !== null && e.after !== undefined;
  const changes =
    key && (e.objectType === 'virtual-service' || e.objectType === 'real-server' || e.objectType === 'floating-ip' || e.objectType === 'certificate') && isEdit
      ? fieldDiff(withoutNames(e.before), withoutNames(e.after)).map((f) => fieldSentence(f, e.objectType, key))
      : [];
  const lead = VERBS[verb] ?? e.action;
  const refused = e.outcome === 'success' ? '' : ` (${e.outcome})`;
  const what =
    e.objectType === 'config-version' || e.objectType === 'config' ? (name ?? '') : name ? `${type} ${name}` : `${type}${e.objectId ? ` ${e.objectId}` : ''}`;
  const summary = `${lead}${what ? ` ${what}` : ''}${refused}`;
  return { objectName: name, summary, changes };
}

/** A host operation (lib/hosts/state.ts): one entry, every server and service it touched, each in words. */
function hostWords(e: AuditEventLike, a: Obj, b: Obj): AuditWords {
  const address = str(a.address) ?? e.objectId ?? null;
  const state = str(a.state) ?? '';
  const was = new Map((Array.isArray(b.realServers) ? b.realServers : []).map((x: Obj) => [`${x.virtualService}/${x.realServer}`, str(x.state)]));
  const servers = (Array.isArray(a.realServers) ? a.realServers : []) as Obj[];
  const services = new Set(servers.map((x) => x.virtualService)).size;
  const lead = STATE_VERBS[state] ?? 'Set the state of';
  const refused = e.outcome === 'success' ? '' : ` (${e.outcome})`;
  return {
    objectName: address,
    summary: `${lead} ${address ? `host ${address}` : 'a host'}${servers.length ? ` in ${services} ${services === 1 ? 'service' : 'services'}` : ''}${refused}`,
    changes: servers.map((x) => `${x.realServer} in ${x.virtualService}: ${was.get(`${x.virtualService}/${x.realServer}`) ?? '?'} → ${str(x.state) ?? state}`),
  };
}
