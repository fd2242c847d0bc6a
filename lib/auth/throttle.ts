/**
 * Login throttling, kept in the database so a restart does not reset it.
 *
 * Failures are counted per (username, source address) pair: 5 failures within 15 minutes lock that pair for 1
 * minute, doubling with each further failure up to 1 hour. Keying by the pair, not by the address alone, means one
 * address guessing at one account (or a colleague mistyping behind the same NAT) cannot lock anyone else out, and
 * nobody can lock an account out from an address they do not hold.
 *
 * A pair alone would let a spray (many usernames, or many addresses) guess without bound, so a global backstop counts
 * every failure on the console: 100 within 15 minutes lock logins for 1 minute, doubling up to 15 minutes. The
 * backstop does not hold back a pair that logged in successfully within the last 30 days ("known": the admin at their
 * usual workstation), so an attack that trips it still cannot lock out the people who run the appliance.
 *
 *   row key                        │ counts                     │ locks
 *   ───────────────────────────────┼────────────────────────────┼───────────────────────────────────────────
 *   pair:<sha256(user)>|<address>  │ failures of that pair      │ that pair
 *   global                         │ every failure              │ every pair that is not known
 *   known:<sha256(user)>|<address> │ last success of that pair  │ nothing (exempts the pair from global)
 *
 * Usernames are stored hashed: a password typed into the username box must not be kept in clear, here or in the
 * audit trail. A success clears its pair's count; it never clears the global count.
 */
import { sha256Hex } from '../../engine/canonical.ts';
import { db } from '../db.ts';

export interface ThrottlePolicy {
  windowMs: number;
  freeFailures: number;
  baseLockMs: number;
  maxLockMs: number;
}

export const PAIR_POLICY: ThrottlePolicy = Object.freeze({ windowMs: 15 * 60_000, freeFailures: 5, baseLockMs: 60_000, maxLockMs: 60 * 60_000 });
export const GLOBAL_POLICY: ThrottlePolicy = Object.freeze({ windowMs: 15 * 60_000, freeFailures: 100, baseLockMs: 60_000, maxLockMs: 15 * 60_000 });
/** How long a successful login exempts its pair from the global backstop. */
export const KNOWN_PAIR_MS = 30 * 86_400_000;
const FORGET_MS = 86_400_000;

export interface ThrottleKeys {
  pair: string;
  known: string;
  global: string;
}

export function throttleKeys(username: string, sourceAddress: string): ThrottleKeys {
  const who = `${sha256Hex(username.toLowerCase()).slice(0, 32)}|${sourceAddress}`;
  return { pair: `pair:${who}`, known: `known:${who}`, global: 'global' };
}

export interface ThrottleState {
  /** Seconds until this pair may try again, or 0. */
  seconds: number;
  /** Which limit holds it: this user from this address, or the console-wide backstop. */
  scope?: 'pair' | 'global';
}

export async function throttleState(keys: ThrottleKeys, now = new Date()): Promise<ThrottleState> {
  const rows = await db().loginThrottle.findMany({ where: { key: { in: [keys.pair, keys.global, keys.known] } } });
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const left = (key: string) => {
    const until = byKey.get(key)?.lockedUntil;
    return until && until > now ? until.getTime() - now.getTime() : 0;
  };
  const known = byKey.get(keys.known);
  const isKnown = !!known && now.getTime() - known.windowStart.getTime() < KNOWN_PAIR_MS;
  const pairMs = left(keys.pair);
  const globalMs = isKnown ? 0 : left(keys.global);
  if (pairMs === 0 && globalMs === 0) return { seconds: 0 };
  return { seconds: Math.ceil(Math.max(pairMs, globalMs) / 1000), scope: pairMs >= globalMs ? 'pair' : 'global' };
}

function next(r: { failures: number; windowStart: Date } | null, policy: ThrottlePolicy, now: Date) {
  const isFresh = !r || now.getTime() - r.windowStart.getTime() > policy.windowMs;
  const failures = isFresh ? 1 : r!.failures + 1;
  const over = failures - policy.freeFailures;
  const lockedUntil = over >= 0 ? new Date(now.getTime() + Math.min(policy.maxLockMs, policy.baseLockMs * 2 ** over)) : null;
  return { failures, windowStart: isFresh ? now : r!.windowStart, lockedUntil };
}

export async function recordFailure(keys: ThrottleKeys, now = new Date()): Promise<void> {
  // One transaction (the adapter serialises them), so parallel failures each count.
  await db().$transaction(async (tx) => {
    // A spray of made-up usernames must not grow the table for ever: forget windows that ended a day ago.
    await tx.loginThrottle.deleteMany({
      where: {
        key: { not: { startsWith: 'known:' } },
        windowStart: { lt: new Date(now.getTime() - FORGET_MS) },
        OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }],
      },
    });
    for (const [key, policy] of [
      [keys.pair, PAIR_POLICY],
      [keys.global, GLOBAL_POLICY],
    ] as const) {
      const n = next(await tx.loginThrottle.findUnique({ where: { key } }), policy, now);
      await tx.loginThrottle.upsert({ where: { key }, create: { key, ...n }, update: n });
    }
  });
}

export async function recordSuccess(keys: ThrottleKeys, now = new Date()): Promise<void> {
  await db().$transaction(async (tx) => {
    await tx.loginThrottle.deleteMany({ where: { key: keys.pair } });
    await tx.loginThrottle.upsert({ where: { key: keys.known }, create: { key: keys.known, failures: 0, windowStart: now }, update: { windowStart: now } });
    await tx.loginThrottle.deleteMany({ where: { key: { startsWith: 'known:' }, windowStart: { lt: new Date(now.getTime() - KNOWN_PAIR_MS) } } });
  });
}
