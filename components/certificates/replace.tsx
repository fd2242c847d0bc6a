'use client';
import { useState, type FormEvent } from 'react';
import { api, type ApiCallError } from '../api-client';
import { useModalDialog } from '../ui/modal';
import { Button } from '../ui/button';
import { Field } from '../ui/field';

const area = 'w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-xs aria-[invalid=true]:border-red-600 aria-[invalid=true]:bg-red-50';

/** Renewal by upload: a new PEM under the same name; the key is kept unless a new one is given. Staged. */
export function ReplaceDialog({ cert, onClose }: { cert: { id: string; name: string; usedBy: string[] } | null; onClose: (changed: boolean) => void }) {
  const ref = useModalDialog(!!cert);
  const [pem, setPem] = useState('');
  const [key, setKey] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!cert) return;
    try {
      await api('PUT', `/certificates/${cert.id}`, { certificatePem: pem, ...(key ? { privateKeyPem: key } : {}) });
      setPem('');
      setKey('');
      setErrors({});
      onClose(true);
    } catch (err) {
      const ae = err as ApiCallError;
      setErrors(Object.keys(ae.fields).length ? ae.fields : { certificatePem: ae.message });
    }
  }
  return (
    <dialog
      ref={ref}
      onCancel={(e) => {
        e.preventDefault();
        onClose(false);
      }}
      aria-labelledby="replace-title"
      className="m-auto w-[min(40rem,94vw)] rounded-lg p-0 shadow-xl"
    >
      <form method="dialog" onSubmit={submit} noValidate>
        <div className="space-y-3 p-5">
          <h2 id="replace-title" className="text-lg font-semibold">
            Replace certificate {cert?.name}
          </h2>
          <p className="text-sm text-slate-700">
            Staged like any change: {cert?.usedBy.length ? cert.usedBy.join(', ') : 'no service'} get{cert?.usedBy.length === 1 ? 's' : ''} the new certificate
            at the next apply.
          </p>
          <Field label="New certificate (PEM, leaf first, then intermediates)" error={errors.certificatePem}>
            {(p) => <textarea {...p} name="replace-cert" rows={6} className={area} value={pem} onChange={(e) => setPem(e.target.value)} />}
          </Field>
          <Field label="New private key (optional: empty keeps the current key)" error={errors.privateKeyPem}>
            {(p) => <textarea {...p} name="replace-key" rows={3} className={area} value={key} onChange={(e) => setKey(e.target.value)} />}
          </Field>
        </div>
        <div className="flex justify-end gap-2 border-t border-slate-200 bg-slate-50 px-5 py-3">
          <Button variant="secondary" onClick={() => onClose(false)}>
            Cancel
          </Button>
          <Button type="submit">Replace (staged)</Button>
        </div>
      </form>
    </dialog>
  );
}
