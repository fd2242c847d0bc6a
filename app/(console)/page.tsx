import { Overview } from '@/components/overview';

export const metadata = { title: 'Overview' };

export default function OverviewPage() {
  return <Overview />;
}
