/**
 * RFC 5424 messages for what Fulcrum forwards: audit events, health transitions and (when asked) access log lines.
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID PARAM="value" ...] MSG
 *   <133>1 2026-12-01T19:20:00.123Z lb1 fulcrum 4242 AUDIT [audit@32473 id="17" actor="alice" ...] BOM alice ...
 *
 * PRI = facility × 8 + severity (RFC 5424 §6.2.1). The SD-ID carries an enterprise number because names without
 * "@" are reserved for IANA (§7.2); 32473 is the number RFC 5612 sets aside for documentation, used until Fulcrum has
 * its own. Inside a PARAM-VALUE, '"', '\' and ']' are escaped with a backslash (§6.3.3); PARAM-NAMEs are at most 32
 * printable characters without '=', ' ', ']' or '"' (ours are fixed). MSG is UTF-8 and starts with the BOM (§6.4).
 * HOSTNAME, APP-NAME, PROCID and MSGID are printable US-ASCII without spaces, of at most 255, 48, 128 and 32
 * characters; anything else is replaced by '_' or cut, and an empty one is the nil value '-'.
 */
export const FACILITIES = {
  kern: 0,
  user: 1,
  daemon: 3,
  auth: 4,
  syslog: 5,
  authpriv: 10,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type Facility = keyof typeof FACILITIES;

export const SEVERITY = { err: 3, warning: 4, notice: 5, info: 6 } as const;
export type Severity = keyof typeof SEVERITY;

/** One MSGID per kind of record, so a collector can route them apart. */
export const MSGID = { audit: 'AUDIT', health: 'HEALTH', access: 'ACCESS', test: 'TEST' } as const;
export type RecordKind = keyof typeof MSGID;

export const SD_ENTERPRISE = 32473;
const BOM = '\uFEFF';

export interface SyslogMessage {
  facility: Facility;
  severity: Severity;
  at: Date;
  hostname: string;
  procId?: string | number;
  kind: RecordKind;
  /** Structured data: one element, SD-ID `<kind>@32473`; undefined values are left out. */
  data: Record<string, string | number | boolean | null | undefined>;
  text: string;
}

function header(value: string | undefined, max: number): string {
  const clean = (value ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean || '-';
}

export const escapeParam = (v: string) => v.replace(/["\\\]]/g, (c) => '\\' + c);

export function formatRfc5424(m: SyslogMessage): string {
  const pri = FACILITIES[m.facility] * 8 + SEVERITY[m.severity];
  const params = Object.entries(m.data)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => ` ${k}="${escapeParam(String(v))}"`)
    .join('');
  const sd = `[${m.kind}@${SD_ENTERPRISE}${params}]`;
  return `<${pri}>1 ${m.at.toISOString()} ${header(m.hostname, 255)} fulcrum ${header(String(m.procId ?? process.pid), 128)} ${header(MSGID[m.kind], 32)} ${sd} ${BOM}${m.text}`;
}

/** RFC 6587 §3.4.1 octet counting, for TCP and TLS (RFC 5425 §4.3): "LEN SP MSG", LEN in bytes of the UTF-8 text. */
export function frameOctetCounted(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

export interface AuditRowLike {
  id: number;
  at: Date;
  actor: string;
  actorRole: string | null;
  sourceAddress: string;
  action: string;
  objectType: string;
  objectId: string | null;
  outcome: string;
  message: string | null;
  requestId: string;
  hash: string;
}

const auditSeverity = (outcome: string): Severity => (outcome === 'success' ? 'notice' : outcome === 'failed' ? 'err' : 'warning');

export function auditMessage(r: AuditRowLike, base: { facility: Facility; hostname: string }): SyslogMessage {
  return {
    ...base,
    severity: auditSeverity(r.outcome),
    at: r.at,
    kind: 'audit',
    data: {
      id: r.id,
      actor: r.actor,
      role: r.actorRole,
      source: r.sourceAddress,
      action: r.action,
      objectType: r.objectType,
      objectId: r.objectId,
      outcome: r.outcome,
      requestId: r.requestId,
      hash: r.hash,
    },
    text: `${r.actor} ${r.action} ${r.objectType}${r.objectId ? ` ${r.objectId}` : ''}: ${r.outcome}${r.message ? ` (${r.message})` : ''}`,
  };
}

export interface HealthRowLike {
  id: number;
  at: Date;
  virtualService: string;
  realServer: string;
  previous: string;
  health: string;
  code: string;
  message: string;
  check: string;
  target: string;
}

export function healthMessage(r: HealthRowLike, base: { facility: Facility; hostname: string }): SyslogMessage {
  return {
    ...base,
    severity: r.health === 'down' ? 'warning' : 'notice',
    at: r.at,
    kind: 'health',
    data: {
      id: r.id,
      virtualService: r.virtualService,
      realServer: r.realServer,
      previous: r.previous,
      health: r.health,
      code: r.code,
      check: r.check,
      target: r.target,
    },
    text: `real server ${r.realServer} of ${r.virtualService} is ${r.health} (was ${r.previous})${r.message ? `: ${r.message}` : ''}`,
  };
}

/** A layer 7 access log entry (engine/log/access-log.ts's AccessEntry, structurally), HAProxy's fields by name. */
export interface AccessEntryLike {
  client: string;
  service: string;
  server?: string;
  method: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  timings: { requestMs: number; queueMs: number; connectMs: number; responseMs: number; totalMs: number };
  termination: string;
  /** Servers tried before the one that answered (HAProxy's retries); absent in entries from before it existed. */
  retries?: number;
}

export function accessMessage(e: AccessEntryLike, at: Date, base: { facility: Facility; hostname: string }): SyslogMessage {
  const t = e.timings;
  return {
    ...base,
    severity: e.status >= 500 || e.termination !== '--' ? 'warning' : 'info',
    at,
    kind: 'access',
    data: {
      client: e.client,
      service: e.service,
      server: e.server ?? '-',
      status: e.status,
      bytesIn: e.bytesIn,
      bytesOut: e.bytesOut,
      Tq: t.requestMs,
      Tw: t.queueMs,
      Tc: t.connectMs,
      Tr: t.responseMs,
      Tt: t.totalMs,
      termination: e.termination,
      retries: e.retries,
    },
    text: `${e.client} ${e.service}/${e.server ?? '-'} ${t.requestMs}/${t.queueMs}/${t.connectMs}/${t.responseMs}/${t.totalMs} ${e.status} ${e.bytesOut} ${e.termination} "${e.method} ${e.path}"`,
  };
}
