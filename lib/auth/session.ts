/**
 * Who is asking: a session cookie (people) or an API key (automation).
 *
 * Session cookie: 32 random bytes, HttpOnly, Secure, SameSite=Strict; the database keeps only its SHA-256. Sessions
 * end after 8 hours, or 30 minutes without use. Cookie-authenticated mutations must carry the session's CSRF token in
 * `X-CSRF-Token` (SameSite=Strict already blocks cross-site sends; the token covers same-site attackers and old
 * browsers). API keys: "fk_<prefix>_<secret>", sent as `Authorization: Bearer`, stored as SHA-256, need no CSRF token.
 *
 * Both follow their user on every request: a session or key of a disabled user authenticates nobody (a deleted user's
 * rows are gone with it), and a key acts with `effectiveRole(key's role, owner's current role)`, so demoting the owner
 * takes the key's power at once. Demotion, disabling and deletion also end the user's sessions (lib/api/routes/auth.ts)
 * and, through the audit event they write, close the user's live feeds (lib/live.ts).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { parseCookie } from 'cookie';
import { sha256Hex } from '../../engine/canonical.ts';
import { db, sqlQuery, type Tx } from '../db.ts';
import { Prisma } from '../generated/prisma/client.ts';
import { consoleEnv } from '../env.ts';
import { effectiveRole, isRole, type Role } from './roles.ts';

export const SESSION_COOKIE = 'fulcrum_session';
const SESSION_MAX_MS = 8 * 3600_000;
const SESSION_IDLE_MS = 30 * 60_000;

export interface Actor {
  kind: 'user' | 'api-key' | 'anonymous';
  /** User id (for api keys, the owner's). */
  userId?: string;
  name: string;
  role?: Role;
  sessionId?: string;
  csrfToken?: string;
  apiKeyId?: string;
  /** For API keys: the role the key was made with (its effective role, `role`, may be less). */
  keyRole?: Role;
  /** An admin reset this user's password: until they choose their own, only the routes that let them do so answer. */
  mustChangePassword?: boolean;
}

export const ANONYMOUS: Actor = Object.freeze({ kind: 'anonymous', name: 'anonymous' });

const token = (bytes: number) => randomBytes(bytes).toString('base64url');

/** Pass the transaction that also writes the login's audit row. */
export async function createSession(tx: Tx, userId: string, sourceAddress: string): Promise<{ cookieValue: string; csrfToken: string; expiresAt: Date }> {
  const cookieValue = token(32);
  const csrfToken = token(24);
  const expiresAt = new Date(Date.now() + SESSION_MAX_MS);
  await tx.session.create({ data: { id: sha256Hex(cookieValue), userId, csrfToken, sourceAddress, expiresAt } });
  return { cookieValue, csrfToken, expiresAt };
}

export function sessionCookie(value: string, expiresAt: Date): string {
  const secure = consoleEnv().isInsecureHttp ? '' : '; Secure';
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict${secure}; Expires=${expiresAt.toUTCString()}`;
}

export function clearedSessionCookie(): string {
  const secure = consoleEnv().isInsecureHttp ? '' : '; Secure';
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict${secure}; Max-Age=0`;
}

/** One cookie's value from a Cookie header (RFC 6265 parsing by the `cookie` package); undefined when absent. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  return parseCookie(header)[name];
}

/** Clock and caller for the lookups below; tests pass a clock. */
export interface LookupOptions {
  now?: Date;
  /**
   * Whether this use keeps the session alive (refreshes its idle clock) or records the key's last use. The live
   * feed's re-checks pass false: an open feed alone must not keep a session from idling out.
   */
  isUse?: boolean;
  /** Recorded as the key's last address. */
  sourceAddress?: string;
}

/** The actor behind a cookie value, refreshing its idle clock; undefined when expired, unknown or disabled. */
export async function actorFromSession(cookieValue: string, opts: LookupOptions = {}): Promise<Actor | undefined> {
  const id = sha256Hex(cookieValue);
  // One JOIN on every request: Prisma's `include: { user: true }` ran two SELECTs through its query compiler, about
  // 1.3 ms of CPU per request (bench/api-edit.ts); this plain SELECT costs about 0.2 ms. The adapter gives DATETIME
  // columns back as Dates and BOOLEAN ones as booleans, as Prisma's own reads do.
  const [s] = await sqlQuery<
    { userId: string; csrfToken: string; expiresAt: Date; lastSeenAt: Date; username: string; role: string; isDisabled: boolean; mustChangePassword: boolean }[]
  >(
    db(),
    Prisma.sql`SELECT s.userId, s.csrfToken, s.expiresAt, s.lastSeenAt, u.username, u.role, u.isDisabled, u.mustChangePassword
    FROM "Session" s JOIN "User" u ON u.id = s.userId WHERE s.id = ${id}`,
  );
  const now = (opts.now ?? new Date()).getTime();
  if (!s || s.isDisabled || !isRole(s.role) || s.expiresAt.getTime() < now || now - s.lastSeenAt.getTime() > SESSION_IDLE_MS) {
    if (s)
      await db()
        .session.deleteMany({ where: { id } })
        .catch(() => undefined);
    return undefined;
  }
  if (opts.isUse !== false && now - s.lastSeenAt.getTime() > 60_000) await db().session.updateMany({ where: { id }, data: { lastSeenAt: new Date(now) } });
  return {
    kind: 'user',
    userId: s.userId,
    name: s.username,
    role: s.role,
    sessionId: id,
    csrfToken: s.csrfToken,
    mustChangePassword: s.mustChangePassword,
  };
}

export type ApiKeyCheck =
  | { actor: Actor }
  | { actor?: undefined; reason: 'malformed' | 'unknown' | 'revoked' | 'owner-disabled' }
  | { actor?: undefined; reason: 'expired'; expiresAt: Date };

/**
 * Checks a bearer key on every request. Accepts a key that exists, matches its hash, is not revoked or expired and
 * whose owner is enabled; its role is then the effective role (never more than the owner's role now). Records the
 * last use (time and address) at most once a minute, so a busy pipeline does not write on every request.
 */
export async function checkApiKey(key: string, opts: LookupOptions = {}): Promise<ApiKeyCheck> {
  const m = /^fk_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{20,})$/.exec(key);
  if (!m) return { reason: 'malformed' };
  const row = await db().apiKey.findUnique({ where: { prefix: m[1] }, include: { user: true } });
  if (!row) return { reason: 'unknown' };
  const a = Buffer.from(row.keyHash, 'hex');
  const b = Buffer.from(sha256Hex(key), 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { reason: 'unknown' };
  if (row.revokedAt) return { reason: 'revoked' };
  if (row.user.isDisabled || !isRole(row.user.role) || !isRole(row.role)) return { reason: 'owner-disabled' };
  const now = opts.now ?? new Date();
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime()) return { reason: 'expired', expiresAt: row.expiresAt };
  if (opts.isUse !== false && (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000)) {
    await db().apiKey.updateMany({ where: { id: row.id }, data: { lastUsedAt: now, lastUsedFrom: opts.sourceAddress ?? row.lastUsedFrom } });
  }
  return {
    actor: {
      kind: 'api-key',
      userId: row.userId,
      name: `${row.user.username}/key:${row.name}`,
      role: effectiveRole(row.role, row.user.role),
      keyRole: row.role,
      apiKeyId: row.id,
    },
  };
}

/** A new API key: the whole key is shown once; only its prefix and hash are kept. */
export function newApiKey(): { key: string; prefix: string; keyHash: string } {
  const prefix = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8);
  const key = `fk_${prefix}_${token(30)}`;
  return { key, prefix, keyHash: sha256Hex(key) };
}

export async function destroySession(tx: Tx, sessionId: string): Promise<void> {
  await tx.session.deleteMany({ where: { id: sessionId } });
}
