import { AuditPage } from '@/components/audit-page';

export const metadata = { title: 'Audit log' };

export default function Page() {
  return <AuditPage />;
}
