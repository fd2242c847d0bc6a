/**
 * Roles and what each may do. Every API route names one permission; this table is the only place the code reads
 * to say which roles hold it. The route × role test checks it against the policy written in words in
 * lib/api/roles.policy.ts, not against this table: change the policy first.
 *
 *   permission     │ admin │ operator │ auditor │ viewer
 *   ───────────────┼───────┼──────────┼─────────┼───────
 *   config:read    │  ✓    │   ✓      │   ✓     │  ✓      services, servers, changes, versions, status
 *   config:write   │  ✓    │          │         │         create/edit/delete services, servers, certificates
 *   server:state   │  ✓    │   ✓      │         │         online / drain / halt
 *   config:apply   │  ✓    │   ✓      │         │         apply, rollback
 *   audit:read     │  ✓    │          │   ✓     │         audit log, export, chain verification
 *   users:read     │  ✓    │          │   ✓     │         users and API keys (never secrets)
 *   users:write    │  ✓    │          │         │         users and API keys
 */
export const ROLES = ['admin', 'operator', 'auditor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = {
  'config:read': ['admin', 'operator', 'auditor', 'viewer'],
  'config:write': ['admin'],
  'server:state': ['admin', 'operator'],
  'config:apply': ['admin', 'operator'],
  'audit:read': ['admin', 'auditor'],
  'users:read': ['admin', 'auditor'],
  'users:write': ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}

/** The roles that hold a permission, most powerful first (for "needs an admin or operator"). */
export function rolesWith(permission: Permission): Role[] {
  return ROLES.filter((r) => can(r, permission));
}

/** An API key may not hold more than its creator: a role is "within" another when every permission it has, the other has. */
export function isRoleWithin(role: Role, of: Role): boolean {
  return (Object.keys(PERMISSIONS) as Permission[]).every((p) => !can(role, p) || can(of, p));
}

/**
 * The most an API key may do now: the largest role within both the key's own role and its owner's current role
 * (a "min" over the permission sets). Roles are not a line — operator and auditor each hold something the other
 * lacks — so for those two the answer is viewer, the one role within both. A key never exceeds its owner: demote
 * the owner and the key follows on its next request.
 *
 *   key \ owner │ admin    operator  auditor  viewer
 *   ────────────┼────────────────────────────────────
 *   admin       │ admin    operator  auditor  viewer
 *   operator    │ operator operator  viewer   viewer
 *   auditor     │ auditor  viewer    auditor  viewer
 *   viewer      │ viewer   viewer    viewer   viewer
 */
export function effectiveRole(keyRole: Role, ownerRole: Role): Role {
  const within = ROLES.filter((r) => isRoleWithin(r, keyRole) && isRoleWithin(r, ownerRole));
  const size = (r: Role) => (Object.keys(PERMISSIONS) as Permission[]).filter((p) => can(r, p)).length;
  // Viewer (config:read, which every role holds) is always within both, so `within` is never empty.
  return within.reduce((best, r) => (size(r) > size(best) ? r : best));
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
