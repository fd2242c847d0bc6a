import { requirePageActor } from '@/lib/page-auth.ts';
import { can } from '@/lib/auth/roles.ts';
import { SettingsPage } from '@/components/settings/settings-page';

export const metadata = { title: 'Syslog and alerts' };

/** Admins only, as the routes (config:write): these settings decide where the audit trail and alerts go. */
export default async function Page() {
  const actor = await requirePageActor();
  if (!actor.role || !can(actor.role, 'config:write')) {
    return <p role="alert" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm">Syslog and alert settings are for admins: they decide where the audit trail and alerts go. You are signed in as {actor.role ?? 'nobody'}.</p>;
  }
  return <SettingsPage />;
}
