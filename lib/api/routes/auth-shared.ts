/** What the users, API keys and account routes share: the password rule, the key's view and its body. */
import { z } from 'zod';
import { ApiError } from '../../errors.ts';
import { effectiveRole, isRole, ROLES } from '../../auth/roles.ts';

export const PasswordSchema = z.string().min(12, 'Use at least 12 characters.').max(256, 'Use at most 256 characters.');
export const RoleSchema = z.enum(ROLES, { error: `Choose a role: ${ROLES.join(', ')}.` });

export const ApiKeyBody = z.strictObject({
  name: z.string().min(1, 'Give the key a name.').max(64),
  role: RoleSchema,
  expiresAt: z.iso.datetime({ offset: true, error: 'Give a date and time such as 2027-03-31T23:59:59Z.' }).optional(),
});

/** A key's expiry from the body: null for none; refused (at the field) when it is not in the future. */
export function expiryOf(iso: string | undefined, now = Date.now()): Date | null {
  const expiresAt = iso ? new Date(iso) : null;
  if (expiresAt && expiresAt.getTime() <= now) {
    throw new ApiError(
      'API_VALIDATION',
      { summary: 'expiresAt: choose a time in the future.' },
      { fields: [{ path: 'expiresAt', message: 'Choose a time in the future.' }] },
    );
  }
  return expiresAt;
}

type KeyRow = {
  id: string;
  name: string;
  prefix: string;
  role: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedFrom: string | null;
  revokedAt: Date | null;
  user: { username: string; role: string; isDisabled: boolean };
};

/** A key as listed: what it may do now (its effective role, never more than its owner's) and why not, if it cannot. */
export function apiKeyView(k: KeyRow, now = new Date()) {
  const status = k.revokedAt ? 'revoked' : k.user.isDisabled ? 'owner-disabled' : k.expiresAt && k.expiresAt <= now ? 'expired' : 'active';
  const actsAs = status === 'active' && isRole(k.role) && isRole(k.user.role) ? effectiveRole(k.role, k.user.role) : null;
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    role: k.role,
    effectiveRole: actsAs,
    status,
    owner: k.user.username,
    createdAt: k.createdAt,
    expiresAt: k.expiresAt,
    lastUsedAt: k.lastUsedAt,
    lastUsedFrom: k.lastUsedFrom,
    revokedAt: k.revokedAt,
  };
}
