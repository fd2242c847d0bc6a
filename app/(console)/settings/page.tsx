import { SettingsPage } from '@/components/settings/settings-page';
import { RequirePermission } from '@/components/require-permission';

export const metadata = { title: 'Syslog and alerts' };

/** Admins only, as the routes (config:write): these settings decide where the audit trail and alerts go. */
export default function Page() {
  return (
    <RequirePermission permission="config:write" what="the syslog and alert settings">
      <SettingsPage />
    </RequirePermission>
  );
}
