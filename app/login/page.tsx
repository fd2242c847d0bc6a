import { redirect } from 'next/navigation';
import { db } from '@/lib/db.ts';
import { LoginForm } from '@/components/auth-forms';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Log in' };

export default async function LoginPage() {
  if ((await db().user.count()) === 0) redirect('/setup');
  return <LoginForm />;
}
