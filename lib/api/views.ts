/**
 * What the API answers, as zod output schemas. The route wrapper parses every 2xx body of a route that names one,
 * so a field nobody listed here (a password hash, a private key, an API key's hash) cannot leave the console even
 * if a handler hands over a whole row; the OpenAPI document shows the same schemas.
 */
import { z } from 'zod';
import { VirtualServiceSchema, RealServerSchema } from '../../engine/config/index.ts';
import { ROLES } from '../auth/roles.ts';

const Timestamp = z.iso.datetime({ offset: true });
const Stamped = { id: z.string(), version: z.number().int(), createdAt: Timestamp, updatedAt: Timestamp };

export const UserView = z.object({
  id: z.string(),
  username: z.string(),
  role: z.enum(ROLES),
  isDisabled: z.boolean(),
  mustChangePassword: z.boolean().optional(),
  version: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const UserList = z.object({ items: z.array(UserView) });

export const ApiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  /** The role the key was made with; `effectiveRole` is what it may do now (never more than its owner's role). */
  role: z.enum(ROLES),
  effectiveRole: z.enum(ROLES).nullable(),
  status: z.enum(['active', 'revoked', 'expired', 'owner-disabled']),
  owner: z.string(),
  createdAt: Timestamp,
  expiresAt: Timestamp.nullable(),
  lastUsedAt: Timestamp.nullable(),
  lastUsedFrom: z.string().nullable(),
  revokedAt: Timestamp.nullable(),
});
export const ApiKeyList = z.object({ items: z.array(ApiKeyView) });
/** The only answer that carries a key: the one that creates it. */
export const ApiKeyCreated = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  role: z.enum(ROLES),
  expiresAt: Timestamp.nullable(),
  key: z.string(),
});

export const CertificateView = z.object({
  id: z.string(),
  name: z.string(),
  subject: z.string(),
  fingerprint: z.string(),
  notAfter: Timestamp,
  createdAt: Timestamp,
});

export const RealServerView = z.object({ ...RealServerSchema.shape, ...Stamped });
export const VirtualServiceView = z.object({ ...VirtualServiceSchema.shape, ...Stamped, realServers: z.array(RealServerView) });
export const VirtualServiceList = z.object({ items: z.array(VirtualServiceView) });

export const SessionView = z.object({
  username: z.string(),
  role: z.enum(ROLES),
  csrfToken: z.string().nullable().optional(),
  kind: z.string().optional(),
  mustChangePassword: z.boolean().optional(),
});

export const HealthTransitionView = z.object({
  id: z.number().int(),
  at: Timestamp,
  previous: z.string(),
  health: z.string(),
  /** The check status code (engine/health/status.ts) and its sentence. */
  code: z.string(),
  message: z.string(),
  durationMs: z.number(),
  check: z.string(),
  target: z.string(),
});
export const HealthHistoryView = z.object({ id: z.string(), virtualService: z.string(), realServer: z.string(), items: z.array(HealthTransitionView) });
