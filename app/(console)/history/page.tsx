import { HistoryPage } from '@/components/history-page';

export const metadata = { title: 'History' };

export default function Page() {
  return <HistoryPage />;
}
