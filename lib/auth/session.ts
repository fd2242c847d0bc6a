/**
 * Who is asking: a session cookie (people) or an API key (automation).
 *
 * Session cookie: 32 random bytes, HttpOnly, Secure, SameSite=Strict; the database keeps only its SHA-256. Sessions
 * end after 8 hours, or 30 minutes without use. Cookie-authenticated mutations must carry the session's CSRF token in
 * `X-CSRF-Token` (SameSite=Strict already blocks cross-site sends; the token covers same-site attackers and old
 * browsers). API keys: "fk_<prefix>_<secret>", sent as `Authorization: Bearer`, stored as SHA-256, need no CSRF token.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../../engine/canonical.ts';
import { db, type Tx } from '../db.ts';
import { consoleEnv } from '../env.ts';
import type { Role } from './roles.ts';

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

export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** The actor behind a cookie value, refreshing its idle clock; undefined when expired or unknown. */
export async function actorFromSession(cookieValue: string): Promise<Actor | undefined> {
  const id = sha256Hex(cookieValue);
  const s = await db().session.findUnique({ where: { id }, include: { user: true } });
  const now = Date.now();
  if (!s || s.user.isDisabled || s.expiresAt.getTime() < now || now - s.lastSeenAt.getTime() > SESSION_IDLE_MS) {
    if (s) await db().session.delete({ where: { id } }).catch(() => undefined);
    return undefined;
  }
  if (now - s.lastSeenAt.getTime() > 60_000) await db().session.update({ where: { id }, data: { lastSeenAt: new Date(now) } });
  return { kind: 'user', userId: s.userId, name: s.user.username, role: s.user.role as Role, sessionId: id, csrfToken: s.csrfToken };
}

export async function actorFromApiKey(key: string): Promise<Actor | undefined> {
  const m = /^fk_([A-Za-z0-9]{8})_([A-Za-z0-9_-]{20,})$/.exec(key);
  if (!m) return undefined;
  const row = await db().apiKey.findUnique({ where: { prefix: m[1] }, include: { user: true } });
  if (!row || row.revokedAt || row.user.isDisabled) return undefined;
  const a = Buffer.from(row.keyHash, 'hex');
  const b = Buffer.from(sha256Hex(key), 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) await db().apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } });
  return { kind: 'api-key', userId: row.userId, name: `${row.user.username}/key:${row.name}`, role: row.role as Role, apiKeyId: row.id };
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
