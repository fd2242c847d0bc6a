'use client';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type ApiCallError } from './api-client';
import { useCan, useSession, useWhyNot } from './session';
import { Badge } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input, Select } from './ui/field';
import { ConfirmDialog } from './ui/confirm';
import { ActionsHeader, TableScroll } from './ui/table';
import { ApiKeyTable, NewKeyForm, type Key } from './accounts/api-keys';
import { SessionTable, type SessionRow } from './accounts/sessions';
import { ResetPasswordDialog } from './accounts/reset-password';

type User = { id: string; username: string; role: string; isDisabled: boolean; mustChangePassword?: boolean; version: number };
const ROLE_TEXT: Record<string, string> = {
  admin: 'everything',
  operator: 'server states and apply',
  auditor: 'read everything, audit export',
  viewer: 'read, no audit',
};
type Confirm = { title: string; label: string; run: () => Promise<unknown> };

export function UsersPage() {
  const me = useSession();
  const canWrite = useCan('users:write');
  const whyNot = useWhyNot('users:write');
  const [users, setUsers] = useState<User[]>([]);
  const [keys, setKeys] = useState<Key[]>([]);
  const [sessions, setSessions] = useState<SessionRow[]>([]);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [confirm, setConfirm] = useState<Confirm | null>(null);
  const [resetting, setResetting] = useState<User | null>(null);
  const load = useCallback(async () => {
    try {
      const [u, k, s] = await Promise.all([api('GET', '/users'), api('GET', '/api-keys'), api('GET', '/sessions')]);
      setUsers(u.items);
      setKeys(k.items);
      setSessions(s.items);
    } catch (e) {
      setError(e as ApiCallError);
    }
  }, []);
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
  return (
    <div className="space-y-5">
      <PageTitle sub="People log in with a password; automation uses API keys. Roles: admin (everything), operator (server states and apply), auditor (read everything and the audit log), viewer (read). Your own password, sessions and keys are on your account page.">
        Users and API keys
      </PageTitle>
      {whyNot && (
        <p data-testid="why-not" className="rounded-md border border-slate-200 bg-white px-3 py-2 text-sm text-slate-700">
          You can read this page but not change it: changing users, sessions and keys {whyNot.replace(/^Needs/, 'needs')}
        </p>
      )}
      <ErrorBox error={error?.body} />
      <Card title="Users">
        <UserTable users={users} me={me.name} canWrite={canWrite} setConfirm={setConfirm} onReset={setResetting} />
        {canWrite && <NewUserForm onCreated={load} />}
      </Card>
      <Card title="Sessions">
        <SessionTable
          sessions={sessions}
          showUser
          canEnd={() => canWrite}
          onEnd={(s) =>
            setConfirm({
              title: s.isCurrent ? 'Log out of this browser?' : `End ${s.username}'s session from ${s.sourceAddress}?`,
              label: 'End session',
              run: async () => {
                await api('DELETE', `/sessions/${s.id}`);
                if (s.isCurrent) window.location.href = '/login';
              },
            })
          }
        />
      </Card>
      <Card title="API keys">
        <ApiKeyTable
          keys={keys}
          showOwner
          onRevoke={
            canWrite ? (k) => setConfirm({ title: `Revoke key ${k.name}?`, label: 'Revoke key', run: () => api('DELETE', `/api-keys/${k.id}`) }) : undefined
          }
        />
        {canWrite && <NewKeyForm path="/api-keys" roles={Object.keys(ROLE_TEXT)} onCreated={load} />}
      </Card>
      <ConfirmDialog open={!!confirm} title={confirm?.title ?? ''} confirmLabel={confirm?.label ?? ''} onCancel={() => setConfirm(null)} onConfirm={run}>
        <p>This is recorded in the audit log.</p>
      </ConfirmDialog>
      <ResetPasswordDialog
        user={resetting}
        onClose={(changed) => {
          setResetting(null);
          if (changed) void load();
        }}
      />
    </div>
  );
}

function UserTable({
  users,
  me,
  canWrite,
  setConfirm,
  onReset,
}: {
  users: User[];
  me: string;
  canWrite: boolean;
  setConfirm: (c: Confirm) => void;
  onReset: (u: User) => void;
}) {
  return (
    <TableScroll label="Users" minWidth="40rem">
      <table className="w-full text-left text-sm" data-testid="user-table">
        <thead className="text-xs uppercase text-slate-600">
          <tr>
            <th className="py-1">User</th>
            <th>Role</th>
            <th>Status</th>
            <ActionsHeader />
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} className="border-t border-slate-100">
              <td className="py-2 font-medium">
                {u.username}
                {u.username === me && <span className="text-xs text-slate-600"> (you)</span>}
              </td>
              <td>
                {canWrite && u.username !== me ? (
                  <Select
                    aria-label={`Role of ${u.username}`}
                    value={u.role}
                    className="w-40"
                    onChange={(e) =>
                      setConfirm({
                        title: `Make ${u.username} ${e.target.value}?`,
                        label: `Make ${e.target.value}`,
                        run: () => api('PATCH', `/users/${u.id}`, { role: e.target.value }),
                      })
                    }
                  >
                    {Object.keys(ROLE_TEXT).map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </Select>
                ) : (
                  u.role
                )}
              </td>
              <td>
                {u.isDisabled ? <Badge tone="red">disabled</Badge> : <Badge tone="green">active</Badge>}
                {u.mustChangePassword && (
                  <>
                    {' '}
                    <Badge tone="amber">must change password</Badge>
                  </>
                )}
              </td>
              <td className="space-x-1 whitespace-nowrap text-right">
                {canWrite && u.username !== me && (
                  <>
                    <Button size="sm" variant="secondary" onClick={() => onReset(u)} aria-label={`Reset the password of ${u.username}`}>
                      Reset password
                    </Button>
                    <Button
                      size="sm"
                      variant="secondary"
                      onClick={() =>
                        setConfirm({
                          title: `${u.isDisabled ? 'Enable' : 'Disable'} ${u.username}?`,
                          label: u.isDisabled ? 'Enable' : 'Disable',
                          run: () => api('PATCH', `/users/${u.id}`, { isDisabled: !u.isDisabled }),
                        })
                      }
                    >
                      {u.isDisabled ? 'Enable' : 'Disable'}
                    </Button>
                    <Button
                      size="sm"
                      variant="danger"
                      onClick={() => setConfirm({ title: `Delete ${u.username}?`, label: `Delete ${u.username}`, run: () => api('DELETE', `/users/${u.id}`) })}
                    >
                      Delete
                    </Button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

function NewUserForm({ onCreated }: { onCreated: () => void }) {
  const [nu, setNu] = useState({ username: '', password: '', role: 'operator' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await api('POST', '/users', nu);
      setNu({ username: '', password: '', role: 'operator' });
      setErrors({});
      onCreated();
    } catch (err) {
      setErrors((err as ApiCallError).fields);
    }
  }
  return (
    <form method="post" onSubmit={submit} noValidate className="mt-4 grid items-start gap-3 border-t border-slate-200 pt-4 md:grid-cols-4">
      <Field label="Username" error={errors.username}>
        {(p) => <Input {...p} name="new-username" value={nu.username} onChange={(e) => setNu({ ...nu, username: e.target.value })} />}
      </Field>
      <Field label="Password" error={errors.password} hint="12 characters or more">
        {(p) => (
          <Input
            {...p}
            name="new-password"
            type="password"
            autoComplete="new-password"
            value={nu.password}
            onChange={(e) => setNu({ ...nu, password: e.target.value })}
          />
        )}
      </Field>
      <Field label="Role" error={errors.role}>
        {(p) => (
          <Select {...p} name="new-role" value={nu.role} onChange={(e) => setNu({ ...nu, role: e.target.value })}>
            {Object.entries(ROLE_TEXT).map(([r, t]) => (
              <option key={r} value={r}>
                {r} — {t}
              </option>
            ))}
          </Select>
        )}
      </Field>
      <Button type="submit" className="md:mt-6">
        Add user
      </Button>
    </form>
  );
}
