/**
 * `fulcrumctl apply`: program a configuration's layer 4 services now, with the operator states written in it
 * (online / drain / halt; health counts as unknown = up). Prints a line per service; exit 1 if any failed.
 */
import { decideServer, type ServerDecision } from '../server-state.ts';
import { createL4DataPlane } from '../l4/dataplane.ts';
import type { ServerKey } from '../dataplane.ts';
import { timeoutsText } from '../l4/timeouts.ts';
import { loadConfig } from './load-config.ts';
import type { Io } from './main.ts';

export async function runApply(file: string, dataDir: string, io: Io): Promise<number> {
  const loaded = loadConfig(file);
  if (loaded.problems) {
    io.err(`Configuration file ${file} is not valid; nothing applied:`);
    for (const p of loaded.problems) io.err(`  ${p}`);
    return 1;
  }
  const config = loaded.config;
  const decisions = new Map<ServerKey, ServerDecision>();
  for (const vs of config.virtualServices)
    for (const rs of vs.realServers) decisions.set(`${vs.name}/${rs.name}`, decideServer(rs.state, 'unknown', rs.weight));
  const dp = createL4DataPlane({ dataDir, log: (level, msg) => level !== 'info' && io.err(`${level}: ${msg}`) });
  try {
    const cap = await dp.capabilities();
    if (!cap.isAvailable) {
      io.err(cap.reason!);
      return 2;
    }
    const results = await dp.apply({ config, decisions });
    let failed = 0;
    for (const r of results) {
      if (r.status === 'failed') failed++;
      io.out(`${r.status.padEnd(9)} ${r.name}: ${r.message}${r.code ? ` [${r.code}]` : ''}`);
    }
    const la = dp.lastApply;
    if (la && Object.keys(la.timeouts.changed).length) io.out(`IPVS timeouts set: ${timeoutsText(la.timeouts.changed)}.`);
    if (la)
      io.out(
        `${la.operations} netlink operation${la.operations === 1 ? '' : 's'} (${la.depth} read); ${config.virtualServices.filter((v) => v.layer === 7).length} layer 7 service(s) left to the daemon.`,
      );
    return failed ? 1 : 0;
  } finally {
    await dp.close();
  }
}
