import { UsersPage } from '@/components/users-page';
import { RequirePermission } from '@/components/require-permission';

export const metadata = { title: 'Users and API keys' };

export default function Page() {
  return (
    <RequirePermission permission="users:read" what="users and API keys">
      <UsersPage />
    </RequirePermission>
  );
}
