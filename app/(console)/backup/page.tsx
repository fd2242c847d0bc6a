import { BackupPage } from '@/components/backup/backup-page';
import { RequirePermission } from '@/components/require-permission';

export const metadata = { title: 'Backup and restore' };

/** Admins only, as the routes (config:write): a backup takes the whole configuration away, a restore replaces it. */
export default function Page() {
  return (
    <RequirePermission permission="config:write" what="backup and restore">
      <BackupPage />
    </RequirePermission>
  );
}
