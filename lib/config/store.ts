/**
 * Virtual services and real servers as rows, and the check of a proposed candidate against every rule of the one
 * schema, including those across services, with the issues brought back to the paths of the object being edited.
 */
import type { RealServer, VirtualService } from '../../engine/config/index.ts';
import type { Tx } from '../db.ts';

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
  return {
    id: v.id,
    version: v.version,
    ...JSON.parse(v.spec),
    realServers: (v.realServers ?? []).map(rsView),
    createdAt: v.createdAt,
    updatedAt: v.updatedAt,
  };
}

/** The check of an edit against the whole schema, at the cost of the edit (check.ts). */
export { checkCandidate } from './check.ts';

/** The position after every service's, for a new one (a count would repeat a position once one was deleted). */
export async function nextPosition(tx: Tx): Promise<number> {
  const r = await tx.virtualService.aggregate({ _max: { position: true } });
  return (r._max.position ?? -1) + 1;
}
