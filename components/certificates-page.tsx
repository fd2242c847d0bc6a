'use client';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiCallError } from './api-client';
import { useCan } from './session';
import { Badge } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input } from './ui/field';
import { ConfirmDialog } from './ui/confirm';

type Cert = { id: string; name: string; subject: string; fingerprint: string; notAfter: string; createdAt: string };

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
  const load = useCallback(() => api('GET', '/certificates').then((r) => setItems(r.items)).catch(setError), []);
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
  const area = 'w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-xs aria-[invalid=true]:border-red-600 aria-[invalid=true]:bg-red-50';
  return (
    <div className="space-y-5">
      <PageTitle sub="Certificates for layer 7 services that terminate TLS. Private keys are stored owner-only on the appliance and never shown again.">Certificates</PageTitle>
      <ErrorBox error={error?.body} />
      <Card>
        <table className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-slate-500"><tr><th className="py-1">Name</th><th>Subject</th><th>Expires</th><th>SHA-256 fingerprint</th><th /></tr></thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id} className="border-t border-slate-100 align-top">
                <td className="py-2 font-medium">{c.name}</td>
                <td className="text-xs">{c.subject}</td>
                <td>{expiry(c.notAfter)} <span className="block text-xs text-slate-500">{new Date(c.notAfter).toLocaleDateString('en-GB')}</span></td>
                <td className="max-w-56 break-all font-mono text-[0.65rem] text-slate-600">{c.fingerprint}</td>
                <td className="text-right">{canWrite && <Button size="sm" variant="danger" onClick={() => setDeleting(c)}>Delete</Button>}</td>
              </tr>
            ))}
            {items.length === 0 && <tr><td colSpan={5} className="py-2 text-slate-600">No certificates yet.</td></tr>}
          </tbody>
        </table>
      </Card>
      {canWrite && (
        <Card title="Add a certificate" actions={
          <div role="radiogroup" aria-label="Format" className="flex gap-1 text-sm">
            {(['pem', 'pfx'] as const).map((m) => (
              <button key={m} type="button" role="radio" aria-checked={mode === m} onClick={() => setMode(m)} className={`rounded-md px-3 py-1 ${mode === m ? 'bg-slate-800 text-white' : 'bg-slate-100'}`}>{m === 'pem' ? 'PEM' : 'PFX / PKCS#12'}</button>
            ))}
          </div>}>
          <form method="post" onSubmit={upload} noValidate className="grid max-w-3xl gap-4">
            <Field label="Name" error={fields.name} hint="Referenced by services, e.g. symphony-2026.">{(p) => <Input {...p} name="cert-name" value={name} onChange={(e) => setName(e.target.value)} />}</Field>
            {mode === 'pem' ? (
              <>
                <Field label="Certificate (PEM, leaf first, then intermediates)" error={fields.certificatePem}>{(p) => <textarea {...p} name="certificatePem" rows={6} className={area} value={certificatePem} onChange={(e) => setCert(e.target.value)} placeholder="-----BEGIN CERTIFICATE-----" />}</Field>
                <Field label="Private key (PEM, unencrypted)" error={fields.privateKeyPem}>{(p) => <textarea {...p} name="privateKeyPem" rows={6} className={area} value={privateKeyPem} onChange={(e) => setKey(e.target.value)} placeholder="-----BEGIN PRIVATE KEY-----" />}</Field>
              </>
            ) : (
              <>
                <Field label="PFX file" error={fields.pfxBase64}>{(p) => <input {...p} name="pfx" type="file" accept=".pfx,.p12,application/x-pkcs12" onChange={(e) => setPfx(e.target.files?.[0] ?? null)} className="text-sm" />}</Field>
                <Field label="PFX password" error={fields.password}>{(p) => <Input {...p} name="pfx-password" type="password" autoComplete="off" value={password} onChange={(e) => setPassword(e.target.value)} />}</Field>
              </>
            )}
            <div><Button type="submit" disabled={isBusy}>{isBusy ? 'Checking…' : 'Add certificate'}</Button></div>
          </form>
        </Card>
      )}
      <ConfirmDialog open={!!deleting} title={`Delete certificate ${deleting?.name}?`} confirmLabel="Delete certificate" onCancel={() => setDeleting(null)} onConfirm={remove}>
        <p>The certificate and its private key are removed from the appliance. A certificate a service uses cannot be deleted.</p>
      </ConfirmDialog>
    </div>
  );
}
