'use client';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type ApiCallError } from './api-client';
import { useCan } from './session';
import { Badge } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input } from './ui/field';
import { ConfirmDialog } from './ui/confirm';
import { ActionsHeader, TableScroll } from './ui/table';
import { PendingRequest, RequestForm, type CertRequest } from './certificates/requests';
import { ReplaceDialog } from './certificates/replace';

type Link = { subject: string; issuer: string; notAfter: string; isSignedByNext: boolean | null };
export type Cert = {
  id: string;
  name: string;
  subject: string;
  fingerprint: string;
  notAfter: string;
  createdAt: string;
  issuer: string;
  altNames: string[];
  keyType: string;
  chain: Link[];
  chainStatus: string;
  usedBy: string[];
};

const DAY = 86_400_000;
function expiry(notAfter: string) {
  const days = Math.floor((new Date(notAfter).getTime() - Date.now()) / DAY);
  if (days < 0) return <Badge tone="red">expired</Badge>;
  if (days < 30) return <Badge tone="amber">{days} days left</Badge>;
  return <Badge tone="green">{days} days left</Badge>;
}

export function CertificatesPage() {
  const canWrite = useCan('config:write');
  const [items, setItems] = useState<Cert[]>([]);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [mode, setMode] = useState<'pem' | 'pfx'>('pem');
  const [name, setName] = useState('');
  const [certificatePem, setCert] = useState('');
  const [privateKeyPem, setKey] = useState('');
  const [pfx, setPfx] = useState<File | null>(null);
  const [password, setPassword] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [isBusy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState<Cert | null>(null);
  const [replacing, setReplacing] = useState<Cert | null>(null);
  const [requests, setRequests] = useState<CertRequest[]>([]);
  const [discarding, setDiscarding] = useState<CertRequest | null>(null);
  const load = useCallback(
    () =>
      Promise.all([api('GET', '/certificates'), api('GET', '/certificate-requests')])
        .then(([c, r]) => {
          setItems(c.items);
          setRequests(r.items);
        })
        .catch(setError),
    [],
  );
  useEffect(() => void load(), [load]);

  async function upload(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setFields({});
    setError(null);
    try {
      if (mode === 'pem') await api('POST', '/certificates', { name, certificatePem, privateKeyPem });
      else {
        const bytes = new Uint8Array(await (pfx ?? new Blob()).arrayBuffer());
        let bin = '';
        for (const b of bytes) bin += String.fromCharCode(b);
        await api('POST', '/certificates/import-pfx', { name, pfxBase64: btoa(bin), password });
      }
      setName('');
      setCert('');
      setKey('');
      setPfx(null);
      setPassword('');
      await load();
    } catch (err) {
      const ae = err as ApiCallError;
      setFields(ae.fields);
      if (!Object.keys(ae.fields).length) setError(ae);
    } finally {
      setBusy(false);
    }
  }
  async function discard() {
    if (!discarding) return;
    try {
      await api('DELETE', `/certificate-requests/${discarding.id}`);
      await load();
    } catch (e) {
      setError(e as ApiCallError);
    }
    setDiscarding(null);
  }
  async function remove() {
    if (!deleting) return;
    try {
      await api('DELETE', `/certificates/${deleting.id}`);
      await load();
    } catch (e) {
      setError(e as ApiCallError);
    }
    setDeleting(null);
  }
  const area =
    'w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-xs aria-[invalid=true]:border-red-600 aria-[invalid=true]:bg-red-50';
  return (
    <div className="space-y-5">
      <PageTitle sub="Certificates for layer 7 services that terminate TLS. Private keys are stored owner-only on the appliance and never shown again. Replacing a certificate (a renewal) is staged: the services using it get it at the next apply.">
        Certificates
      </PageTitle>
      <ErrorBox error={error?.body} />
      <Card>
        <TableScroll label="Certificates" minWidth="56rem">
          <table className="w-full text-left text-sm" data-testid="certificate-table">
            <thead className="text-xs uppercase text-slate-600">
              <tr>
                <th className="py-1">Name</th>
                <th>Subject and names</th>
                <th>Issuer and chain</th>
                <th>Expires</th>
                <th>Used by</th>
                <ActionsHeader />
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id} className="border-t border-slate-100 align-top">
                  <td className="py-2 font-medium">
                    {c.name}
                    <span className="block font-mono text-[0.65rem] font-normal text-slate-600" title={`SHA-256 ${c.fingerprint}`}>
                      {c.keyType} · {c.fingerprint.slice(0, 17)}…
                    </span>
                  </td>
                  <td className="text-xs">
                    {c.subject}
                    {c.altNames.length > 0 && <span className="block text-slate-600">{c.altNames.join(', ')}</span>}
                  </td>
                  <td className="text-xs">
                    {c.issuer}
                    <span className="block text-slate-600">
                      {c.chain.length} certificate{c.chain.length === 1 ? '' : 's'}: {c.chainStatus}
                    </span>
                  </td>
                  <td>
                    {expiry(c.notAfter)} <span className="block text-xs text-slate-600">{new Date(c.notAfter).toLocaleDateString('en-GB')}</span>
                  </td>
                  <td className="text-xs">{c.usedBy.length ? c.usedBy.join(', ') : <span className="text-slate-600">no service</span>}</td>
                  <td className="space-x-1 whitespace-nowrap text-right">
                    {canWrite && (
                      <>
                        <Button size="sm" variant="secondary" onClick={() => setReplacing(c)} aria-label={`Replace certificate ${c.name}`}>
                          Replace
                        </Button>
                        <Button size="sm" variant="danger" onClick={() => setDeleting(c)} aria-label={`Delete certificate ${c.name}`}>
                          Delete
                        </Button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
              {items.length === 0 && (
                <tr>
                  <td colSpan={6} className="py-2 text-slate-600">
                    No certificates yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </TableScroll>
      </Card>
      {requests.map((r) => (
        <PendingRequest key={r.id} r={r} canWrite={canWrite} onDone={load} onDiscard={() => setDiscarding(r)} />
      ))}
      {canWrite && <RequestForm onMade={load} />}
      {canWrite && (
        <Card
          title="Add a certificate"
          actions={
            <div role="radiogroup" aria-label="Format" className="flex gap-1 text-sm">
              {(['pem', 'pfx'] as const).map((m) => (
                <button
                  key={m}
                  type="button"
                  role="radio"
                  aria-checked={mode === m}
                  onClick={() => setMode(m)}
                  className={`rounded-md px-3 py-1 ${mode === m ? 'bg-slate-800 text-white' : 'bg-slate-100'}`}
                >
                  {m === 'pem' ? 'PEM' : 'PFX / PKCS#12'}
                </button>
              ))}
            </div>
          }
        >
          <form method="post" onSubmit={upload} noValidate className="grid max-w-3xl gap-4">
            <Field label="Name" error={fields.name} hint="Referenced by services, e.g. symphony-2026.">
              {(p) => <Input {...p} name="cert-name" value={name} onChange={(e) => setName(e.target.value)} />}
            </Field>
            {mode === 'pem' ? (
              <>
                <Field label="Certificate (PEM, leaf first, then intermediates)" error={fields.certificatePem}>
                  {(p) => (
                    <textarea
                      {...p}
                      name="certificatePem"
                      rows={6}
                      className={area}
                      value={certificatePem}
                      onChange={(e) => setCert(e.target.value)}
                      placeholder="-----BEGIN CERTIFICATE-----"
                    />
                  )}
                </Field>
                <Field label="Private key (PEM, unencrypted)" error={fields.privateKeyPem}>
                  {(p) => (
                    <textarea
                      {...p}
                      name="privateKeyPem"
                      rows={6}
                      className={area}
                      value={privateKeyPem}
                      onChange={(e) => setKey(e.target.value)}
                      placeholder="-----BEGIN PRIVATE KEY-----"
                    />
                  )}
                </Field>
              </>
            ) : (
              <>
                <Field label="PFX file" error={fields.pfxBase64}>
                  {(p) => (
                    <input
                      {...p}
                      name="pfx"
                      type="file"
                      accept=".pfx,.p12,application/x-pkcs12"
                      onChange={(e) => setPfx(e.target.files?.[0] ?? null)}
                      className="text-sm"
                    />
                  )}
                </Field>
                <Field label="PFX password" error={fields.password}>
                  {(p) => (
                    <Input {...p} name="pfx-password" type="password" autoComplete="off" value={password} onChange={(e) => setPassword(e.target.value)} />
                  )}
                </Field>
              </>
            )}
            <div>
              <Button type="submit" disabled={isBusy}>
                {isBusy ? 'Checking…' : 'Add certificate'}
              </Button>
            </div>
          </form>
        </Card>
      )}
      <ReplaceDialog
        cert={replacing}
        onClose={(changed) => {
          setReplacing(null);
          if (changed) void load();
        }}
      />
      <ConfirmDialog
        open={!!discarding}
        title={`Discard the request ${discarding?.name}?`}
        confirmLabel="Discard request and key"
        onCancel={() => setDiscarding(null)}
        onConfirm={discard}
      >
        <p>Its private key is deleted: a certificate the CA issues for this request can then never be used.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={!!deleting}
        title={`Delete certificate ${deleting?.name}?`}
        confirmLabel="Delete certificate"
        onCancel={() => setDeleting(null)}
        onConfirm={remove}
      >
        <p>The certificate and its private key are removed from the appliance. A certificate a service uses cannot be deleted.</p>
      </ConfirmDialog>
    </div>
  );
}
