'use client';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiCallError } from './api-client';
import { useCan, useSession } from './session';
import { Badge } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input, Select } from './ui/field';
import { ConfirmDialog } from './ui/confirm';

type User = { id: string; username: string; role: string; isDisabled: boolean; version: number };
type Key = {
  id: string; name: string; prefix: string; role: string; effectiveRole: string | null; status: 'active' | 'revoked' | 'expired' | 'owner-disabled'; owner: string;
  createdAt: string; expiresAt: string | null; lastUsedAt: string | null; lastUsedFrom: string | null; revokedAt: string | null;
};
const KEY_STATUS: Record<Key['status'], { tone: 'green' | 'red' | 'amber'; text: string }> = {
  active: { tone: 'green', text: 'active' },
  revoked: { tone: 'red', text: 'revoked' },
  expired: { tone: 'amber', text: 'expired' },
  'owner-disabled': { tone: 'amber', text: 'owner disabled' },
};
const when = (iso: string) => new Date(iso).toLocaleString('en-GB');
const ROLE_TEXT: Record<string, string> = { admin: 'everything', operator: 'server states and apply', auditor: 'read everything, audit export', viewer: 'read, no audit' };

export function UsersPage() {
  const me = useSession();
  const canWrite = useCan('users:write');
  const [users, setUsers] = useState<User[]>([]);
  const [keys, setKeys] = useState<Key[]>([]);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [nu, setNu] = useState({ username: '', password: '', role: 'operator' });
  const [nuErr, setNuErr] = useState<Record<string, string>>({});
  const [nk, setNk] = useState({ name: '', role: 'operator', expires: '' });
  const [nkErr, setNkErr] = useState<Record<string, string>>({});
  const [newKey, setNewKey] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ title: string; label: string; run: () => Promise<unknown> } | null>(null);
  const load = useCallback(async () => {
    try {
      const [u, k] = await Promise.all([api('GET', '/users'), api('GET', '/api-keys')]);
      setUsers(u.items);
      setKeys(k.items);
    } catch (e) {
      setError(e as ApiCallError);
    }
  }, []);
  useEffect(() => void load(), [load]);

  async function addUser(e: FormEvent) {
    e.preventDefault();
    try {
      await api('POST', '/users', nu);
      setNu({ username: '', password: '', role: 'operator' });
      setNuErr({});
      await load();
    } catch (err) {
      setNuErr((err as ApiCallError).fields);
    }
  }
  async function addKey(e: FormEvent) {
    e.preventDefault();
    try {
      // A date from the form expires at the end of that day, in the browser's time zone.
      const expiresAt = nk.expires ? new Date(`${nk.expires}T23:59:59`).toISOString() : undefined;
      const r = await api('POST', '/api-keys', { name: nk.name, role: nk.role, ...(expiresAt ? { expiresAt } : {}) });
      setNewKey(r.key);
      setNk({ name: '', role: 'operator', expires: '' });
      setNkErr({});
      await load();
    } catch (err) {
      const fields = (err as ApiCallError).fields;
      setNkErr(fields.expiresAt ? { ...fields, expires: fields.expiresAt } : fields);
    }
  }
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
      <PageTitle sub="People log in with a password; automation uses API keys. Roles: admin (everything), operator (server states and apply), auditor (read everything and the audit log), viewer (read).">Users and API keys</PageTitle>
      <ErrorBox error={error?.body} />
      <Card title="Users">
        <table className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-slate-500"><tr><th className="py-1">User</th><th>Role</th><th>Status</th><th className="text-right">Actions</th></tr></thead>
          <tbody>{users.map((u) => (
            <tr key={u.id} className="border-t border-slate-100">
              <td className="py-2 font-medium">{u.username}{u.username === me.name && <span className="text-xs text-slate-500"> (you)</span>}</td>
              <td>{canWrite && u.username !== me.name ? (
                <Select aria-label={`Role of ${u.username}`} value={u.role} className="w-40" onChange={(e) => setConfirm({ title: `Make ${u.username} ${e.target.value}?`, label: `Make ${e.target.value}`, run: () => api('PATCH', `/users/${u.id}`, { role: e.target.value }) })}>
                  {Object.keys(ROLE_TEXT).map((r) => <option key={r} value={r}>{r}</option>)}
                </Select>) : u.role}</td>
              <td>{u.isDisabled ? <Badge tone="red">disabled</Badge> : <Badge tone="green">active</Badge>}</td>
              <td className="space-x-1 text-right">{canWrite && u.username !== me.name && <>
                <Button size="sm" variant="secondary" onClick={() => setConfirm({ title: `${u.isDisabled ? 'Enable' : 'Disable'} ${u.username}?`, label: u.isDisabled ? 'Enable' : 'Disable', run: () => api('PATCH', `/users/${u.id}`, { isDisabled: !u.isDisabled }) })}>{u.isDisabled ? 'Enable' : 'Disable'}</Button>
                <Button size="sm" variant="danger" onClick={() => setConfirm({ title: `Delete ${u.username}?`, label: `Delete ${u.username}`, run: () => api('DELETE', `/users/${u.id}`) })}>Delete</Button>
              </>}</td>
            </tr>))}</tbody>
        </table>
        {canWrite && (
          <form method="post" onSubmit={addUser} noValidate className="mt-4 grid items-start gap-3 border-t border-slate-200 pt-4 md:grid-cols-4">
            <Field label="Username" error={nuErr.username}>{(p) => <Input {...p} name="new-username" value={nu.username} onChange={(e) => setNu({ ...nu, username: e.target.value })} />}</Field>
            <Field label="Password" error={nuErr.password} hint="12 characters or more">{(p) => <Input {...p} name="new-password" type="password" autoComplete="new-password" value={nu.password} onChange={(e) => setNu({ ...nu, password: e.target.value })} />}</Field>
            <Field label="Role" error={nuErr.role}>{(p) => <Select {...p} name="new-role" value={nu.role} onChange={(e) => setNu({ ...nu, role: e.target.value })}>{Object.entries(ROLE_TEXT).map(([r, t]) => <option key={r} value={r}>{r} — {t}</option>)}</Select>}</Field>
            <Button type="submit" className="mt-6">Add user</Button>
          </form>
        )}
      </Card>
      <Card title="API keys">
        {newKey && (
          <div role="status" className="mb-3 rounded-md border border-emerald-300 bg-emerald-50 p-3 text-sm">
            <p className="font-medium">Copy this key now; it is not shown again.</p>
            <code data-testid="new-api-key" className="mt-1 block break-all font-mono text-xs">{newKey}</code>
            <p className="mt-1 text-xs text-slate-600">Send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
          </div>
        )}
        <table className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-slate-500"><tr><th className="py-1">Name</th><th>Prefix</th><th>Role</th><th>Owner</th><th>Status</th><th>Expires</th><th>Last used</th><th /></tr></thead>
          <tbody>{keys.map((k) => (
            <tr key={k.id} className="border-t border-slate-100">
              <td className="py-2">{k.name}</td><td className="font-mono text-xs">fk_{k.prefix}_…</td>
              <td>{k.role}{k.effectiveRole && k.effectiveRole !== k.role && <span className="block text-xs text-amber-800" title="A key never does more than its owner may do now">acts as {k.effectiveRole} (owner&apos;s role)</span>}</td>
              <td>{k.owner}</td>
              <td><Badge tone={KEY_STATUS[k.status].tone}>{KEY_STATUS[k.status].text}</Badge></td>
              <td>{k.expiresAt ? when(k.expiresAt) : 'never'}</td>
              <td>{k.lastUsedAt ? <>{when(k.lastUsedAt)}{k.lastUsedFrom && <span className="block text-xs text-slate-500">from {k.lastUsedFrom}</span>}</> : 'never'}</td>
              <td className="text-right">{canWrite && !k.revokedAt && <Button size="sm" variant="danger" onClick={() => setConfirm({ title: `Revoke key ${k.name}?`, label: 'Revoke key', run: () => api('DELETE', `/api-keys/${k.id}`) })}>Revoke</Button>}</td>
            </tr>))}</tbody>
        </table>
        {canWrite && (
          <form method="post" onSubmit={addKey} noValidate className="mt-4 grid items-start gap-3 border-t border-slate-200 pt-4 md:grid-cols-4">
            <Field label="Key name" error={nkErr.name}>{(p) => <Input {...p} name="key-name" value={nk.name} onChange={(e) => setNk({ ...nk, name: e.target.value })} placeholder="change-pipeline" />}</Field>
            <Field label="Role" error={nkErr.role} hint="never more than its owner's role at the time of each request">{(p) => <Select {...p} name="key-role" value={nk.role} onChange={(e) => setNk({ ...nk, role: e.target.value })}>{Object.keys(ROLE_TEXT).map((r) => <option key={r}>{r}</option>)}</Select>}</Field>
            <Field label="Expires (optional)" error={nkErr.expires} hint="at the end of that day">{(p) => <Input {...p} name="key-expires" type="date" value={nk.expires} onChange={(e) => setNk({ ...nk, expires: e.target.value })} />}</Field>
            <Button type="submit" className="mt-6">Create key</Button>
          </form>
        )}
      </Card>
      <ConfirmDialog open={!!confirm} title={confirm?.title ?? ''} confirmLabel={confirm?.label ?? ''} onCancel={() => setConfirm(null)} onConfirm={run}>
        <p>This is recorded in the audit log.</p>
      </ConfirmDialog>
    </div>
  );
}
