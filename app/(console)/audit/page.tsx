import { AuditPage } from '@/components/audit-page';
import { RequirePermission } from '@/components/require-permission';

export const metadata = { title: 'Audit log' };

export default function Page() {
  return (
    <RequirePermission permission="audit:read" what="the audit log">
      <AuditPage />
    </RequirePermission>
  );
}
