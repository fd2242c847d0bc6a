import { redirect } from 'next/navigation';
import { db } from '@/lib/db.ts';
import { ensureSetupToken } from '@/lib/setup-token.ts';
import { SetupForm } from '@/components/auth-forms';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Set up' };

export default async function SetupPage() {
  if ((await db().user.count()) > 0) redirect('/login');
  return <SetupForm tokenPath={ensureSetupToken()} />;
}
