/** Virtual services and their real servers: the candidate configuration. Edits are staged until applied. */
import { z } from 'zod';
import { RealServerSchema, VirtualServiceSchema, OPERATOR_STATES } from '../../../engine/config/index.ts';
import { ApiError, validationError } from '../../errors.ts';
import { db, type Tx } from '../../db.ts';
import { engine } from '../../engine.ts';
import { settler } from '../../config/settle.ts';
import { defineRoute } from '../route.ts';
import { VirtualServiceList, VirtualServiceView, RealServerView } from '../views.ts';
import { ifMatchVersion, mutate } from '../mutate.ts';
import {
  checkCandidate,
  deleteService,
  insertRealServers,
  insertService,
  readService,
  rsColumns,
  rsView,
  updateService,
  vsColumns,
  vsView,
} from '../../config/store.ts';
import { log } from '../../log.ts';
import { RS_ORDER } from '../../config/render.ts';

const tag = 'virtual-services';
const include = { realServers: { orderBy: RS_ORDER } };

/** The service and its real servers (RS_ORDER), in plain SQL (store.ts says why). */
async function loadVs(tx: Tx, id: string) {
  const vs = await readService(tx, id);
  if (!vs) throw new ApiError('API_NOT_FOUND', { what: `Virtual service ${id}` });
  return vs;
}

function requireVersion(req: Request, current: number, what: string): void {
  const v = ifMatchVersion(req);
  if (v === undefined) throw new ApiError('API_PRECONDITION_REQUIRED');
  if (v !== current) throw new ApiError('API_VERSION_CONFLICT', { what, yours: v, current });
}

function fullVs(row: Awaited<ReturnType<typeof loadVs>>) {
  return specOf(vsView(row));
}

/** The spec part of a view (what the audit row records), so a view answered and audited is built once. */
function specOf(v: ReturnType<typeof vsView>) {
  const { id: _i, version: _v, createdAt: _c, updatedAt: _u, realServers, ...spec } = v;
  return { ...spec, realServers: realServers.map(({ id: _a, version: _b, createdAt: _d, updatedAt: _e, ...rs }: Record<string, unknown>) => rs) };
}

function parseVs(raw: unknown) {
  const r = VirtualServiceSchema.safeParse(raw);
  if (!r.success) throw validationError(r.error.issues);
  return r.data;
}

export const virtualServiceRoutes = [
  defineRoute({
    method: 'GET',
    path: '/virtual-services',
    response: VirtualServiceList,
    permission: 'config:read',
    tag,
    action: 'virtual-service.list',
    objectType: 'virtual-service',
    summary: 'List virtual services with their real servers',
    async handler() {
      const rows = await db().virtualService.findMany({ orderBy: [{ position: 'asc' }, { createdAt: 'asc' }], include });
      return { body: { items: rows.map(vsView) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/virtual-services',
    response: VirtualServiceView,
    permission: 'config:write',
    tag,
    action: 'virtual-service.create',
    objectType: 'virtual-service',
    summary: 'Create a virtual service (staged until applied)',
    body: VirtualServiceSchema,
    async handler(ctx) {
      const vs = ctx.body;
      const view = await mutate(
        async (tx) => {
          await checkCandidate(tx, vs);
          // Two INSERTs whose RETURNING rows are the answer (the real servers in RS_ORDER, as `include` gives them).
          return vsView(await insertService(tx, vs));
        },
        (v) => ctx.audit({ action: 'virtual-service.create', objectType: 'virtual-service', objectId: v.id, after: specOf(v), outcome: 'success' }),
      );
      return { status: 201, body: view, headers: { etag: `"${view.version}"`, location: `/api/v1/virtual-services/${view.id}` } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/virtual-services/:id',
    response: VirtualServiceView,
    permission: 'config:read',
    tag,
    action: 'virtual-service.read',
    objectType: 'virtual-service',
    summary: 'Read a virtual service',
    async handler(ctx) {
      const row = await loadVs(db() as unknown as Tx, ctx.params.id);
      return { body: vsView(row), headers: { etag: `"${row.version}"` } };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/virtual-services/:id',
    response: VirtualServiceView,
    permission: 'config:write',
    tag,
    action: 'virtual-service.update',
    objectType: 'virtual-service',
    summary: 'Replace a virtual service (send If-Match with the version you edited)',
    body: z.unknown() as z.ZodType<unknown>,
    async handler(ctx) {
      const raw = (ctx.body ?? {}) as Record<string, unknown>;
      const row = await mutate(
        async (tx) => {
          const current = await loadVs(tx, ctx.params.id);
          requireVersion(ctx.req, current.version, `Virtual service "${current.name}"`);
          const before = fullVs(current);
          // Real servers are edited on their own routes unless the body lists them: keep them (and their states) then.
          const hasServers = Array.isArray(raw.realServers);
          const vs = parseVs(hasServers ? raw : { ...raw, realServers: before.realServers });
          await checkCandidate(tx, vs, current);
          // The service and (when the body lists them) its real servers in one statement, matched by name so ids and
          // operator states survive.
          const keep = new Set(vs.realServers.map((r) => r.name));
          const byName = new Map(current.realServers.map((x) => [x.name, x]));
          const realServers = hasServers
            ? {
                deleteMany: { name: { notIn: [...keep] } },
                update: vs.realServers
                  .filter((rs) => byName.has(rs.name))
                  .map((rs) => ({ where: { id: byName.get(rs.name)!.id }, data: { ...rsColumns(rs), version: { increment: 1 } } })),
                create: vs.realServers.filter((rs) => !byName.has(rs.name)).map((rs) => ({ ...rsColumns(rs), state: rs.state })),
              }
            : undefined;
          // Without real servers in the body (the form's edit) one plain UPDATE, the real servers as they were read.
          const after = realServers
            ? await tx.virtualService.update({
                where: { id: current.id },
                data: { ...vsColumns(vs), version: { increment: 1 }, realServers },
                include,
              })
            : { ...(await updateService(tx, current.id, vs)), realServers: current.realServers };
          return { before, after: vsView(after) };
        },
        (r) =>
          ctx.audit({
            action: 'virtual-service.update',
            objectType: 'virtual-service',
            objectId: r.after.id,
            before: r.before,
            after: specOf(r.after),
            outcome: 'success',
          }),
      );
      return { body: row.after, headers: { etag: `"${row.after.version}"` } };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/virtual-services/:id',
    permission: 'config:write',
    tag,
    action: 'virtual-service.delete',
    objectType: 'virtual-service',
    summary: 'Delete a virtual service (staged until applied)',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const current = await loadVs(tx, ctx.params.id);
          requireVersion(ctx.req, current.version, `Virtual service "${current.name}"`);
          await deleteService(tx, current.id);
          return fullVs(current);
        },
        (before) => ctx.audit({ action: 'virtual-service.delete', objectType: 'virtual-service', objectId: ctx.params.id, before, outcome: 'success' }),
      );
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/virtual-services/:id/real-servers',
    response: RealServerView,
    permission: 'config:write',
    tag,
    action: 'real-server.create',
    objectType: 'real-server',
    summary: 'Add a real server to a virtual service (staged until applied)',
    body: RealServerSchema,
    async handler(ctx) {
      const rs = ctx.body;
      const created = await mutate(
        async (tx) => {
          const current = await loadVs(tx, ctx.params.id);
          const full = fullVs(current);
          const vs = parseVs({ ...full, realServers: [...full.realServers, rs] });
          await checkCandidate(tx, vs, current).catch((e) => {
            throw relocate(e, current.realServers.length);
          });
          const [added] = await insertRealServers(tx, current.id, [rs]);
          await updateService(tx, current.id);
          return { ...added, vsName: current.name };
        },
        (r) =>
          ctx.audit({
            action: 'real-server.create',
            objectType: 'real-server',
            objectId: r.id,
            after: { virtualService: r.vsName, ...rs },
            outcome: 'success',
          }),
      );
      return { status: 201, body: rsView(created), headers: { etag: `"${created.version}"` } };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/virtual-services/:id/real-servers/:rsId',
    response: RealServerView,
    permission: 'config:write',
    tag,
    action: 'real-server.update',
    objectType: 'real-server',
    summary: 'Replace a real server (send If-Match with the version you edited)',
    body: RealServerSchema,
    async handler(ctx) {
      const rs = ctx.body;
      const updated = await mutate(
        async (tx) => {
          const current = await loadVs(tx, ctx.params.id);
          const index = current.realServers.findIndex((x) => x.id === ctx.params.rsId);
          if (index < 0) throw new ApiError('API_NOT_FOUND', { what: `Real server ${ctx.params.rsId}` });
          const existing = current.realServers[index];
          requireVersion(ctx.req, existing.version, `Real server "${existing.name}"`);
          const full = fullVs(current);
          const before = full.realServers[index];
          const servers = [...full.realServers];
          servers[index] = { ...rs, state: existing.state };
          const vs = parseVs({ ...full, realServers: servers });
          await checkCandidate(tx, vs, current).catch((e) => {
            throw relocate(e, index);
          });
          const row = await tx.realServer.update({ where: { id: existing.id }, data: { ...rsColumns(rs), version: { increment: 1 } } });
          return { before, after: rsView(row), row, vsName: current.name };
        },
        (r) =>
          ctx.audit({
            action: 'real-server.update',
            objectType: 'real-server',
            objectId: ctx.params.rsId,
            before: { virtualService: r.vsName, ...r.before },
            after: { virtualService: r.vsName, ...r.after },
            outcome: 'success',
          }),
      );
      return { body: updated.after, headers: { etag: `"${updated.row.version}"` } };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/virtual-services/:id/real-servers/:rsId',
    permission: 'config:write',
    tag,
    action: 'real-server.delete',
    objectType: 'real-server',
    summary: 'Remove a real server (staged until applied)',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const current = await loadVs(tx, ctx.params.id);
          const existing = current.realServers.find((x) => x.id === ctx.params.rsId);
          if (!existing) throw new ApiError('API_NOT_FOUND', { what: `Real server ${ctx.params.rsId}` });
          requireVersion(ctx.req, existing.version, `Real server "${existing.name}"`);
          await tx.realServer.delete({ where: { id: existing.id } });
          await tx.virtualService.update({ where: { id: current.id }, data: { version: { increment: 1 } } });
          return { virtualService: current.name, ...rsView(existing) };
        },
        (before) => ctx.audit({ action: 'real-server.delete', objectType: 'real-server', objectId: ctx.params.rsId, before, outcome: 'success' }),
      );
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/real-servers/:id/state',
    permission: 'server:state',
    tag,
    action: 'real-server.state',
    objectType: 'real-server',
    summary: 'Set a real server online, drain or halt (takes effect at once)',
    body: z.strictObject({ state: z.enum(OPERATOR_STATES, { error: 'Choose online, drain or halt.' }) }),
    async handler(ctx) {
      const { state } = ctx.body;
      // The state is stored and audited first, in its own transaction; the engine is told after it commits (never
      // inside it: a paused engine must not hold every other write). The stored state persists and goes with every
      // later apply; one the engine did not take now is sent again when it answers (lib/config/settle.ts).
      const r = await mutate(
        async (tx) => {
          const rs = await tx.realServer.findUnique({ where: { id: ctx.params.id }, include: { virtualService: true } });
          if (!rs) throw new ApiError('API_NOT_FOUND', { what: `Real server ${ctx.params.id}` });
          await tx.realServer.update({ where: { id: rs.id }, data: { state } });
          return { vs: rs.virtualService.name, rs: rs.name, before: rs.state };
        },
        (x) =>
          ctx.audit({
            action: 'real-server.state',
            objectType: 'real-server',
            objectId: ctx.params.id,
            before: { virtualService: x.vs, realServer: x.rs, state: x.before },
            after: { virtualService: x.vs, realServer: x.rs, state },
            outcome: 'success',
          }),
        { isCandidateChange: false },
      );
      let engineResult: string;
      try {
        await engine().setServerState(r.vs, r.rs, state);
        engineResult = 'applied at once';
      } catch (e) {
        engineResult = `stored; the engine did not take it now: ${(e as Error).message}`;
        log('warn', 'server state not taken by the engine', { realServer: r.rs, error: (e as Error).message });
        settler().kick();
      }
      const result = { engine: engineResult };
      return { body: { id: ctx.params.id, state, engine: result.engine } };
    },
  }),
];

/** Issues about the service's realServers.N come back relative to that real server. */
function relocate(e: unknown, index: number): unknown {
  if (!(e instanceof ApiError) || e.code !== 'API_VALIDATION') return e;
  const fields = ((e.details as { fields?: { path: string; message: string }[] })?.fields ?? []).map((f) => ({
    ...f,
    path: f.path.startsWith(`realServers.${index}.`) ? f.path.slice(`realServers.${index}.`.length) : f.path,
  }));
  return validationError(fields.map((f) => ({ path: f.path ? f.path.split('.') : [], message: f.message })));
}
