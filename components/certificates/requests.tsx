'use client';
import { useState, type FormEvent } from 'react';
import { api, type ApiCallError } from '../api-client';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { Field, Input, Select } from '../ui/field';

export type CertRequest = {
  id: string;
  name: string;
  subject: string;
  altNames: string[];
  keyType: string;
  csrPem: string;
  createdBy: string;
  createdAt: string;
  isRenewal: boolean;
};
const area = 'w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-xs aria-[invalid=true]:border-red-600 aria-[invalid=true]:bg-red-50';

type RequestFields = { name: string; commonName: string; altNames: string; organization: string; country: string; keyType: string };

/**
 * Make a key and CSR on the appliance (the key never leaves); name an existing certificate to renew it. `initial`
 * pre-fills the fields (the setup wizard gives its service's name and VIP); `onMade` gets the request as made.
 */
export function RequestForm({
  onMade,
  initial,
  title = 'Request a certificate (key made here)',
}: {
  onMade: (r: CertRequest) => void;
  initial?: Partial<RequestFields>;
  title?: string;
}) {
  const [f, setF] = useState<RequestFields>({ name: '', commonName: '', altNames: '', organization: '', country: 'GB', keyType: 'ec-p256', ...initial });
  const [errors, setErrors] = useState<Record<string, string>>({});
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      const altNames = f.altNames.split(/[\s,]+/).filter(Boolean);
      const made = await api<CertRequest>('POST', '/certificate-requests', {
        name: f.name,
        commonName: f.commonName,
        altNames,
        keyType: f.keyType,
        ...(f.organization ? { organization: f.organization } : {}),
        ...(f.country ? { country: f.country } : {}),
      });
      setF({ ...f, name: '', commonName: '', altNames: '' });
      setErrors({});
      onMade(made);
    } catch (err) {
      const fields = (err as ApiCallError).fields;
      const alt = Object.entries(fields).find(([k]) => k.startsWith('altNames'));
      setErrors(Object.keys(fields).length ? { ...fields, ...(alt ? { altNames: alt[1] } : {}) } : { name: (err as ApiCallError).message });
    }
  }
  return (
    <Card title={title}>
      <form method="post" onSubmit={submit} noValidate className="grid max-w-4xl items-start gap-3 md:grid-cols-3">
        <Field label="Certificate name" error={errors.name} hint="A new name, or an existing certificate's to renew it.">
          {(p) => <Input {...p} name="req-name" value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />}
        </Field>
        <Field label="Common name (CN)" error={errors.commonName} hint="The host name clients use.">
          {(p) => (
            <Input {...p} name="req-cn" value={f.commonName} onChange={(e) => setF({ ...f, commonName: e.target.value })} placeholder="symphony.trust.nhs.uk" />
          )}
        </Field>
        <Field label="Key type" error={errors.keyType}>
          {(p) => (
            <Select {...p} name="req-key" value={f.keyType} onChange={(e) => setF({ ...f, keyType: e.target.value })}>
              <option value="ec-p256">EC P-256 (smaller, faster)</option>
              <option value="rsa-2048">RSA 2048</option>
              <option value="rsa-3072">RSA 3072</option>
              <option value="rsa-4096">RSA 4096</option>
            </Select>
          )}
        </Field>
        <Field label="Other names (SANs)" error={errors.altNames} hint="DNS:name or IP:address, one per line; the CN is added.">
          {(p) => (
            <textarea
              {...p}
              name="req-alt"
              rows={2}
              className={area}
              value={f.altNames}
              onChange={(e) => setF({ ...f, altNames: e.target.value })}
              placeholder="DNS:symphony-web.trust.nhs.uk"
            />
          )}
        </Field>
        <Field label="Organisation (optional)" error={errors.organization}>
          {(p) => <Input {...p} name="req-org" value={f.organization} onChange={(e) => setF({ ...f, organization: e.target.value })} />}
        </Field>
        <Field label="Country" error={errors.country}>
          {(p) => <Input {...p} name="req-country" value={f.country} onChange={(e) => setF({ ...f, country: e.target.value })} />}
        </Field>
        <div className="md:col-span-3">
          <Button type="submit">Make key and request</Button>
        </div>
      </form>
    </Card>
  );
}

/** A request waiting for its CA: its CSR to copy, and a box for the certificate the CA sends back. */
export function PendingRequest({ r, canWrite, onDone, onDiscard }: { r: CertRequest; canWrite: boolean; onDone: () => void; onDiscard?: () => void }) {
  const [pem, setPem] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [copied, setCopied] = useState('');
  async function complete(e: FormEvent) {
    e.preventDefault();
    try {
      await api('POST', `/certificate-requests/${r.id}/complete`, { certificatePem: pem });
      setPem('');
      onDone();
    } catch (err) {
      setError((err as ApiCallError).fields.certificatePem ?? (err as ApiCallError).message);
    }
  }
  return (
    <Card
      title={
        <>
          {r.name}{' '}
          <span className="text-sm font-normal text-slate-600">
            {r.isRenewal ? 'renewal: replaces the certificate of this name in place' : 'new certificate'}
          </span>
        </>
      }
      actions={
        canWrite &&
        onDiscard && (
          <Button size="sm" variant="danger" onClick={onDiscard} aria-label={`Discard the request ${r.name}`}>
            Discard
          </Button>
        )
      }
    >
      <p className="text-sm text-slate-700">
        {r.subject} · {r.altNames.join(', ')} · {r.keyType} · made by {r.createdBy}
      </p>
      <Field label={`Certificate signing request of ${r.name}`} hint="Send this to your CA; the key stays on the appliance.">
        {(p) => <textarea {...p} readOnly rows={4} className={area} value={r.csrPem} />}
      </Field>
      <div className="mt-2 flex items-center gap-2">
        <Button
          size="sm"
          variant="secondary"
          onClick={() =>
            navigator.clipboard.writeText(r.csrPem).then(
              () => setCopied('Copied.'),
              () => setCopied('The browser refused the clipboard; select the text.'),
            )
          }
        >
          Copy request
        </Button>
        <a
          className="text-sm font-medium text-slate-800 underline"
          href={`data:application/pkcs10;charset=utf-8,${encodeURIComponent(r.csrPem)}`}
          download={`${r.name}.csr`}
        >
          Download {r.name}.csr
        </a>
        <span role="status" className="text-xs text-slate-700">
          {copied}
        </span>
      </div>
      {canWrite && (
        <form method="post" onSubmit={complete} noValidate className="mt-3 grid gap-2">
          <Field label={`Certificate from the CA for ${r.name} (leaf first, then intermediates)`} error={error}>
            {(p) => (
              <textarea
                {...p}
                name={`complete-${r.name}`}
                rows={4}
                className={area}
                value={pem}
                onChange={(e) => setPem(e.target.value)}
                placeholder="-----BEGIN CERTIFICATE-----"
              />
            )}
          </Field>
          <div>
            <Button type="submit">{r.isRenewal ? 'Replace (staged)' : 'Add certificate'}</Button>
          </div>
        </form>
      )}
    </Card>
  );
}
