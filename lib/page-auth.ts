/** For server-rendered pages: who is logged in, or where to send them (setup on a fresh install, else login). */
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { db } from './db.ts';
import { actorFromSession, SESSION_COOKIE, type Actor } from './auth/session.ts';

export async function requirePageActor(): Promise<Actor> {
  if ((await db().user.count()) === 0) redirect('/setup');
  const value = (await cookies()).get(SESSION_COOKIE)?.value;
  const actor = value ? await actorFromSession(value) : undefined;
  if (!actor) redirect('/login');
  return actor;
}
