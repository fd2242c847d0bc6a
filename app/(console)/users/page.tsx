import { UsersPage } from '@/components/users-page';

export const metadata = { title: 'Users and API keys' };

export default function Page() {
  return <UsersPage />;
}
