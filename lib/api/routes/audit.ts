/** The audit trail: filter, page by cursor, export as CSV or JSON, verify the chain. */
import { z } from 'zod';
import { db } from '../../db.ts';
import { verifyAuditChain, writeAuditAlone } from '../../audit.ts';
import { defineRoute } from '../route.ts';
import { auditWords } from '../../config/audit-words.ts';

const AuditQuery = z.strictObject({
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  objectType: z.string().max(100).optional(),
  objectId: z.string().max(100).optional(),
  outcome: z.enum(['success', 'denied', 'invalid', 'failed']).optional(),
  from: z.coerce.date({ error: 'Give a date such as 2026-11-24T09:00:00Z.' }).optional(),
  to: z.coerce.date({ error: 'Give a date such as 2026-11-24T17:00:00Z.' }).optional(),
  /** Rows with an id below this (the previous page's nextCursor). */
  cursor: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
type AuditQueryT = z.infer<typeof AuditQuery>;

function where(q: AuditQueryT) {
  return {
    ...(q.actor ? { actor: { contains: q.actor } } : {}),
    ...(q.action ? { action: { startsWith: q.action } } : {}),
    ...(q.objectType ? { objectType: q.objectType } : {}),
    ...(q.objectId ? { objectId: q.objectId } : {}),
    ...(q.outcome ? { outcome: q.outcome } : {}),
    ...(q.from || q.to ? { at: { ...(q.from ? { gte: q.from } : {}), ...(q.to ? { lte: q.to } : {}) } } : {}),
    ...(q.cursor ? { id: { lt: q.cursor } } : {}),
  };
}

type Row = Awaited<ReturnType<ReturnType<typeof db>['auditEvent']['findMany']>>[number];
const parsed = (r: Row) => ({ ...r, before: r.before ? JSON.parse(r.before) : null, after: r.after ? JSON.parse(r.after) : null });
/** The row as stored, plus how it reads: the object's name, a sentence, the before/after in words (audit-words.ts). */
const view = (r: Row) => {
  const p = parsed(r);
  return { ...p, words: auditWords(p) };
};

const CSV_COLUMNS = [
  'id',
  'at',
  'actor',
  'actorRole',
  'sourceAddress',
  'action',
  'objectType',
  'objectId',
  'outcome',
  'message',
  'requestId',
  'before',
  'after',
  'prevHash',
  'hash',
] as const;
function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v);
  // A leading = + - @ would be a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) || safe !== s ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const auditRoutes = [
  defineRoute({
    method: 'GET',
    path: '/audit',
    permission: 'audit:read',
    tag: 'audit',
    action: 'audit.read',
    objectType: 'audit',
    summary: 'Audit events, newest first, filtered and paged by cursor',
    query: AuditQuery,
    async handler(ctx) {
      const rows = await db().auditEvent.findMany({ where: where(ctx.query), orderBy: { id: 'desc' }, take: ctx.query.limit + 1 });
      const page = rows.slice(0, ctx.query.limit);
      return { body: { items: page.map(view), nextCursor: rows.length > ctx.query.limit ? page[page.length - 1].id : null } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/audit/export',
    permission: 'audit:read',
    tag: 'audit',
    action: 'audit.export',
    objectType: 'audit',
    summary: 'Export audit events (the same filters) as CSV or JSON',
    query: AuditQuery.omit({ cursor: true, limit: true }).extend({ format: z.enum(['csv', 'json']).default('csv') }),
    async handler(ctx) {
      const { format, ...q } = ctx.query;
      const rows = await db().auditEvent.findMany({ where: where({ ...q, limit: 0 }), orderBy: { id: 'asc' } });
      await writeAuditAlone(
        ctx.audit({ action: 'audit.export', objectType: 'audit', objectId: null, after: { format, filters: q, rows: rows.length }, outcome: 'success' }),
      );
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      if (format === 'json') {
        return new Response(JSON.stringify(rows.map(parsed), null, 2), {
          headers: { 'content-type': 'application/json', 'content-disposition': `attachment; filename="fulcrum-audit-${stamp}.json"` },
        });
      }
      const lines = [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell((r as Record<string, unknown>)[c])).join(','))];
      return new Response(lines.join('\r\n') + '\r\n', {
        headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="fulcrum-audit-${stamp}.csv"` },
      });
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/audit/verify',
    permission: 'audit:read',
    tag: 'audit',
    action: 'audit.verify',
    objectType: 'audit',
    summary: 'Verify the audit chain against its key, its ids, its head and the signed checkpoints in the configured file sinks: which row, and how',
    async handler() {
      return { body: await verifyAuditChain() };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/audit/verify',
    permission: 'audit:read',
    tag: 'audit',
    action: 'audit.verify',
    objectType: 'audit',
    summary: 'Verify the audit chain as GET does, also against checkpoint lines you send (e.g. taken from syslog)',
    body: z.strictObject({
      /** Lines as a sink holds them; anything around the checkpoint (a syslog header) is ignored. */
      checkpointLines: z.array(z.string().max(4096)).max(100_000).default([]),
    }),
    async handler(ctx) {
      return { body: await verifyAuditChain({ extraCheckpointLines: ctx.body.checkpointLines }) };
    },
  }),
];
