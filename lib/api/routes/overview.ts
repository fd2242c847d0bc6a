/**
 * GET /overview: what the overview page shows, and only that — one page of services (filtered and sorted over all of
 * them) with the engine's status of those services, the engine's summary, the last apply and the HA role.
 *
 * Why a route of its own (issue 13 item 2): at 1,000 services × 4 real servers the page used to fetch every service
 * (GET /virtual-services, 1.4 MiB, each parsed by its output schema) and the engine's status of every service
 * (GET /status, 2.3 MiB) and to ask GET /ha (which hashes every server state) just to know whether this node is a
 * secondary, and then all of it again when the live feed said hello: 1.6 s before its first 25 cards showed.
 */
import { z } from 'zod';
import { db } from '../../db.ts';
import { engine } from '../../engine.ts';
import type { StatusOptions } from '../../../engine/client/index.ts';
import { supervisorState } from '../../engine-supervisor.ts';
import { loadPeer } from '../../ha/state.ts';
import { RS_ORDER } from '../../config/render.ts';
import { vsView } from '../../config/store.ts';
import { defineRoute } from '../route.ts';
import { VirtualServiceView } from '../views.ts';

export const OVERVIEW_SORTS = ['order', 'name', 'problems'] as const;

const OverviewQuery = z.strictObject({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  /** Matches a service's name, VIP or description, or a real server's name or address (case-insensitive). */
  q: z.string().max(200).default(''),
  /** order: as configured; name: A–Z; problems: not programmed first, then those with a server down. */
  sort: z.enum(OVERVIEW_SORTS).default('order'),
});

/** The engine's status of one service (engine/api-types.ts ServiceStatus), passed through as the engine words it. */
type ServiceStatus = { name: string; status: string; realServers?: { health?: string }[] };
type EngineStatus = { running: { version: number; hash: string; appliedAt: string } | null; capabilities: unknown[]; services: ServiceStatus[] };

export const OverviewView = z.object({
  total: z.number().int(),
  matching: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
  items: z.array(VirtualServiceView.extend({ status: z.unknown().nullable() })),
  engine: z.object({
    isReachable: z.boolean(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    supervisor: z.unknown().nullable(),
    running: z.unknown().nullable(),
    capabilities: z.array(z.unknown()),
  }),
  isInSync: z.boolean().nullable(),
  lastApply: z.object({ id: z.number().int(), status: z.string(), author: z.string(), createdAt: z.iso.datetime(), error: z.string().nullable() }).nullable(),
  ha: z.object({ role: z.string(), peerName: z.string() }).nullable(),
});

/** How badly a service is doing, for sort=problems: 2 not programmed (or not applied), 1 a real server down. */
function trouble(st: ServiceStatus | undefined): number {
  if (st?.status !== 'programmed') return 2;
  return (st.realServers ?? []).some((r) => r.health === 'down') ? 1 : 0;
}

/** The engine's status: `services` only, and in `detail` (engine/client StatusOptions); its error when unreachable. */
async function engineStatus(opts: StatusOptions): Promise<{ status: EngineStatus | null; error: { code: string; message: string } | null }> {
  try {
    return { status: (await engine().status(opts)) as unknown as EngineStatus, error: null };
  } catch (e) {
    return { status: null, error: { code: (e as { code?: string }).code ?? 'ENGINE_UNREACHABLE', message: (e as Error).message } };
  }
}

/** The services whose name, VIP or description, or one of whose real servers' name or address, contains `q` (any case). */
function matchingServices<T extends { id: string; name: string; address: string; spec: string }>(
  services: T[],
  servers: { virtualServiceId: string; name: string; address: string }[],
  q: string,
): T[] {
  const f = q.trim().toLowerCase();
  if (!f) return [...services];
  const serversOf = new Map<string, string[]>();
  for (const r of servers) {
    const list = serversOf.get(r.virtualServiceId);
    if (list) list.push(r.name, r.address);
    else serversOf.set(r.virtualServiceId, [r.name, r.address]);
  }
  return services.filter((vs) => {
    const description = (JSON.parse(vs.spec) as { description?: string }).description ?? '';
    return [vs.name, vs.address, description, ...(serversOf.get(vs.id) ?? [])].some((x) => x.toLowerCase().includes(f));
  });
}

async function lastVersions() {
  // Neither snapshot (the whole configuration) is read: the overview needs the hash and the outcome.
  const select = { id: true, hash: true, status: true, authorName: true, createdAt: true, result: true } as const;
  const [running, last] = await Promise.all([
    db().configVersion.findFirst({ where: { status: 'applied' }, orderBy: { id: 'desc' }, select: { id: true, hash: true } }),
    db().configVersion.findFirst({ where: { status: { in: ['applied', 'failed'] } }, orderBy: { id: 'desc' }, select }),
  ]);
  const error = last?.result ? ((JSON.parse(last.result) as { error?: { message?: string } }).error?.message ?? null) : null;
  return {
    running,
    lastApply: last ? { id: last.id, status: last.status, author: last.authorName, createdAt: last.createdAt.toISOString(), error } : null,
  };
}

export const overviewRoutes = [
  defineRoute({
    method: 'GET',
    path: '/overview',
    query: OverviewQuery,
    response: OverviewView,
    permission: 'config:read',
    tag: 'status',
    action: 'overview.read',
    objectType: 'status',
    summary: "The overview's page of services (filtered and sorted over all of them) with their engine status, and the engine's summary",
    async handler(ctx) {
      const { offset, limit, q, sort } = ctx.query;
      const t0 = performance.now();
      const took = <T>(p: Promise<T>): Promise<[T, number]> => p.then((v) => [v, performance.now() - t0]);
      const timed = async <T>(p: Promise<T>): Promise<[T, number]> => {
        const t = performance.now();
        return [await p, performance.now() - t];
      };
      // Every service's searchable fields only, in two flat reads (a nested select of the real servers took 150 ms
      // at 1,000 × 4; these two take 15 ms each); the page's services are read whole below. Only sort=problems needs
      // every service's engine status, and of that only results and health (detail=health: no counters, no checks).
      const [[services, dbMs], servers, versions, peer, [health, healthMs]] = await Promise.all([
        took(
          db().virtualService.findMany({ orderBy: [{ position: 'asc' }, { createdAt: 'asc' }], select: { id: true, name: true, address: true, spec: true } }),
        ),
        db().realServer.findMany({ select: { virtualServiceId: true, name: true, address: true } }),
        lastVersions(),
        loadPeer(),
        sort === 'problems' ? timed(engineStatus({ detail: 'health' })) : ([null, 0] as const),
      ]);
      const t1 = performance.now();
      const matching = matchingServices(services, servers, q);
      // Array.prototype.sort is stable: equal keys keep the configured order.
      if (sort === 'name') matching.sort((a, b) => a.name.localeCompare(b.name, 'en'));
      else if (sort === 'problems') {
        const healthByName = new Map((health?.status?.services ?? []).map((s) => [s.name, s]));
        matching.sort((a, b) => trouble(healthByName.get(b.name)) - trouble(healthByName.get(a.name)));
      }
      const shown = matching.slice(offset, offset + limit);
      const ids = shown.map((vs) => vs.id);
      // The engine's full status of the page's services only (at 1,000 services, all of them took 328 ms).
      const [rows, [eng, pageEngineMs]] = await Promise.all([
        db().virtualService.findMany({ where: { id: { in: ids } }, include: { realServers: { orderBy: RS_ORDER } } }),
        timed(engineStatus({ services: shown.map((vs) => vs.name) })),
      ]);
      const engineMs = healthMs + pageEngineMs;
      const statusByName = new Map((eng.status?.services ?? []).map((s) => [s.name, s]));
      const byId = new Map(rows.map((r) => [r.id, r]));
      const items = ids.flatMap((id) => {
        const row = byId.get(id);
        // A service deleted between the two reads is left out rather than shown half.
        return row ? [{ ...vsView(row), status: statusByName.get(row.name) ?? null }] : [];
      });
      const engineRunning = eng.status?.running ?? null;
      return {
        // Where the answer's time went, for the browser's own timings: waiting on the engine's status (every
        // service's health for sort=problems, then the page's services), the services read (from the handler's
        // start), and the page read and put together after it.
        headers: {
          'server-timing': `engine;dur=${engineMs.toFixed(1)}, index;dur=${dbMs.toFixed(1)}, page;dur=${(performance.now() - t1).toFixed(1)}, total;dur=${(performance.now() - t0).toFixed(1)}`,
        },
        body: {
          total: services.length,
          matching: matching.length,
          offset,
          limit,
          items,
          engine: {
            isReachable: eng.status !== null,
            error: eng.error,
            supervisor: supervisorState() ?? null,
            running: engineRunning,
            capabilities: eng.status?.capabilities ?? [],
          },
          isInSync: eng.status === null ? null : (engineRunning?.hash ?? null) === (versions.running?.hash ?? null),
          lastApply: versions.lastApply,
          ha: peer ? { role: peer.role, peerName: peer.peerName } : null,
        },
      };
    },
  }),
];
