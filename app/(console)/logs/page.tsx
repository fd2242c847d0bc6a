import { LogsPage } from '@/components/logs-page';
import { RequirePermission } from '@/components/require-permission';

export const metadata = { title: 'Logs' };

export default function Page() {
  return (
    <RequirePermission permission="audit:read" what="the access and engine logs">
      <LogsPage />
    </RequirePermission>
  );
}
