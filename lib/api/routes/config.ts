/** Pending changes, apply, config versions and rollback, and the engine's status. */
import { z } from 'zod';
import type { Config } from '../../../engine/config/index.ts';
import { ApiError } from '../../errors.ts';
import { bus, type ConsoleEvent } from '../../bus.ts';
import { db } from '../../db.ts';
import { engine } from '../../engine.ts';
import { defineRoute } from '../route.ts';
import { applyConfig, pendingChanges, rollbackTo, runningVersion, stagedCandidate } from '../../config/apply.ts';
import { supervisorState } from '../../engine-supervisor.ts';
import { readSnapshot } from '../../secrets.ts';
import { changeSummary, describeChange, diffConfigs, type Change } from '../../config/diff.ts';
import { discardAll, discardObject } from '../../config/discard.ts';
import { APPLY_POLICY, versionReason } from '../../config/outcomes.ts';

const versionView = (v: {
  id: number;
  hash: string;
  authorName: string;
  comment: string | null;
  status: string;
  result: string | null;
  rollbackOf: number | null;
  createdAt: Date;
}) => {
  const result = v.result ? JSON.parse(v.result) : null;
  // A failed version keeps its reason, in words (outcomes.ts), beside the engine's own result.
  return {
    id: v.id,
    hash: v.hash,
    author: v.authorName,
    comment: v.comment,
    status: v.status,
    rollbackOf: v.rollbackOf,
    createdAt: v.createdAt,
    result,
    reason: v.status === 'failed' ? versionReason(result) : null,
  };
};

/** The candidate rows' ids of the listed changes by change name ("web", "web/app-1", an address), shown on hover. */
async function idsOf(changes: Change[]): Promise<Map<string, string>> {
  const names = (t: Change['objectType']) => changes.filter((c) => c.objectType === t).map((c) => c.name);
  const serviceOf = (n: string) => n.slice(0, Math.max(0, n.indexOf('/')));
  const services = [...new Set([...names('virtual-service'), ...names('real-server').map(serviceOf)])];
  const out = new Map<string, string>();
  if (services.length) {
    const rows = await db().virtualService.findMany({
      where: { name: { in: services } },
      select: { id: true, name: true, realServers: { select: { id: true, name: true } } },
    });
    for (const vs of rows) {
      out.set(`virtual-service:${vs.name}`, vs.id);
      for (const rs of vs.realServers) out.set(`real-server:${vs.name}/${rs.name}`, rs.id);
    }
  }
  const addresses = names('floating-ip');
  if (addresses.length)
    for (const f of await db().floatingIp.findMany({ where: { address: { in: addresses } }, select: { id: true, address: true } }))
      out.set(`floating-ip:${f.address}`, f.id);
  const certificates = names('certificate');
  if (certificates.length)
    for (const c of await db().certificate.findMany({ where: { name: { in: certificates } }, select: { id: true, name: true } }))
      out.set(`certificate:${c.name}`, c.id);
  return out;
}

/**
 * Pending changes for GET /changes, shared by requests that arrive while one is being worked out: a page asks for
 * its list and the console's menu for its count at the same moment, and each costs a render of the whole candidate.
 * A staged change (the bus's candidate-changed) ends the sharing, so a request made after it works the list out
 * afresh; a list read just before a write is no risk to apply either, which compares the hash the person reviewed.
 */
let shared: ReturnType<typeof pendingChanges> | undefined;
let isListening = false;
function sharedPendingChanges(): ReturnType<typeof pendingChanges> {
  if (!isListening) {
    isListening = true;
    // An apply's or a rollback's events (audit, the engine's 'applied') end the sharing too.
    bus().on('event', (e: ConsoleEvent) => {
      if (e.type === 'candidate-changed' || e.type === 'audit' || e.type === 'engine') shared = undefined;
    });
  }
  if (shared) return shared;
  const p = pendingChanges();
  shared = p;
  const done = () => {
    if (shared === p) shared = undefined;
  };
  p.then(done, done);
  return p;
}

const OBJECT_TYPES = ['virtual-service', 'real-server', 'floating-ip', 'certificate', 'ha'] as const;

/**
 * GET /changes answers one page of objects, each field in words, and the whole list's size and summary: its cost
 * and size follow the page, not the table (1,000 staged services are 5,000 objects; a reviewer reads 50 at a time).
 */
const OFFSET = 'A whole number from 0 (how many objects of the list to skip).';
const LIMIT = 'A whole number from 0 to 200 (objects per page; 0 answers the count and summary alone).';
const ChangesQuery = z.strictObject({
  offset: z.coerce.number({ error: OFFSET }).int({ error: OFFSET }).min(0, { error: OFFSET }).default(0),
  /** 0 answers the count, summary and hash alone (the console's menu badge needs no more). */
  limit: z.coerce.number({ error: LIMIT }).int({ error: LIMIT }).min(0, { error: LIMIT }).max(200, { error: LIMIT }).default(50),
});

const ChangeView = z.object({
  kind: z.enum(['added', 'removed', 'changed']),
  objectType: z.enum(OBJECT_TYPES),
  name: z.string(),
  headline: z.string(),
  id: z.string().optional(),
  fields: z.array(z.object({ path: z.string(), before: z.unknown(), after: z.unknown(), text: z.string() })),
});
const PendingChangesView = z.object({
  /** Objects staged differently from the running version (the whole list, not this page). */
  count: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
  /** The whole list in words: "1,000 virtual services added". */
  summary: z.array(z.string()),
  changes: z.array(ChangeView),
  candidateHash: z.string(),
  running: z.object({ version: z.number().int(), hash: z.string() }).nullable(),
  policy: z.string(),
});

const DiscardBody = z.strictObject({
  /** The candidate you reviewed (GET /changes candidateHash); a discard of everything is refused if it changed since. */
  expectedHash: z.string().optional(),
  /** One object's staged changes; without it, every staged change. Real servers are named "service/server". */
  object: z
    .strictObject({
      type: z.enum(OBJECT_TYPES, {
        error: 'Choose virtual-service, real-server, floating-ip, certificate or ha.',
      }),
      name: z.string().min(1).max(300),
    })
    .optional(),
});

const redactCerts = (c: Config): Config => ({ ...c, certificates: c.certificates.map((x) => ({ ...x, privateKeyPem: '[kept private]' })) });

export const configRoutes = [
  defineRoute({
    method: 'GET',
    path: '/changes',
    permission: 'config:read',
    tag: 'config',
    action: 'changes.read',
    objectType: 'config',
    summary: 'What is staged against the running version: one page of objects, each field in words',
    query: ChangesQuery,
    response: PendingChangesView,
    async handler(ctx) {
      const { offset, limit } = ctx.query;
      const p = await sharedPendingChanges();
      const page = p.changes.slice(offset, offset + limit).map(describeChange);
      const ids = await idsOf(page);
      return {
        body: {
          count: p.changes.length,
          offset,
          limit,
          summary: changeSummary(p.changes),
          changes: page.map((c) => ({ ...c, id: ids.get(`${c.objectType}:${c.name}`) })),
          candidateHash: p.candidateHash,
          running: p.running ? { version: p.running.id, hash: p.running.hash } : null,
          policy: APPLY_POLICY,
        },
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/changes/discard',
    permission: 'config:write',
    tag: 'config',
    action: 'changes.discard',
    objectType: 'config',
    summary: 'Discard staged changes: all of them, or those of one object (back to the running version)',
    body: DiscardBody,
    async handler(ctx) {
      const { object, expectedHash } = ctx.body;
      if (!object) return { body: await discardAll({ audit: ctx.audit, expectedHash }) };
      const r = await discardObject(object, { audit: ctx.audit });
      return { body: { discarded: 1, object, isRemoved: r.after === null } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/apply',
    permission: 'config:apply',
    tag: 'config',
    action: 'config.apply',
    objectType: 'config-version',
    summary: 'Apply the staged configuration to the engine',
    body: z.strictObject({ comment: z.string().max(500).optional(), expectedHash: z.string().optional() }),
    async handler(ctx) {
      const p = await stagedCandidate();
      if (ctx.body.expectedHash && ctx.body.expectedHash !== p.candidateHash) {
        throw new ApiError('API_CONFLICT', { reason: 'The staged configuration changed since you reviewed it; review the changes again.' });
      }
      // Nothing staged is only "nothing to apply" when the engine really runs it: an engine that lost its state (a new
      // data directory, a replaced appliance) must be able to get the configuration again.
      if (p.running?.hash === p.candidateHash) {
        const running = await engine()
          .status()
          .then(
            (st) => st.running,
            () => undefined,
          );
        if (running?.hash === p.candidateHash) throw new ApiError('API_NOTHING_TO_APPLY');
      }
      const r = await applyConfig(p.candidate, {
        author: ctx.actor.name,
        comment: ctx.body.comment,
        audit: ctx.audit,
        action: 'config.apply',
        hash: p.candidateHash,
      });
      return { body: r };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/config-versions',
    permission: 'config:read',
    tag: 'config',
    action: 'config-version.list',
    objectType: 'config-version',
    summary: 'List configuration versions, newest first',
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50), before: z.coerce.number().int().optional() }),
    async handler(ctx) {
      const rows = await db().configVersion.findMany({
        where: ctx.query.before ? { id: { lt: ctx.query.before } } : {},
        orderBy: { id: 'desc' },
        take: ctx.query.limit,
      });
      const running = await runningVersion();
      return { body: { items: rows.map(versionView), runningVersion: running?.id ?? null } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/config-versions/:id',
    permission: 'config:read',
    tag: 'config',
    action: 'config-version.read',
    objectType: 'config-version',
    summary: 'Read one configuration version with its snapshot',
    async handler(ctx) {
      const v = await db().configVersion.findUnique({ where: { id: Number(ctx.params.id) || -1 } });
      if (!v) throw new ApiError('API_NOT_FOUND', { what: `Config version ${ctx.params.id}` });
      return { body: { ...versionView(v), snapshot: redactCerts(JSON.parse(v.snapshot) as Config) } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/config-versions/:id/diff',
    permission: 'config:read',
    tag: 'config',
    action: 'config-version.diff',
    objectType: 'config-version',
    summary: 'Difference from another version (default: the one before it)',
    query: z.strictObject({ against: z.coerce.number().int().optional() }),
    async handler(ctx) {
      const v = await db().configVersion.findUnique({ where: { id: Number(ctx.params.id) || -1 } });
      if (!v) throw new ApiError('API_NOT_FOUND', { what: `Config version ${ctx.params.id}` });
      const base =
        ctx.query.against !== undefined
          ? await db().configVersion.findUnique({ where: { id: ctx.query.against } })
          : await db().configVersion.findFirst({ where: { id: { lt: v.id } }, orderBy: { id: 'desc' } });
      if (ctx.query.against !== undefined && !base) throw new ApiError('API_NOT_FOUND', { what: `Config version ${ctx.query.against}` });
      return { body: { version: v.id, against: base?.id ?? null, changes: diffConfigs(base ? readSnapshot(base.snapshot) : null, readSnapshot(v.snapshot)) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/config-versions/:id/rollback',
    permission: 'config:apply',
    tag: 'config',
    action: 'config.rollback',
    objectType: 'config-version',
    summary: 'Roll back to an earlier version (applies it again as a new version)',
    async handler(ctx) {
      const id = Number(ctx.params.id);
      if (!Number.isInteger(id)) throw new ApiError('API_NOT_FOUND', { what: `Config version ${ctx.params.id}` });
      const r = await rollbackTo(id, { author: ctx.actor.name, audit: ctx.audit });
      return { body: { ...r, message: `Version ${r.version} now runs: the configuration of version ${id}.` } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/status',
    permission: 'config:read',
    tag: 'status',
    action: 'status.read',
    objectType: 'status',
    summary: 'Engine reachability, capabilities, running version and live counters',
    async handler() {
      const running = await runningVersion();
      const last = await db().configVersion.findFirst({ where: { status: { in: ['applied', 'failed'] } }, orderBy: { id: 'desc' } });
      let engineStatus: unknown = null;
      let engineError: { code: string; message: string } | null = null;
      try {
        engineStatus = await engine().status();
      } catch (e) {
        engineError = { code: (e as { code?: string }).code ?? 'ENGINE_UNREACHABLE', message: (e as Error).message };
      }
      const engineRunning = (engineStatus as { running: { hash: string } | null } | null)?.running ?? null;
      return {
        body: {
          engine: { isReachable: engineStatus !== null, error: engineError, status: engineStatus, supervisor: supervisorState() ?? null },
          /** False when the engine runs something other than the last version applied from here. */
          isInSync: engineStatus === null ? null : (engineRunning?.hash ?? null) === (running?.hash ?? null),
          runningVersion: running ? versionView(running) : null,
          lastApply: last ? versionView(last) : null,
        },
      };
    },
  }),
];
