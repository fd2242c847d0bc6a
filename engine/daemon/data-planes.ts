/**
 * The data planes this engine runs. Each is loaded from its folder; a data plane that is not built yet is replaced
 * by one that accepts its services and says plainly that they are not programmed (never that they are live).
 */
import fs from 'node:fs';
import type { DataPlane, DataPlaneName } from '../dataplane.ts';
import type { EngineLog } from './engine.ts';

export function notProgrammedDataPlane(name: DataPlaneName, reason: string): DataPlane {
  const layer = name === 'l4' ? 4 : 7;
  return {
    name,
    capabilities: async () => ({ dataPlane: name, isAvailable: false, reason }),
    apply: async ({ config }) =>
      config.virtualServices
        .filter((vs) => vs.layer === layer)
        .map((vs) => ({ name: vs.name, layer, status: 'not-programmed' as const, message: `Accepted but not programmed: ${reason}`, code: name === 'l4' ? 'IPVS_UNAVAILABLE' : 'PROXY_LISTEN_FAILED' })),
    counters: async () => new Map(),
    close: async () => undefined,
  };
}

export async function loadDataPlanes(dataDir: string, log: EngineLog): Promise<DataPlane[]> {
  const out: DataPlane[] = [];
  const l4 = new URL('../l4/index.ts', import.meta.url);
  if (fs.existsSync(l4)) {
    const m = (await import(l4.href)) as { createL4DataPlane(o: { dataDir: string; log: EngineLog }): DataPlane };
    out.push(m.createL4DataPlane({ dataDir, log }));
  } else out.push(notProgrammedDataPlane('l4', 'the layer 4 data plane is not part of this build yet'));
  const l7 = new URL('../l7/index.ts', import.meta.url);
  if (fs.existsSync(l7)) {
    const m = (await import(l7.href)) as { createL7DataPlane(o: { dataDir: string; log: EngineLog }): DataPlane };
    out.push(m.createL7DataPlane({ dataDir, log }));
  } else out.push(notProgrammedDataPlane('l7', 'the layer 7 data plane is not part of this build yet'));
  return out;
}
