/**
 * `fulcrumctl check`: validate like `haproxy -c`. Prints every problem with its field path, or a summary of what the
 * configuration asks of the kernel (IPVS services per layer 4 virtual service, VIPs, SNAT rules).
 */
import { desiredFromConfig } from '../l4/desired.ts';
import { serviceText } from '../l4/model.ts';
import { ENGINE_ERRORS, fillMessage } from '../errors.ts';
import { timeoutsText, wantedTimeouts } from '../l4/timeouts.ts';
import { loadConfig } from './load-config.ts';
import type { Io } from './main.ts';

export function runCheck(file: string, io: Io): number {
  const loaded = loadConfig(file);
  if (loaded.problems) {
    io.err(`Configuration file ${file} is not valid (${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}):`);
    for (const p of loaded.problems) io.err(`  ${p}`);
    return 1;
  }
  const cfg = loaded.config;
  const d = desiredFromConfig(cfg, new Map());
  if (d.refused.length) {
    io.err(`Configuration file ${file} cannot be programmed:`);
    for (const r of d.refused) io.err(`  ${r.virtualService}: ${fillMessage(ENGINE_ERRORS[r.code].message, r.params)}`);
    return 1;
  }
  const l4 = cfg.virtualServices.filter((v) => v.layer === 4);
  const l7 = cfg.virtualServices.filter((v) => v.layer === 7);
  io.out(`Configuration file ${file} is valid: ${cfg.virtualServices.length} virtual services (${l4.length} layer 4, ${l7.length} layer 7).`);
  for (const vs of l4) {
    const svcs = d.services.filter((s) => s.virtualService === vs.name);
    const what = vs.isEnabled
      ? svcs
          .map((s) => `${serviceText(s.service)} ${s.service.scheduler} (${s.destinations.length} real server${s.destinations.length === 1 ? '' : 's'})`)
          .join(', ')
      : 'disabled';
    io.out(`  ${vs.name} [${vs.mode}]: ${what}`);
  }
  if (d.vips.length) io.out(`  VIPs to bring up: ${d.vips.map((v) => `${v.address} on ${v.interface}`).join(', ')}`);
  if (d.snat.length || d.marks.length) io.out(`  nftables table inet fulcrum_l4: ${d.snat.length} SNAT rule(s), ${d.marks.length} marking rule(s)`);
  if (cfg.layer4?.timeouts && Object.keys(wantedTimeouts(cfg.layer4.timeouts)).length)
    io.out(`  IPVS timeouts: ${timeoutsText(wantedTimeouts(cfg.layer4.timeouts))}`);
  if (d.sysctls.size) io.out(`  sysctls: ${[...d.sysctls].map(([k, v]) => `${k.replace(/\//g, '.')}=${v}`).join(', ')}`);
  return 0;
}
