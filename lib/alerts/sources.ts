/**
 * Where alerts come from. Each source turns something the console already knows into Alerts; none sends anything.
 *
 *   health  the engine's 'health' events (on the bus, from the live feed): a real server going down or up, and its
 *           virtual service going down (every real server reported for it is down) or up again (one is back)
 *   apply   audit rows of a config version whose outcome is 'failed' (an apply or rollback that did not run)
 *   chain   verifyAuditChain (lib/audit.ts) finding problems, on a schedule: alerted when it turns broken
 *   certs   certificates whose notAfter is within the warning window: alerted once a day each
 */
import type { HealthTransitionEvent } from '../../engine/api-types.ts';
import { db } from '../db.ts';
import { verifyAuditChain } from '../audit.ts';
import type { Alert } from './types.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Follows each real server's health; answers the alerts one transition causes. */
export class HealthTracker {
  private readonly services = new Map<string, Map<string, string>>();
  private readonly downServices = new Set<string>();

  onTransition(e: Pick<HealthTransitionEvent, 'at' | 'virtualService' | 'realServer' | 'previous' | 'health' | 'message' | 'target'>): Alert[] {
    const servers = this.services.get(e.virtualService) ?? new Map<string, string>();
    this.services.set(e.virtualService, servers);
    servers.set(e.realServer, e.health);
    const out: Alert[] = [];
    const subject = `${e.virtualService}/${e.realServer}`;
    if (e.health === 'down' && e.previous !== 'down') {
      out.push({
        kind: 'server-down',
        at: e.at,
        subject,
        severity: 'warning',
        title: `Real server ${e.realServer} of ${e.virtualService} is down`,
        text: `The health check of ${e.realServer} (${e.target}) failed: ${e.message}. It gets no new connections until it passes again.`,
        details: { virtualService: e.virtualService, realServer: e.realServer, target: e.target },
      });
    } else if (e.health === 'up' && e.previous === 'down') {
      out.push({
        kind: 'server-up',
        at: e.at,
        subject,
        severity: 'info',
        title: `Real server ${e.realServer} of ${e.virtualService} is up again`,
        text: `The health check of ${e.realServer} (${e.target}) passes again: ${e.message}.`,
        details: { virtualService: e.virtualService, realServer: e.realServer, target: e.target },
      });
    }
    const isAllDown = [...servers.values()].every((h) => h === 'down');
    if (isAllDown && !this.downServices.has(e.virtualService)) {
      this.downServices.add(e.virtualService);
      out.push({
        kind: 'service-down',
        at: e.at,
        subject: e.virtualService,
        severity: 'critical',
        title: `Virtual service ${e.virtualService} is down: no real server passes its health check`,
        text: `Every real server of ${e.virtualService} (${[...servers.keys()].join(', ')}) is down. Clients of this service get no answer.`,
        details: { virtualService: e.virtualService, realServers: [...servers.keys()] },
      });
    } else if (!isAllDown && this.downServices.has(e.virtualService)) {
      this.downServices.delete(e.virtualService);
      out.push({
        kind: 'service-up',
        at: e.at,
        subject: e.virtualService,
        severity: 'info',
        title: `Virtual service ${e.virtualService} is up again`,
        text: `${e.realServer} passes its health check again, so ${e.virtualService} answers clients.`,
        details: { virtualService: e.virtualService },
      });
    }
    return out;
  }
}

/** Failed applies and rollbacks written after `afterId`; answers them and the newest id seen. */
export async function failedApplies(afterId: number): Promise<{ alerts: Alert[]; lastId: number }> {
  const rows = await db().auditEvent.findMany({
    where: { id: { gt: afterId } },
    orderBy: { id: 'asc' },
    take: 1000,
    select: { id: true, at: true, action: true, objectType: true, objectId: true, outcome: true, actor: true, message: true },
  });
  const alerts = rows
    .filter((r) => r.objectType === 'config-version' && r.outcome === 'failed')
    .map(
      (r): Alert => ({
        kind: 'apply-failed',
        at: r.at.toISOString(),
        subject: `version ${r.objectId ?? '?'}`,
        severity: 'critical',
        title: `Configuration version ${r.objectId ?? '?'} did not apply`,
        text: `${r.action} by ${r.actor} failed${r.message ? `: ${r.message}` : ''}. The last good version keeps running.`,
        details: { action: r.action, version: r.objectId, actor: r.actor },
      }),
    );
  return { alerts, lastId: rows.length ? rows[rows.length - 1].id : afterId };
}

export const newestAuditId = async () => (await db().auditEvent.aggregate({ _max: { id: true } }))._max.id ?? 0;

/** Certificates that expire within `warnDays` of `now` (or have expired). */
export async function expiringCertificates(now: Date, warnDays: number): Promise<Alert[]> {
  const rows = await db().certificate.findMany({
    where: { notAfter: { lt: new Date(now.getTime() + warnDays * DAY_MS) } },
    select: { id: true, name: true, subject: true, notAfter: true },
    orderBy: { notAfter: 'asc' },
  });
  return rows.map((c) => {
    const days = Math.floor((c.notAfter.getTime() - now.getTime()) / DAY_MS);
    const when =
      days < 0
        ? `expired on ${c.notAfter.toISOString().slice(0, 10)}`
        : days === 0
          ? 'expires today'
          : `expires in ${days} day${days === 1 ? '' : 's'} (${c.notAfter.toISOString().slice(0, 10)})`;
    return {
      kind: 'certificate-expiring',
      at: now.toISOString(),
      subject: c.name,
      severity: days < 7 ? 'critical' : 'warning',
      title: `Certificate ${c.name} ${when}`,
      text: `The certificate ${c.name} (${c.subject}) ${when}. Replace it under Certificates before clients refuse the service.`,
      details: { certificate: c.name, notAfter: c.notAfter.toISOString(), days },
    };
  });
}

/** The audit chain's verification as an alert, or none when it verifies. */
export async function chainAlert(now: Date): Promise<Alert | undefined> {
  const r = await verifyAuditChain();
  if (r.isIntact || !r.problems.length) return undefined;
  const first = r.problems[0];
  return {
    kind: 'audit-chain-broken',
    at: now.toISOString(),
    subject: 'audit chain',
    severity: 'critical',
    title: 'The audit trail failed to verify',
    text: `Verifying the audit chain found ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}; the first at row ${first.id}: ${first.reason}. Someone may have changed or removed audit rows; see Audit → Verify.`,
    details: { problems: r.problems.length, first: first.kind },
  };
}
