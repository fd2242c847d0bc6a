/** First-run setup, login and logout, users and API keys; a person's own account is in accounts.ts. */
import { z } from 'zod';
import { ApiError } from '../../errors.ts';
import { db } from '../../db.ts';
import { writeAuditAlone } from '../../audit.ts';
import { defineRoute } from '../route.ts';
import { UserList, UserView, ApiKeyList, ApiKeyCreated, SessionView } from '../views.ts';
import { ifMatchVersion, mutate } from '../mutate.ts';
import { dummyHash, hashPassword, verifyPassword } from '../../auth/password.ts';
import { clearedSessionCookie, createSession, destroySession, newApiKey, sessionCookie } from '../../auth/session.ts';
import { isRoleWithin, type Role } from '../../auth/roles.ts';
import { recordFailure, recordSuccess, throttleKeys, throttleState } from '../../auth/throttle.ts';
import { apiKeyView, ApiKeyBody, expiryOf, PasswordSchema, RoleSchema } from './auth-shared.ts';
import { accountRoutes } from './accounts.ts';
import { checkSetupToken, ensureSetupToken, removeSetupToken, setupTokenPath } from '../../setup-token.ts';

const Username = z
  .string()
  .min(2, 'Use at least 2 characters.')
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'Use lower-case letters, digits, dot, dash and underscore.');
const Password = PasswordSchema;

const userView = (u: {
  id: string;
  username: string;
  role: string;
  isDisabled: boolean;
  mustChangePassword?: boolean;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}) => ({
  id: u.id,
  username: u.username,
  role: u.role,
  isDisabled: u.isDisabled,
  mustChangePassword: u.mustChangePassword ?? false,
  createdAt: u.createdAt,
  updatedAt: u.updatedAt,
  version: u.version,
});

export const authRoutes = [
  defineRoute({
    method: 'GET',
    path: '/setup',
    permission: 'public',
    tag: 'setup',
    action: 'setup.read',
    objectType: 'setup',
    summary: 'Whether first-run setup is still needed',
    async handler() {
      const isRequired = (await db().user.count()) === 0;
      if (isRequired) ensureSetupToken();
      return { body: { isRequired, tokenPath: isRequired ? setupTokenPath() : null } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/setup',
    response: UserView,
    permission: 'public',
    tag: 'setup',
    action: 'setup.complete',
    objectType: 'user',
    summary: 'Create the first admin with the one-time setup token',
    body: z.strictObject({ token: z.string().min(1, 'Give the setup token.'), username: Username, password: Password }),
    async handler(ctx) {
      if ((await db().user.count()) > 0) throw new ApiError('AUTH_SETUP_DONE');
      if (!checkSetupToken(ctx.body.token)) throw new ApiError('AUTH_SETUP_TOKEN', { path: setupTokenPath() });
      const passwordHash = await hashPassword(ctx.body.password);
      const user = await mutate(
        async (tx) => {
          if ((await tx.user.count()) > 0) throw new ApiError('AUTH_SETUP_DONE');
          return tx.user.create({ data: { username: ctx.body.username, passwordHash, role: 'admin' } });
        },
        (u) => ({
          ...ctx.audit({ action: 'setup.complete', objectType: 'user', objectId: u.id, after: userView(u), outcome: 'success' }),
          actor: u.username,
          actorRole: 'admin',
        }),
        { isCandidateChange: false },
      );
      removeSetupToken();
      return { status: 201, body: userView(user) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/session',
    response: SessionView,
    permission: 'authenticated',
    tag: 'session',
    action: 'session.read',
    objectType: 'session',
    summary: 'Who is logged in, and the CSRF token for mutations',
    isAllowedBeforePasswordChange: true,
    async handler(ctx) {
      return {
        body: {
          username: ctx.actor.name,
          role: ctx.actor.role,
          kind: ctx.actor.kind,
          csrfToken: ctx.actor.csrfToken ?? null,
          mustChangePassword: !!ctx.actor.mustChangePassword,
        },
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/session',
    response: SessionView,
    permission: 'public',
    tag: 'session',
    action: 'session.login',
    objectType: 'session',
    summary: 'Log in',
    body: z.strictObject({ username: z.string().min(1, 'Give your username.').max(64), password: z.string().min(1, 'Give your password.').max(256) }),
    async handler(ctx) {
      const { username, password } = ctx.body;
      const keys = throttleKeys(username, ctx.sourceAddress);
      const user = await db().user.findUnique({ where: { username } });
      // A refusal names the account only if it exists: what was typed into the username box may be a password.
      const refuse = (message: string) =>
        writeAuditAlone({
          ...ctx.audit({ action: 'session.login', objectType: 'session', objectId: user?.id ?? null, outcome: 'denied', message }),
          actor: user?.username ?? 'unknown user',
          actorRole: null,
        });
      const throttle = await throttleState(keys);
      if (throttle.seconds > 0) {
        const why = throttle.scope === 'global' ? 'too many failed logins on this console' : 'too many failed logins for this user from this address';
        await refuse(`throttled for ${throttle.seconds} s: ${why}`);
        throw Object.assign(
          new ApiError('AUTH_THROTTLED', { seconds: throttle.seconds }, { scope: throttle.scope }, { 'retry-after': String(throttle.seconds) }),
          { isAudited: true },
        );
      }
      const isOk = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
      if (!user || !isOk || user.isDisabled) {
        await recordFailure(keys);
        await refuse(!user ? 'unknown username' : user.isDisabled ? 'account disabled' : 'wrong password');
        throw Object.assign(new ApiError('AUTH_INVALID_CREDENTIALS'), { isAudited: true });
      }
      await recordSuccess(keys);
      const s = await mutate(
        (tx) => createSession(tx, user.id, ctx.sourceAddress),
        () => ({
          ...ctx.audit({ action: 'session.login', objectType: 'session', objectId: user.id, outcome: 'success' }),
          actor: user.username,
          actorRole: user.role,
        }),
        { isCandidateChange: false },
      );
      return {
        body: { username: user.username, role: user.role, csrfToken: s.csrfToken, mustChangePassword: user.mustChangePassword },
        headers: { 'set-cookie': sessionCookie(s.cookieValue, s.expiresAt) },
      };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/session',
    permission: 'authenticated',
    tag: 'session',
    action: 'session.logout',
    objectType: 'session',
    summary: 'Log out',
    isAllowedBeforePasswordChange: true,
    async handler(ctx) {
      await mutate(
        async (tx) => {
          if (ctx.actor.sessionId) await destroySession(tx, ctx.actor.sessionId);
        },
        () => ctx.audit({ action: 'session.logout', objectType: 'session', objectId: ctx.actor.userId ?? null, outcome: 'success' }),
        { isCandidateChange: false },
      );
      return { status: 204, headers: { 'set-cookie': clearedSessionCookie() } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/users',
    response: UserList,
    permission: 'users:read',
    tag: 'users',
    action: 'user.list',
    objectType: 'user',
    summary: 'List users',
    async handler() {
      return { body: { items: (await db().user.findMany({ orderBy: { username: 'asc' } })).map(userView) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/users',
    response: UserView,
    permission: 'users:write',
    tag: 'users',
    action: 'user.create',
    objectType: 'user',
    summary: 'Create a user',
    body: z.strictObject({ username: Username, password: Password, role: RoleSchema }),
    async handler(ctx) {
      if (await db().user.findUnique({ where: { username: ctx.body.username } })) {
        // The same answer as when two requests race past this check and the database's unique index refuses one.
        throw new ApiError('API_DUPLICATE', { what: 'a user', field: 'username' }, { fields: [{ path: 'username', message: 'This username is taken.' }] });
      }
      const passwordHash = await hashPassword(ctx.body.password);
      const u = await mutate(
        (tx) => tx.user.create({ data: { username: ctx.body.username, passwordHash, role: ctx.body.role } }),
        (u) => ctx.audit({ action: 'user.create', objectType: 'user', objectId: u.id, after: userView(u), outcome: 'success' }),
        { isCandidateChange: false },
      );
      return { status: 201, body: userView(u) };
    },
  }),
  defineRoute({
    method: 'PATCH',
    path: '/users/:id',
    response: UserView,
    permission: 'users:write',
    tag: 'users',
    action: 'user.update',
    objectType: 'user',
    summary: "Change a user's role, password (optionally forcing a change at next login) or whether it is disabled",
    body: z.strictObject({
      role: RoleSchema.optional(),
      password: Password.optional(),
      isDisabled: z.boolean().optional(),
      mustChangePassword: z.boolean().optional(),
    }),
    async handler(ctx) {
      const passwordHash = ctx.body.password ? await hashPassword(ctx.body.password) : undefined;
      const r = await mutate(
        async (tx) => {
          const u = await tx.user.findUnique({ where: { id: ctx.params.id } });
          if (!u) throw new ApiError('API_NOT_FOUND', { what: `User ${ctx.params.id}` });
          const v = ifMatchVersion(ctx.req);
          if (v !== undefined && v !== u.version) throw new ApiError('API_VERSION_CONFLICT', { what: `User "${u.username}"`, yours: v, current: u.version });
          const demotes = (ctx.body.role && ctx.body.role !== 'admin') || ctx.body.isDisabled;
          if (u.role === 'admin' && demotes && (await tx.user.count({ where: { role: 'admin', isDisabled: false } })) <= 1) {
            throw new ApiError('API_CONFLICT', { reason: 'This is the last active admin; make another admin first.' });
          }
          const after = await tx.user.update({
            where: { id: u.id },
            data: {
              role: ctx.body.role,
              isDisabled: ctx.body.isDisabled,
              passwordHash,
              mustChangePassword: ctx.body.mustChangePassword,
              version: { increment: 1 },
            },
          });
          // Demotion, promotion, disabling and a new password end every session of the user now (their open live
          // feeds close on this change's audit event); their API keys follow through effectiveRole on each request.
          const isRoleChange = !!ctx.body.role && ctx.body.role !== u.role;
          const endedSessions = passwordHash || ctx.body.isDisabled || isRoleChange ? (await tx.session.deleteMany({ where: { userId: u.id } })).count : 0;
          return { before: userView(u), after: userView(after), endedSessions };
        },
        (r) =>
          ctx.audit({
            action: 'user.update',
            objectType: 'user',
            objectId: ctx.params.id,
            before: r.before,
            after: { ...r.after, ...(passwordHash ? { passwordChanged: true } : {}), endedSessions: r.endedSessions },
            outcome: 'success',
          }),
        { isCandidateChange: false },
      );
      return { body: r.after };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/users/:id',
    permission: 'users:write',
    tag: 'users',
    action: 'user.delete',
    objectType: 'user',
    summary: 'Delete a user',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const u = await tx.user.findUnique({ where: { id: ctx.params.id } });
          if (!u) throw new ApiError('API_NOT_FOUND', { what: `User ${ctx.params.id}` });
          if (u.id === ctx.actor.userId) throw new ApiError('API_CONFLICT', { reason: 'You cannot delete yourself; ask another admin.' });
          if (u.role === 'admin' && (await tx.user.count({ where: { role: 'admin', isDisabled: false } })) <= 1)
            throw new ApiError('API_CONFLICT', { reason: 'This is the last active admin.' });
          // Sessions and API keys go with the user (onDelete: Cascade): none of them authenticates after this commit.
          const [sessions, keys] = await Promise.all([
            tx.session.count({ where: { userId: u.id } }),
            tx.apiKey.count({ where: { userId: u.id, revokedAt: null } }),
          ]);
          await tx.user.delete({ where: { id: u.id } });
          return { before: userView(u), after: { endedSessions: sessions, removedApiKeys: keys } };
        },
        (r) => ctx.audit({ action: 'user.delete', objectType: 'user', objectId: ctx.params.id, before: r.before, after: r.after, outcome: 'success' }),
        { isCandidateChange: false },
      );
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api-keys',
    response: ApiKeyList,
    permission: 'users:read',
    tag: 'api-keys',
    action: 'api-key.list',
    objectType: 'api-key',
    summary: 'List API keys (never the keys themselves)',
    async handler() {
      const rows = await db().apiKey.findMany({
        orderBy: { createdAt: 'desc' },
        include: { user: { select: { username: true, role: true, isDisabled: true } } },
      });
      return { body: { items: rows.map((k) => apiKeyView(k)) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api-keys',
    response: ApiKeyCreated,
    permission: 'users:write',
    tag: 'api-keys',
    action: 'api-key.create',
    objectType: 'api-key',
    summary: 'Create an API key (shown once), optionally expiring',
    body: ApiKeyBody,
    async handler(ctx) {
      if (!isRoleWithin(ctx.body.role as Role, ctx.actor.role!))
        throw new ApiError('AUTH_FORBIDDEN', { role: ctx.actor.role, action: `create a key with role ${ctx.body.role}`, needed: 'admin' });
      const expiresAt = expiryOf(ctx.body.expiresAt);
      const k = newApiKey();
      const row = await mutate(
        (tx) =>
          tx.apiKey.create({ data: { name: ctx.body.name, role: ctx.body.role, prefix: k.prefix, keyHash: k.keyHash, userId: ctx.actor.userId!, expiresAt } }),
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
    path: '/api-keys/:id',
    permission: 'users:write',
    tag: 'api-keys',
    action: 'api-key.revoke',
    objectType: 'api-key',
    summary: 'Revoke an API key',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const k = await tx.apiKey.findUnique({ where: { id: ctx.params.id } });
          if (!k || k.revokedAt) throw new ApiError('API_NOT_FOUND', { what: `API key ${ctx.params.id}` });
          return tx.apiKey.update({ where: { id: k.id }, data: { revokedAt: new Date() } });
        },
        (r) => ctx.audit({ action: 'api-key.revoke', objectType: 'api-key', objectId: r.id, before: { name: r.name, prefix: r.prefix }, outcome: 'success' }),
        { isCandidateChange: false },
      );
      return { status: 204 };
    },
  }),
  ...accountRoutes,
];
