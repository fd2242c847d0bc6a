'use client';
import { useState, type FormEvent } from 'react';
import { api, type ApiCallError } from '../api-client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Field, Input, Select } from '../ui/field';
import { ActionsHeader, TableScroll } from '../ui/table';
import { SecretOnce } from './secret-once';

export type Key = {
  id: string;
  name: string;
  prefix: string;
  role: string;
  effectiveRole: string | null;
  status: 'active' | 'revoked' | 'expired' | 'owner-disabled';
  owner: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  lastUsedFrom: string | null;
  revokedAt: string | null;
};
const KEY_STATUS: Record<Key['status'], { tone: 'green' | 'red' | 'amber'; text: string }> = {
  active: { tone: 'green', text: 'active' },
  revoked: { tone: 'red', text: 'revoked' },
  expired: { tone: 'amber', text: 'expired' },
  'owner-disabled': { tone: 'amber', text: 'owner disabled' },
};
export const when = (iso: string) => new Date(iso).toLocaleString('en-GB');

/** API keys as a table: status in words, expiry, last use and from where, and a revoke button where allowed. */
export function ApiKeyTable({ keys, showOwner, onRevoke }: { keys: Key[]; showOwner: boolean; onRevoke?: (k: Key) => void }) {
  return (
    <TableScroll label="API keys" minWidth="48rem">
      <table className="w-full text-left text-sm" data-testid="api-key-table">
        <thead className="text-xs uppercase text-slate-600">
          <tr>
            <th className="py-1">Name</th>
            <th>Prefix</th>
            <th>Role</th>
            {showOwner && <th>Owner</th>}
            <th>Status</th>
            <th>Expires</th>
            <th>Last used</th>
            <ActionsHeader />
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id} className="border-t border-slate-100">
              <td className="py-2">{k.name}</td>
              <td className="font-mono text-xs">fk_{k.prefix}_…</td>
              <td>
                {k.role}
                {k.effectiveRole && k.effectiveRole !== k.role && (
                  <span className="block text-xs text-amber-800" title="A key never does more than its owner may do now">
                    acts as {k.effectiveRole} (owner&apos;s role)
                  </span>
                )}
              </td>
              {showOwner && <td>{k.owner}</td>}
              <td>
                <Badge tone={KEY_STATUS[k.status].tone}>{KEY_STATUS[k.status].text}</Badge>
              </td>
              <td>{k.expiresAt ? when(k.expiresAt) : 'never'}</td>
              <td>
                {k.lastUsedAt ? (
                  <>
                    {when(k.lastUsedAt)}
                    {k.lastUsedFrom && <span className="block text-xs text-slate-600">from {k.lastUsedFrom}</span>}
                  </>
                ) : (
                  'never'
                )}
              </td>
              <td className="text-right">
                {onRevoke && !k.revokedAt && (
                  <Button size="sm" variant="danger" onClick={() => onRevoke(k)} aria-label={`Revoke key ${k.name}`}>
                    Revoke
                  </Button>
                )}
              </td>
            </tr>
          ))}
          {keys.length === 0 && (
            <tr>
              <td colSpan={8} className="py-2 text-slate-600">
                No API keys.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </TableScroll>
  );
}

/** Make a key (POST to `path`), then show it once with a copy button. `roles`: those the key may have. */
export function NewKeyForm({ path, roles, onCreated }: { path: string; roles: string[]; onCreated: () => void }) {
  const [nk, setNk] = useState({ name: '', role: roles.at(-1) ?? 'viewer', expires: '' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [secret, setSecret] = useState<string | null>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      // A date from the form expires at the end of that day, in the browser's time zone.
      const expiresAt = nk.expires ? new Date(`${nk.expires}T23:59:59`).toISOString() : undefined;
      const r = await api('POST', path, { name: nk.name, role: nk.role, ...(expiresAt ? { expiresAt } : {}) });
      setSecret(r.key);
      setNk({ name: '', role: nk.role, expires: '' });
      setErrors({});
      onCreated();
    } catch (err) {
      const fields = (err as ApiCallError).fields;
      setErrors(fields.expiresAt ? { ...fields, expires: fields.expiresAt } : Object.keys(fields).length ? fields : { name: (err as ApiCallError).message });
    }
  }
  return (
    <div className="mt-4 border-t border-slate-200 pt-4">
      {secret && <SecretOnce secret={secret} onDone={() => setSecret(null)} />}
      <form method="post" onSubmit={submit} noValidate className="grid items-start gap-3 md:grid-cols-4">
        <Field label="Key name" error={errors.name}>
          {(p) => <Input {...p} name="key-name" value={nk.name} onChange={(e) => setNk({ ...nk, name: e.target.value })} placeholder="change-pipeline" />}
        </Field>
        <Field label="Key role" error={errors.role} hint="never more than its owner's role at the time of each request">
          {(p) => (
            <Select {...p} name="key-role" value={nk.role} onChange={(e) => setNk({ ...nk, role: e.target.value })}>
              {roles.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="Expires (optional)" error={errors.expires} hint="at the end of that day">
          {(p) => <Input {...p} name="key-expires" type="date" value={nk.expires} onChange={(e) => setNk({ ...nk, expires: e.target.value })} />}
        </Field>
        <Button type="submit" className="md:mt-6">
          Create key
        </Button>
      </form>
    </div>
  );
}
