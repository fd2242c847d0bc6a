import { requirePageActor } from '@/lib/page-auth.ts';
import { ConsoleShell } from '@/components/console-shell';

export const dynamic = 'force-dynamic';

export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const actor = await requirePageActor();
  return (
    <ConsoleShell user={{ name: actor.name, role: actor.role!, mustChangePassword: actor.mustChangePassword }} csrfToken={actor.csrfToken ?? ''}>
      {children}
    </ConsoleShell>
  );
}
