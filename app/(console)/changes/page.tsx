import { ChangesPage } from '@/components/changes-page';

export const metadata = { title: 'Pending changes' };

export default function Page() {
  return <ChangesPage />;
}
