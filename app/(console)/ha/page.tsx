import { HaPage } from '@/components/ha-page';

export const metadata = { title: 'High availability' };

export default function Page() {
  return <HaPage />;
}
