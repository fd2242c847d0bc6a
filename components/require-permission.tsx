/**
 * A page's own role check, on the server, before anything of the page is sent: a role that may not use the page gets
 * the "no access" page inside the console shell instead of a form it would fill in only to be refused. The API
 * checks the same table on every route; this is for the person, not the security boundary.
 */
import type { ReactNode } from 'react';
import { requirePageActor } from '@/lib/page-auth.ts';
import { can, type Permission } from '@/lib/auth/roles.ts';
import { NoAccess } from './no-access';

export async function RequirePermission({ permission, what, children }: { permission: Permission; what: string; children: ReactNode }) {
  const actor = await requirePageActor();
  if (!actor.role || !can(actor.role, permission)) return <NoAccess role={actor.role ?? 'viewer'} permission={permission} what={what} />;
  return <>{children}</>;
}
