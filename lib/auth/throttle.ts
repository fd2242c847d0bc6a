/**
 * Login throttling, kept in the database so a restart does not reset it. Counted per username and per source
 * address: 5 failures within 15 minutes lock that key for 1 minute, doubling with each further failure up to 1 hour.
 * A success clears the username's count (not the address's, so one good password does not unlock a spray).
 */
import { db } from '../db.ts';

const WINDOW_MS = 15 * 60_000;
const FREE_FAILURES = 5;
const BASE_LOCK_MS = 60_000;
const MAX_LOCK_MS = 60 * 60_000;

export function throttleKeys(username: string, sourceAddress: string): string[] {
  return [`user:${username.toLowerCase()}`, `ip:${sourceAddress}`];
}

/** Seconds until a login may be tried again, or 0. */
export async function lockedForSeconds(keys: string[], now = new Date()): Promise<number> {
  const rows = await db().loginThrottle.findMany({ where: { key: { in: keys } } });
  let ms = 0;
  for (const r of rows) if (r.lockedUntil && r.lockedUntil > now) ms = Math.max(ms, r.lockedUntil.getTime() - now.getTime());
  return Math.ceil(ms / 1000);
}

export async function recordFailure(keys: string[], now = new Date()): Promise<void> {
  // A spray of made-up usernames must not grow the table for ever: forget windows that ended a day ago.
  await db().loginThrottle.deleteMany({ where: { windowStart: { lt: new Date(now.getTime() - 86_400_000) }, OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] } });
  for (const key of keys) {
    const r = await db().loginThrottle.findUnique({ where: { key } });
    const isFresh = !r || now.getTime() - r.windowStart.getTime() > WINDOW_MS;
    const failures = isFresh ? 1 : r!.failures + 1;
    const over = failures - FREE_FAILURES;
    const lockedUntil = over >= 0 ? new Date(now.getTime() + Math.min(MAX_LOCK_MS, BASE_LOCK_MS * 2 ** over)) : null;
    await db().loginThrottle.upsert({
      where: { key },
      create: { key, failures, windowStart: now, lockedUntil },
      update: { failures, windowStart: isFresh ? now : r!.windowStart, lockedUntil },
    });
  }
}

export async function recordSuccess(username: string): Promise<void> {
  await db().loginThrottle.deleteMany({ where: { key: `user:${username.toLowerCase()}` } });
}
