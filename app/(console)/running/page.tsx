import { RunningPage } from '@/components/running/running-page';

export const metadata = { title: 'Running' };

/** Every role reads it (config:read, as the routes): it shows what runs, never a private key. */
export default function Page() {
  return <RunningPage />;
}
