/**
 * A person's own account (issue 13, item 8): change their password with the current one, see and end their sessions,
 * and make, list and revoke their own API keys. An admin (users:write) may end anyone's session; resetting someone
 * else's password is PATCH /users/:id (routes/auth.ts), which can force a change at next login.
 *
 *   route                              │ who                                     │ audited as
 *   ───────────────────────────────────┼─────────────────────────────────────────┼─────────────────────
 *   POST   /account/password           │ any logged-in person (not an API key)   │ account.password
 *   GET    /account/sessions           │ any logged-in person: their own         │ —
 *   GET    /sessions                   │ users:read: everyone's                  │ —
 *   DELETE /sessions/:id               │ own session: anyone; another's: admin   │ session.revoke
 *   GET    /account/api-keys           │ any logged-in person: their own         │ —
 *   POST   /account/api-keys           │ a person (not a key), role within own   │ api-key.create
 *   DELETE /account/api-keys/:id       │ the key's owner                         │ api-key.revoke
 *
 * Every mutation writes one audit row in the transaction that makes it (mutate); refusals are audited by the route
 * wrapper. A session is named by the SHA-256 of its cookie (its database id), which cannot be used as a cookie.
 */
import { z } from 'zod';
import { ApiError } from '../../errors.ts';
import { db } from '../../db.ts';
import { defineRoute, type RouteContext } from '../route.ts';
import { mutate } from '../mutate.ts';
import { hashPassword, verifyPassword } from '../../auth/password.ts';
import { can, isRoleWithin, ROLES, type Role } from '../../auth/roles.ts';
import { newApiKey } from '../../auth/session.ts';
import { recordFailure, recordSuccess, throttleKeys, throttleState } from '../../auth/throttle.ts';
import { ApiKeyCreated, ApiKeyList } from '../views.ts';
import { apiKeyView, ApiKeyBody, expiryOf, PasswordSchema } from './auth-shared.ts';

const Timestamp = z.iso.datetime({ offset: true });
export const SessionRowView = z.object({
  id: z.string(),
  username: z.string(),
  sourceAddress: z.string(),
  createdAt: Timestamp,
  lastSeenAt: Timestamp,
  expiresAt: Timestamp,
  /** The session this request came with. */
  isCurrent: z.boolean(),
});
export const SessionRowList = z.object({ items: z.array(SessionRowView) });

type SessionRow = { id: string; sourceAddress: string; createdAt: Date; lastSeenAt: Date; expiresAt: Date; user: { username: string } };
const sessionView = (s: SessionRow, ctx: RouteContext<unknown, unknown>) => ({
  id: s.id,
  username: s.user.username,
  sourceAddress: s.sourceAddress,
  createdAt: s.createdAt,
  lastSeenAt: s.lastSeenAt,
  expiresAt: s.expiresAt,
  isCurrent: s.id === ctx.actor.sessionId,
});

/** A person logged in with a password: an API key may not change a password or make keys for its owner. */
function requirePerson(ctx: RouteContext<unknown, unknown>, action: string): string {
  if (ctx.actor.kind !== 'user' || !ctx.actor.userId) throw new ApiError('AUTH_SESSION_ONLY', { action });
  return ctx.actor.userId;
}

/** Whose account this is: the person, or an API key's owner (a key may read its owner's account, and revoke keys). */
function ownerOf(ctx: RouteContext<unknown, unknown>): string {
  if (!ctx.actor.userId) throw new ApiError('AUTH_REQUIRED');
  return ctx.actor.userId;
}

const liveSessions = (where: { userId?: string }) =>
  db().session.findMany({
    where: { ...where, expiresAt: { gt: new Date() } },
    orderBy: { lastSeenAt: 'desc' },
    include: { user: { select: { username: true } } },
  });

export const accountRoutes = [
  defineRoute({
    method: 'POST',
    path: '/account/password',
    permission: 'authenticated',
    tag: 'account',
    action: 'account.password',
    objectType: 'user',
    summary: 'Change your own password (give the current one); your other sessions end',
    isAllowedBeforePasswordChange: true,
    body: z.strictObject({ currentPassword: z.string().min(1, 'Give your current password.').max(256), newPassword: PasswordSchema }),
    async handler(ctx) {
      const userId = requirePerson(ctx, 'change a password');
      // The current password is a login in all but name: the same throttle, so this route is no way round it.
      const keys = throttleKeys(ctx.actor.name, ctx.sourceAddress);
      const throttle = await throttleState(keys);
      if (throttle.seconds > 0)
        throw new ApiError('AUTH_THROTTLED', { seconds: throttle.seconds }, { scope: throttle.scope }, { 'retry-after': String(throttle.seconds) });
      const user = await db().user.findUniqueOrThrow({ where: { id: userId } });
      if (!(await verifyPassword(ctx.body.currentPassword, user.passwordHash))) {
        await recordFailure(keys);
        throw new ApiError(
          'API_VALIDATION',
          { summary: 'currentPassword: this is not your current password.' },
          { fields: [{ path: 'currentPassword', message: 'This is not your current password.' }] },
        );
      }
      await recordSuccess(keys);
      if (await verifyPassword(ctx.body.newPassword, user.passwordHash)) {
        throw new ApiError(
          'API_VALIDATION',
          { summary: 'newPassword: choose a password other than the current one.' },
          { fields: [{ path: 'newPassword', message: 'Choose a password other than the current one.' }] },
        );
      }
      const passwordHash = await hashPassword(ctx.body.newPassword);
      const r = await mutate(
        async (tx) => {
          await tx.user.update({ where: { id: userId }, data: { passwordHash, mustChangePassword: false, version: { increment: 1 } } });
          // Anyone else holding a session of this account (a stolen cookie, a forgotten workstation) is out now.
          return {
            endedSessions: (await tx.session.deleteMany({ where: { userId, id: { not: ctx.actor.sessionId ?? '' } } })).count,
            wasForced: user.mustChangePassword,
          };
        },
        (r) =>
          ctx.audit({
            action: 'account.password',
            objectType: 'user',
            objectId: userId,
            after: { passwordChanged: true, endedSessions: r.endedSessions, afterReset: r.wasForced },
            outcome: 'success',
          }),
        { isCandidateChange: false },
      );
      return { body: { endedSessions: r.endedSessions } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/account/sessions',
    response: SessionRowList,
    permission: 'authenticated',
    tag: 'account',
    action: 'session.list',
    objectType: 'session',
    summary: 'List your own sessions',
    isAllowedBeforePasswordChange: true,
    async handler(ctx) {
      const userId = ownerOf(ctx);
      return { body: { items: (await liveSessions({ userId })).map((s) => sessionView(s, ctx)) } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/sessions',
    response: SessionRowList,
    permission: 'users:read',
    tag: 'users',
    action: 'session.list',
    objectType: 'session',
    summary: "List every user's sessions",
    async handler(ctx) {
      return { body: { items: (await liveSessions({})).map((s) => sessionView(s, ctx)) } };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/sessions/:id',
    permission: 'authenticated',
    tag: 'users',
    action: 'session.revoke',
    objectType: 'session',
    summary: "End a session (your own; an admin: anyone's)",
    isAllowedBeforePasswordChange: true,
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const s = await tx.session.findUnique({ where: { id: ctx.params.id }, include: { user: { select: { username: true } } } });
          if (!s) throw new ApiError('API_NOT_FOUND', { what: `Session ${ctx.params.id.slice(0, 12)}…` });
          if (s.userId !== ctx.actor.userId && !can(ctx.actor.role!, 'users:write')) {
            throw new ApiError('AUTH_FORBIDDEN', { role: ctx.actor.role, action: `end ${s.user.username}'s session`, needed: 'admin' });
          }
          await tx.session.delete({ where: { id: s.id } });
          return s;
        },
        (s) =>
          ctx.audit({
            action: 'session.revoke',
            objectType: 'session',
            objectId: s.userId,
            before: { username: s.user.username, sourceAddress: s.sourceAddress, createdAt: s.createdAt, session: `${s.id.slice(0, 12)}…` },
            outcome: 'success',
          }),
        { isCandidateChange: false },
      );
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/account/api-keys',
    response: ApiKeyList,
    permission: 'authenticated',
    tag: 'account',
    action: 'api-key.list',
    objectType: 'api-key',
    summary: 'List your own API keys (never the keys themselves)',
    async handler(ctx) {
      const userId = ownerOf(ctx);
      const rows = await db().apiKey.findMany({
        where: { userId },
        orderBy: { createdAt: 'desc' },
        include: { user: { select: { username: true, role: true, isDisabled: true } } },
      });
      return { body: { items: rows.map((k) => apiKeyView(k)) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/account/api-keys',
    response: ApiKeyCreated,
    permission: 'authenticated',
    tag: 'account',
    action: 'api-key.create',
    objectType: 'api-key',
    summary: 'Make yourself an API key (shown once), for your role or less, optionally expiring',
    body: ApiKeyBody,
    async handler(ctx) {
      const userId = requirePerson(ctx, 'make an API key');
      const role = ctx.body.role as Role;
      if (!isRoleWithin(role, ctx.actor.role!)) {
        throw new ApiError(
          'API_VALIDATION',
          { summary: `role: a key cannot do more than you (${ctx.actor.role}).` },
          {
            fields: [{ path: 'role', message: `A key cannot do more than you; choose ${ROLES.filter((r) => isRoleWithin(r, ctx.actor.role!)).join(' or ')}.` }],
          },
        );
      }
      const expiresAt = expiryOf(ctx.body.expiresAt);
      const k = newApiKey();
      const row = await mutate(
        (tx) => tx.apiKey.create({ data: { name: ctx.body.name, role, prefix: k.prefix, keyHash: k.keyHash, userId, expiresAt } }),
        (r) =>
          ctx.audit({
            action: 'api-key.create',
            objectType: 'api-key',
            objectId: r.id,
            after: { name: r.name, prefix: r.prefix, role: r.role, expiresAt: r.expiresAt },
            outcome: 'success',
          }),
        { isCandidateChange: false },
      );
      return { status: 201, body: { id: row.id, name: row.name, prefix: row.prefix, role: row.role, expiresAt: row.expiresAt, key: k.key } };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/account/api-keys/:id',
    permission: 'authenticated',
    tag: 'account',
    action: 'api-key.revoke',
    objectType: 'api-key',
    summary: 'Revoke one of your own API keys',
    async handler(ctx) {
      const userId = ownerOf(ctx);
      await mutate(
        async (tx) => {
          const k = await tx.apiKey.findUnique({ where: { id: ctx.params.id } });
          // Someone else's key is "not found" here: this route does not tell a key's owner apart from a missing key.
          if (!k || k.userId !== userId || k.revokedAt) throw new ApiError('API_NOT_FOUND', { what: `Your API key ${ctx.params.id}` });
          return tx.apiKey.update({ where: { id: k.id }, data: { revokedAt: new Date() } });
        },
        (r) => ctx.audit({ action: 'api-key.revoke', objectType: 'api-key', objectId: r.id, before: { name: r.name, prefix: r.prefix }, outcome: 'success' }),
        { isCandidateChange: false },
      );
      return { status: 204 };
    },
  }),
];
