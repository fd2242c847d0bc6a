'use client';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { api, setCsrfToken } from './api-client';
import { LiveProvider, useLive, useLiveEvents } from './live';
import { SessionContext, type SessionUser } from './session';
import { Badge } from './ui/badge';
import { SecondaryBanner } from './ha/secondary-banner';

const NAV = [
  { href: '/', label: 'Overview' },
  { href: '/changes', label: 'Pending changes' },
  { href: '/history', label: 'History' },
  { href: '/certificates', label: 'Certificates' },
  { href: '/ha', label: 'High availability' },
  { href: '/running', label: 'Running' },
  { href: '/hosts', label: 'Hosts' },
  { href: '/settings', label: 'Syslog & alerts', permission: ['admin'] },
  { href: '/backup', label: 'Backup', permission: ['admin'] },
  { href: '/wizard', label: 'Setup wizard', permission: ['admin', 'operator'] },
  { href: '/audit', label: 'Audit log', permission: ['admin', 'auditor'] },
  { href: '/logs', label: 'Logs', permission: ['admin', 'auditor'] },
  { href: '/users', label: 'Users & keys', permission: ['admin', 'auditor'] },
];

/** What each role may do, said once under the header, so a hidden button is never a mystery. */
const ROLE_NOTE: Record<SessionUser['role'], string | null> = {
  admin: null,
  operator:
    'You are an operator: you can drain, halt and bring back real servers, and apply or roll back changes. Creating and editing services needs an admin.',
  auditor: 'You are an auditor: you can read everything, the audit log and the users included, but change nothing.',
  viewer: 'You are a viewer: you can read services, changes, history and certificates, but change nothing. Ask an admin for more.',
};

export function ConsoleShell({ user, csrfToken, children }: { user: SessionUser; csrfToken: string; children: ReactNode }) {
  setCsrfToken(csrfToken);
  return (
    <SessionContext.Provider value={user}>
      <LiveProvider>
        <Shell user={user}>{children}</Shell>
      </LiveProvider>
    </SessionContext.Provider>
  );
}

function Shell({ user, children }: { user: SessionUser; children: ReactNode }) {
  const path = usePathname();
  const router = useRouter();
  // An admin reset this password: nothing else until the user picks their own (the API refuses the rest too).
  const mustChange = !!user.mustChangePassword && path !== '/account';
  useEffect(() => {
    if (mustChange) router.replace('/account');
  }, [mustChange, router]);
  const [pending, setPending] = useState<number | null>(null);
  const { isConnected, isEngineConnected } = useLive();
  const refresh = useCallback(() => {
    // The count alone: the menu's badge needs no objects.
    api<{ count: number }>('GET', '/changes?limit=0')
      .then((r) => setPending(r.count))
      .catch(() => undefined);
  }, []);
  useEffect(refresh, [refresh]);
  useLiveEvents(['candidate-changed', 'engine'], (e) => {
    if (e.type === 'candidate-changed' || e.event?.type === 'applied') refresh();
  });
  async function logout() {
    await api('DELETE', '/session').catch(() => undefined);
    window.location.href = '/login';
  }
  const note = ROLE_NOTE[user.role];
  return (
    <div className="min-h-screen">
      <a
        href="#main"
        className="sr-only z-50 rounded-md bg-white px-4 py-2 font-medium text-sky-900 shadow focus:not-sr-only focus:fixed focus:top-2 focus:left-2"
      >
        Skip to main content
      </a>
      <header className="on-dark border-b border-slate-800 bg-slate-900 text-slate-100">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
          <Link href="/" className="text-lg font-semibold tracking-tight">
            ⚖ Fulcrum
          </Link>
          <nav aria-label="Main" className="flex flex-wrap gap-1">
            {NAV.filter((n) => !n.permission || n.permission.includes(user.role)).map((n) => (
              <Link
                key={n.href}
                href={n.href}
                aria-current={path === n.href ? 'page' : undefined}
                className={`rounded-md px-3 py-1.5 text-sm ${path === n.href ? 'bg-slate-700 text-white' : 'text-slate-300 hover:bg-slate-800'}`}
              >
                {n.label}
                {n.href === '/changes' && pending ? (
                  <span data-testid="pending-count" className="ml-1.5 rounded-full bg-amber-400 px-1.5 text-xs font-semibold text-slate-950">
                    {pending}
                  </span>
                ) : null}
              </Link>
            ))}
          </nav>
          <div className="ml-auto flex flex-wrap items-center gap-3 text-sm">
            <span aria-live="polite">
              {isEngineConnected === false ? (
                <Badge tone="red">Engine unreachable</Badge>
              ) : isConnected && isEngineConnected ? (
                <Badge tone="green">Engine connected</Badge>
              ) : (
                <Badge tone="slate">Connecting…</Badge>
              )}
            </span>
            <Link
              href="/account"
              aria-current={path === '/account' ? 'page' : undefined}
              title="Your account: password, sessions, API keys"
              className={`rounded-md px-2 py-1 ${path === '/account' ? 'bg-slate-700 text-white' : 'text-slate-200 hover:bg-slate-800'}`}
            >
              {user.name} <span className="text-slate-300">({user.role})</span>
            </Link>
            <button type="button" onClick={logout} className="rounded-md px-2 py-1 text-slate-300 hover:bg-slate-800">
              Log out
            </button>
          </div>
        </div>
        {pending ? (
          <div className="bg-amber-100 text-amber-950">
            <div className="mx-auto flex max-w-7xl items-center gap-3 px-4 py-2 text-sm">
              <span>
                <strong>
                  {pending} pending change{pending === 1 ? '' : 's'}
                </strong>{' '}
                not yet running.
              </span>
              <Link href="/changes" className="font-medium underline">
                Review and apply
              </Link>
            </div>
          </div>
        ) : null}
        {note && (
          <div className="border-b border-slate-200 bg-white text-slate-700">
            <p data-testid="role-note" className="mx-auto max-w-7xl px-4 py-1.5 text-xs">
              {note}
            </p>
          </div>
        )}
      </header>
      <SecondaryBanner />
      <main id="main" tabIndex={-1} className="mx-auto max-w-7xl px-4 py-6">
        {mustChange ? <p role="status">Choose a new password first…</p> : children}
      </main>
    </div>
  );
}
