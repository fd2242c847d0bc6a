/**
 * Virtual services and real servers as rows, and the check of a proposed candidate against every rule of the one
 * schema, including those across services, with the issues brought back to the paths of the object being edited.
 */
import { ConfigSchema, type RealServer, type VirtualService } from '../../engine/config/index.ts';
import { ApiError, validationError } from '../errors.ts';
import type { Tx } from '../db.ts';
import { renderCandidate } from './render.ts';

type VsRow = { id: string; name: string; version: number; spec: string; createdAt: Date; updatedAt: Date; realServers?: RsRow[] };
type RsRow = { id: string; name: string; version: number; spec: string; state: string; createdAt: Date; updatedAt: Date };

export function vsColumns(vs: VirtualService) {
  const { realServers: _rs, ...spec } = vs;
  return { name: vs.name, layer: vs.layer, mode: vs.mode, address: vs.address, spec: JSON.stringify(spec) };
}

export function rsColumns(rs: RealServer) {
  const { state: _s, ...spec } = rs;
  return { name: rs.name, address: rs.address, port: rs.port ?? null, spec: JSON.stringify(spec) };
}

export function rsView(r: RsRow) {
  return { id: r.id, version: r.version, ...JSON.parse(r.spec), state: r.state, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

export function vsView(v: VsRow) {
  return { id: v.id, version: v.version, ...JSON.parse(v.spec), realServers: (v.realServers ?? []).map(rsView), createdAt: v.createdAt, updatedAt: v.updatedAt };
}

/**
 * Checks the whole candidate with `vs` put in place of the service named `replacing` (or added). Issues about that
 * service come back with paths relative to it ("realServers.1.port"); issues elsewhere keep their full path.
 */
export async function checkCandidate(tx: Tx, vs: VirtualService, replacing?: string): Promise<void> {
  const cand = await renderCandidate(tx);
  const list = cand.virtualServices.filter((v) => v.name !== replacing && v.name !== vs.name);
  const at = replacing ? cand.virtualServices.findIndex((v) => v.name === replacing) : -1;
  const index = at >= 0 ? Math.min(at, list.length) : list.length;
  list.splice(index, 0, vs);
  if (replacing !== vs.name && cand.virtualServices.some((v) => v.name === vs.name)) {
    throw new ApiError('API_VALIDATION', { summary: `name: A virtual service named "${vs.name}" already exists.` }, { fields: [{ path: 'name', message: `A virtual service named "${vs.name}" already exists.` }] });
  }
  const r = ConfigSchema.safeParse({ ...cand, virtualServices: list });
  if (r.success) return;
  const prefix = ['virtualServices', index];
  const issues = r.error.issues.map((i) => {
    const isOurs = i.path[0] === prefix[0] && i.path[1] === prefix[1];
    return { ...i, path: isOurs ? i.path.slice(2) : i.path };
  });
  throw validationError(issues);
}
