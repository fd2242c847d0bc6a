'use client';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type ApiCallError } from './api-client';
import { useSession } from './session';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input } from './ui/field';
import { ConfirmDialog } from './ui/confirm';
import { ApiKeyTable, NewKeyForm, type Key } from './accounts/api-keys';
import { SessionTable, type SessionRow } from './accounts/sessions';
import { ROLES, isRoleWithin } from '@/lib/auth/roles.ts';

/** Your own account: password, where you are logged in, and your API keys. */
export function AccountPage() {
  const me = useSession();
  const [sessions, setSessions] = useState<SessionRow[]>([]);
  const [keys, setKeys] = useState<Key[]>([]);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [confirm, setConfirm] = useState<{ title: string; label: string; body: string; run: () => Promise<unknown> } | null>(null);
  const load = useCallback(async () => {
    if (me.mustChangePassword) return;
    try {
      const [s, k] = await Promise.all([api('GET', '/account/sessions'), api('GET', '/account/api-keys')]);
      setSessions(s.items);
      setKeys(k.items);
    } catch (e) {
      setError(e as ApiCallError);
    }
  }, [me.mustChangePassword]);
  useEffect(() => void load(), [load]);
  async function run() {
    if (!confirm) return;
    try {
      await confirm.run();
      await load();
    } catch (e) {
      setError(e as ApiCallError);
    }
    setConfirm(null);
  }
  const keyRoles = ROLES.filter((r) => isRoleWithin(r, me.role));
  return (
    <div className="space-y-5">
      <PageTitle sub={`You are ${me.name}, with the ${me.role} role. Every change here is recorded in the audit log.`}>Your account</PageTitle>
      <ErrorBox error={error?.body} />
      <PasswordCard isForced={!!me.mustChangePassword} />
      {!me.mustChangePassword && (
        <>
          <Card title="Where you are logged in">
            <p className="mb-3 text-sm text-slate-700">
              A session ends after 8 hours, or 30 minutes without use. End any you do not recognise, then change your password.
            </p>
            <SessionTable
              sessions={sessions}
              showUser={false}
              canEnd={() => true}
              onEnd={(s) =>
                setConfirm({
                  title: s.isCurrent ? 'Log out of this browser?' : `End the session from ${s.sourceAddress}?`,
                  label: 'End session',
                  body: 'Whoever uses that session is logged out at once.',
                  run: async () => {
                    await api('DELETE', `/sessions/${s.id}`);
                    if (s.isCurrent) window.location.href = '/login';
                  },
                })
              }
            />
          </Card>
          <Card title="Your API keys">
            <p className="mb-3 text-sm text-slate-700">
              For scripts and pipelines. A key can do at most what you can, and stops when you are disabled or your role drops.
            </p>
            <ApiKeyTable
              keys={keys}
              showOwner={false}
              onRevoke={(k) =>
                setConfirm({
                  title: `Revoke key ${k.name}?`,
                  label: 'Revoke key',
                  body: 'Anything using this key is refused from now on.',
                  run: () => api('DELETE', `/account/api-keys/${k.id}`),
                })
              }
            />
            <NewKeyForm path="/account/api-keys" roles={keyRoles} onCreated={load} />
          </Card>
        </>
      )}
      <ConfirmDialog open={!!confirm} title={confirm?.title ?? ''} confirmLabel={confirm?.label ?? ''} onCancel={() => setConfirm(null)} onConfirm={run}>
        <p>{confirm?.body}</p>
      </ConfirmDialog>
    </div>
  );
}

function PasswordCard({ isForced }: { isForced: boolean }) {
  const [f, setF] = useState({ currentPassword: '', newPassword: '', again: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [done, setDone] = useState<string | null>(null);
  const [isBusy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(null);
    if (f.newPassword !== f.again) return setErrors({ again: 'The two new passwords differ.' });
    setBusy(true);
    try {
      const r = await api('POST', '/account/password', { currentPassword: f.currentPassword, newPassword: f.newPassword });
      setF({ currentPassword: '', newPassword: '', again: '' });
      setErrors({});
      if (isForced) window.location.href = '/';
      else setDone(`Password changed.${r.endedSessions ? ` ${r.endedSessions} other session${r.endedSessions === 1 ? '' : 's'} ended.` : ''}`);
    } catch (err) {
      const ae = err as ApiCallError;
      setErrors(Object.keys(ae.fields).length ? ae.fields : { currentPassword: ae.message });
    } finally {
      setBusy(false);
    }
  }
  return (
    <Card title="Password">
      {isForced && (
        <p role="alert" className="mb-3 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
          An admin reset your password. Choose your own to go on: the console does nothing else until you do.
        </p>
      )}
      <form method="post" onSubmit={submit} noValidate className="grid max-w-3xl items-start gap-3 md:grid-cols-3">
        <Field label="Current password" error={errors.currentPassword}>
          {(p) => (
            <Input
              {...p}
              name="current-password"
              type="password"
              autoComplete="current-password"
              value={f.currentPassword}
              onChange={(e) => setF({ ...f, currentPassword: e.target.value })}
            />
          )}
        </Field>
        <Field label="New password" error={errors.newPassword} hint="12 characters or more; a passphrase is easiest.">
          {(p) => (
            <Input
              {...p}
              name="new-password"
              type="password"
              autoComplete="new-password"
              value={f.newPassword}
              onChange={(e) => setF({ ...f, newPassword: e.target.value })}
            />
          )}
        </Field>
        <Field label="New password again" error={errors.again}>
          {(p) => (
            <Input
              {...p}
              name="new-password-again"
              type="password"
              autoComplete="new-password"
              value={f.again}
              onChange={(e) => setF({ ...f, again: e.target.value })}
            />
          )}
        </Field>
        <div className="md:col-span-3 flex items-center gap-3">
          <Button type="submit" disabled={isBusy}>
            {isBusy ? 'Changing…' : 'Change password'}
          </Button>
          <span role="status" className="text-sm text-emerald-800">
            {done}
          </span>
        </div>
      </form>
    </Card>
  );
}
