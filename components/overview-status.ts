/**
 * The overview's live status of the services it shows, updated from the live feed's 'stats' and 'health' events
 * without asking the server again. Pure functions: a service an event leaves as it was keeps its object, so its
 * memoised card (overview-card.tsx) is not rendered again.
 */
import type { HealthEvent, ServiceStatus } from './overview-types';

/**
 * The shown services' status from a 'stats' event. A service whose status the event leaves as it was keeps its object
 * (its card is not rendered again). A 'stats' event is a snapshot taken a moment before it is sent: one taken before
 * a transition the browser already shows must not put the old health back for two seconds, so a server keeps the
 * newer of the two.
 */
export function withStats(
  current: ReadonlyMap<string, ServiceStatus>,
  incoming: ServiceStatus[],
  shown: { name: string }[],
): ReadonlyMap<string, ServiceStatus> {
  const names = new Set(shown.map((s) => s.name));
  const next = new Map(current);
  let isChanged = false;
  for (const s of incoming) {
    if (!names.has(s.name)) continue;
    const cur = current.get(s.name);
    const merged = cur ? keepNewerHealth(cur, s) : s;
    if (cur && JSON.stringify(cur) === JSON.stringify(merged)) continue;
    next.set(s.name, merged);
    isChanged = true;
  }
  return isChanged ? next : current;
}

function keepNewerHealth(cur: ServiceStatus, s: ServiceStatus): ServiceStatus {
  const mine = new Map(cur.realServers.map((r) => [r.name, r.check]));
  return {
    ...s,
    realServers: s.realServers.map((r) => {
      const check = mine.get(r.name);
      return check && r.check && Date.parse(check.since) > Date.parse(r.check.since) ? { ...r, health: check.health, check } : r;
    }),
  };
}

/** One server's row updated from a health event: its health, and the check's last result (the transition's). */
export function withTransition(current: ReadonlyMap<string, ServiceStatus>, h: HealthEvent): ReadonlyMap<string, ServiceStatus> {
  const s = current.get(h.virtualService);
  if (!s) return current;
  const next = new Map(current);
  next.set(h.virtualService, {
    ...s,
    realServers: s.realServers.map((r) =>
      r.name !== h.realServer
        ? r
        : {
            ...r,
            health: h.health,
            check: {
              ...r.check,
              type: h.check,
              target: h.target,
              health: h.health,
              since: h.at,
              code: h.code,
              message: h.message,
              durationMs: h.durationMs,
              lastCheckAt: h.at,
            },
          },
    ),
  });
  return next;
}
