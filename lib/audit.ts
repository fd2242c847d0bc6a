/**
 * The audit trail: append-only and chained.
 *
 * Each row's hash is SHA-256 over the previous row's hash and the canonical JSON of the row's own fields, so
 * editing, deleting or reordering any row breaks every hash after it; `verifyAuditChain` walks the chain and names
 * the first row that does not match. Rows are written in the same transaction as the change they describe (pass the
 * transaction's client); refusals, which change nothing, are written on their own.
 *
 * Writers are serialised by the adapter's transaction mutex (one connection), so two writers never read the same
 * "previous hash". A chain alone cannot show that its newest rows were cut off, so after every commit the newest
 * id and hash are also written to <data dir>/audit-head (owner-only), and verification compares the two.
 */
import { canonicalJson, sha256Hex } from '../engine/canonical.ts';
import fs from 'node:fs';
import path from 'node:path';
import { db, type Tx } from './db.ts';
import { consoleEnv } from './env.ts';

export const GENESIS_HASH = 'sha256:' + '0'.repeat(64);

export type AuditOutcome = 'success' | 'denied' | 'invalid' | 'failed';

export interface AuditInput {
  actor: string;
  actorRole?: string | null;
  sourceAddress: string;
  action: string;
  objectType: string;
  objectId?: string | null;
  before?: unknown;
  after?: unknown;
  outcome: AuditOutcome;
  message?: string | null;
  requestId: string;
}

interface StoredFields {
  at: string;
  actor: string;
  actorRole: string | null;
  sourceAddress: string;
  action: string;
  objectType: string;
  objectId: string | null;
  before: string | null;
  after: string | null;
  outcome: string;
  message: string | null;
  requestId: string;
}

function rowHash(prevHash: string, f: StoredFields): string {
  return 'sha256:' + sha256Hex(prevHash + '\n' + canonicalJson(f));
}

/** Keys whose values never enter the audit trail. */
const SECRET_KEYS = /^(password|passwordHash|privateKeyPem|keyHash|token|secret|key|csrfToken)$/i;

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v);
    return out;
  }
  return value;
}

export async function writeAudit(tx: Tx, input: AuditInput): Promise<void> {
  const last = await tx.auditEvent.findFirst({ orderBy: { id: 'desc' }, select: { hash: true } });
  const prevHash = last?.hash ?? GENESIS_HASH;
  const fields: StoredFields = {
    at: new Date().toISOString(),
    actor: input.actor,
    actorRole: input.actorRole ?? null,
    sourceAddress: input.sourceAddress,
    action: input.action,
    objectType: input.objectType,
    objectId: input.objectId ?? null,
    before: input.before === undefined || input.before === null ? null : canonicalJson(redact(input.before)),
    after: input.after === undefined || input.after === null ? null : canonicalJson(redact(input.after)),
    outcome: input.outcome,
    message: input.message ?? null,
    requestId: input.requestId,
  };
  await tx.auditEvent.create({ data: { ...fields, at: new Date(fields.at), prevHash, hash: rowHash(prevHash, fields) } });
}

/** Writes an audit row on its own (for refusals, which change nothing else). */
export async function writeAuditAlone(input: AuditInput): Promise<void> {
  await db().$transaction((tx) => writeAudit(tx, input));
  await recordAuditHead();
}

const headPath = () => path.join(consoleEnv().dataDir, 'audit-head');

/** Call after a transaction that wrote audit rows has committed. */
export async function recordAuditHead(): Promise<void> {
  const last = await db().auditEvent.findFirst({ orderBy: { id: 'desc' }, select: { id: true, hash: true } });
  if (!last) return;
  const tmp = `${headPath()}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(last), { mode: 0o600 });
  fs.renameSync(tmp, headPath());
}

export interface ChainReport {
  isIntact: boolean;
  checked: number;
  /** The first row whose hash or link does not match, and why. */
  firstBroken?: { id: number; reason: string };
  lastHash: string;
}

export async function verifyAuditChain(): Promise<ChainReport> {
  let prev = GENESIS_HASH;
  let checked = 0;
  let lastId = 0;
  const page = 1000;
  for (;;) {
    const rows = await db().auditEvent.findMany({ where: { id: { gt: lastId } }, orderBy: { id: 'asc' }, take: page });
    for (const r of rows) {
      checked++;
      if (r.prevHash !== prev) {
        return { isIntact: false, checked, firstBroken: { id: r.id, reason: `row ${r.id} does not follow the row before it (a row was deleted or inserted)` }, lastHash: prev };
      }
      const fields: StoredFields = {
        at: r.at.toISOString(),
        actor: r.actor,
        actorRole: r.actorRole,
        sourceAddress: r.sourceAddress,
        action: r.action,
        objectType: r.objectType,
        objectId: r.objectId,
        before: r.before,
        after: r.after,
        outcome: r.outcome,
        message: r.message,
        requestId: r.requestId,
      };
      if (rowHash(prev, fields) !== r.hash) {
        return { isIntact: false, checked, firstBroken: { id: r.id, reason: `row ${r.id} was edited after it was written` }, lastHash: prev };
      }
      prev = r.hash;
      lastId = r.id;
    }
    if (rows.length < page) break;
  }
  if (fs.existsSync(headPath())) {
    const head = JSON.parse(fs.readFileSync(headPath(), 'utf8')) as { id: number; hash: string };
    if (head.id > lastId) return { isIntact: false, checked, firstBroken: { id: lastId + 1, reason: `rows ${lastId + 1} to ${head.id} were deleted from the end` }, lastHash: prev };
    if (head.id === lastId && head.hash !== prev) return { isIntact: false, checked, firstBroken: { id: lastId, reason: `row ${lastId} is not the row that was written last` }, lastHash: prev };
  }
  return { isIntact: true, checked, lastHash: prev };
}
