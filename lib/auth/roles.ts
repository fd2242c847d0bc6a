/**
 * Roles and what each may do. Every API route names one permission; this table is the only place that says which
 * roles hold it (the route × role test walks it).
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

/** An API key may not hold more than its creator: a role is "within" another when every permission it has, the other has. */
export function isRoleWithin(role: Role, of: Role): boolean {
  return (Object.keys(PERMISSIONS) as Permission[]).every((p) => !can(role, p) || can(of, p));
}
