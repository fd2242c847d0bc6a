import Link from 'next/link';
import type { ReactNode } from 'react';
import { rolesWith, type Permission, type Role } from '@/lib/auth/roles.ts';

/** A page inside the console shell that says plainly what went wrong and where to go instead. */
export function ProblemPage({ code, title, children }: { code: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby="problem-title" className="mx-auto max-w-2xl rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
      <p className="font-mono text-sm font-semibold text-slate-600">{code}</p>
      <h1 id="problem-title" className="mt-1 text-2xl font-semibold tracking-tight">
        {title}
      </h1>
      <div className="mt-3 space-y-3 text-sm text-slate-700">{children}</div>
      <p className="mt-6">
        <Link href="/" className="rounded-md bg-sky-700 px-4 py-2 text-sm font-medium text-white hover:bg-sky-800">
          Back to the overview
        </Link>
      </p>
    </section>
  );
}

/** What a role that may not read a page sees there: which roles may, and whom to ask. */
export function NoAccess({ role, permission, what }: { role: Role; permission: Permission; what: string }) {
  const roles = rolesWith(permission);
  return (
    <ProblemPage code="403 · no access" title={`You cannot open ${what}`}>
      <p data-testid="no-access">
        Your role is <strong>{role}</strong>. {what[0].toUpperCase() + what.slice(1)} is for the {roles.join(' and ')} role{roles.length > 1 ? 's' : ''}.
      </p>
      <p>If you need it, ask an admin to change your role (Users &amp; keys). Nothing was changed, and the attempt is not an error.</p>
    </ProblemPage>
  );
}
