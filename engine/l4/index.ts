/**
 * Layer 4: IPVS over generic netlink. The daemon uses createL4DataPlane; the CLI and tests may use the parts.
 *   model.ts      Service / Destination (the kernel's identity and settings)
 *   codec.ts      model ⇄ generic netlink attributes (wire diagrams there)
 *   client.ts     the netlink transport (npm netlink@0.3.0)
 *   plan.ts       pure plan(desired, observed, owned) → minimal operations
 *   reconciler.ts read → plan → apply → re-read
 *   desired.ts    Fulcrum config → IPVS table (multi-port design there)
 *   host.ts, nft.ts, ownership.ts   sysctls and VIPs, nftables, what the engine owns
 */
import type { DataPlane } from '../dataplane.ts';
import { createL4DataPlane as create, type L4Options } from './dataplane.ts';

export function createL4DataPlane(opts: { dataDir: string; log?: L4Options['log'] }): DataPlane {
  return create(opts);
}

export { IpvsClient } from './client.ts';
export { plan } from './plan.ts';
export { desiredFromConfig } from './desired.ts';
export { availableSchedulers } from './dataplane.ts';
export type { L4DataPlane, L4Options } from './dataplane.ts';
