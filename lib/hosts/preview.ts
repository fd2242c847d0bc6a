/**
 * What a host action would touch, before anything changes: every real server at the address, its service and
 * layer, the state stored here, and what the engine runs for it now (operator state, health, open connections,
 * whether its service is programmed on this machine). Read-only: any role that reads configuration may ask.
 *
 * The engine may be away: the preview then still lists the servers from the database and says the engine did not
 * answer, instead of failing.
 */
import { engine } from '../engine.ts';
import type { EngineStatus, HaStatus } from '../../engine/api-types.ts';
import type { ServiceStatus } from '../../engine/dataplane.ts';
import { serversAt, type HostServer } from './find.ts';

/** An engine sentence inside brackets of ours, without its own closing full stop. */
const bare = (m: string) => m.replace(/\.\s*$/, '');

export interface HostServerPreview extends HostServer {
  /** What the engine runs for this server; null when it does not run it (not applied yet, or engine away). */
  running: { operator: string; health: string; activeConnections: number | null } | null;
  /** The service's result on this machine: programmed, not-programmed, failed; 'not-applied' if the engine has no such service. */
  serviceStatus: 'programmed' | 'not-programmed' | 'failed' | 'removed' | 'not-applied' | 'unknown';
  /** Set when an action on this server would not change traffic here now, in words. */
  notice: string | null;
}

export interface HostPreview {
  address: string;
  servers: HostServerPreview[];
  /** Open connections to this host over every service that reports counters (null: the engine did not answer). */
  activeConnections: number | null;
  engine: { isReachable: boolean; message: string | null };
  /** Set on a node that is not the active one of an HA pair: the traffic is on the peer. */
  haNotice: string | null;
}

/** On a backup (or faulted, stopped) node the virtual IPs are on the peer: a drain here changes no live traffic. */
export function haNotice(ha: HaStatus | undefined): string | null {
  if (!ha?.isEnabled || ha.role === 'master') return null;
  const peer = ha.peers.map((p) => p.name).join(', ') || 'the peer';
  return `This machine is not the active node of its HA pair (keepalived says ${ha.role}): the virtual IPs and their traffic are on ${peer}. The state is set on this machine's engine and counts here are this machine's; drain the host on the active node to move live traffic.`;
}

export function serverNotice(
  s: HostServer,
  svc: ServiceStatus | undefined,
  isReachable: boolean,
): { status: HostServerPreview['serviceStatus']; notice: string | null } {
  if (!isReachable) return { status: 'unknown', notice: 'The engine did not answer: the state is stored and sent when it is back.' };
  if (!svc)
    return {
      status: 'not-applied',
      notice: `${s.virtualService} is not running on this machine yet (it was never applied): the state is stored and goes with the next apply.`,
    };
  if (!svc.realServers.some((r) => r.name === s.realServer)) {
    return {
      status: svc.status,
      notice: `${s.realServer} is staged in ${s.virtualService} but not applied yet: the state is stored and goes with the next apply.`,
    };
  }
  if (svc.status === 'not-programmed')
    return {
      status: svc.status,
      notice: `${s.virtualService} is not programmed on this machine (${bare(svc.message)}): the state is stored and taken by the engine, but no traffic here changes.`,
    };
  if (svc.status === 'failed')
    return {
      status: svc.status,
      notice: `${s.virtualService} failed on this machine (${bare(svc.message)}): the state is stored, but no traffic here changes.`,
    };
  return { status: svc.status, notice: null };
}

export function buildPreview(address: string, servers: HostServer[], status: EngineStatus | null, engineMessage: string | null): HostPreview {
  const isReachable = status !== null;
  let total: number | null = isReachable ? 0 : null;
  const out = servers.map((s): HostServerPreview => {
    const svc = status?.services.find((x) => x.name === s.virtualService);
    const rs = svc?.realServers.find((r) => r.name === s.realServer);
    const { status: serviceStatus, notice } = serverNotice(s, svc, isReachable);
    const active = rs?.counters?.activeConnections ?? null;
    if (total !== null && active !== null) total += active;
    return { ...s, running: rs ? { operator: rs.operator, health: rs.health, activeConnections: active } : null, serviceStatus, notice };
  });
  return {
    address: servers[0]?.address ?? address,
    servers: out,
    activeConnections: total,
    engine: { isReachable, message: engineMessage },
    haNotice: haNotice(status?.ha),
  };
}

/** The preview of `address`; an address no real server has gives an empty list (the route answers 404). */
export async function previewHost(address: string): Promise<HostPreview> {
  const servers = await serversAt(address);
  let status: EngineStatus | null = null;
  let message: string | null = null;
  try {
    status = await engine().status();
  } catch (e) {
    message = (e as Error).message;
  }
  return buildPreview(address, servers, status, message);
}
