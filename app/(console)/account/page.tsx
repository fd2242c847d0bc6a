import { AccountPage } from '@/components/account-page';

export const metadata = { title: 'Your account' };

export default function Page() {
  return <AccountPage />;
}
