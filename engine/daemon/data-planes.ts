/**
 * The data planes this engine runs: layer 4 (IPVS) and layer 7 (the proxy). Each loads on any machine and says per
 * service what it cannot do here (layer 4 answers not-programmed, with the reason, where the kernel has no IPVS).
 */
import type { DataPlane } from '../dataplane.ts';
import type { EngineLog } from './engine.ts';
import { createL4DataPlane } from '../l4/index.ts';
import { createL7DataPlane } from '../l7/index.ts';

export function loadDataPlanes(dataDir: string, log: EngineLog): DataPlane[] {
  const planeLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => log(level, msg, fields as Record<string, unknown> | undefined);
  return [createL4DataPlane({ dataDir, log: planeLog }), createL7DataPlane({ dataDir, log: planeLog })];
}
