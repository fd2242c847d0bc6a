import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { db } from '@/lib/db.ts';
import { actorFromSession, SESSION_COOKIE } from '@/lib/auth/session.ts';
import { LoginForm } from '@/components/auth-forms';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Log in' };

export default async function LoginPage() {
  if ((await db().user.count()) === 0) redirect('/setup');
  const value = (await cookies()).get(SESSION_COOKIE)?.value;
  if (value && (await actorFromSession(value))) redirect('/');
  return <LoginForm />;
}
