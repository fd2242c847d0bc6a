'use client';
/** Persistence, the health check, and (layer 7) the certificate, the HTTP → HTTPS redirect and X-Forwarded-For. */
import { useEffect, useState } from 'react';
import { api } from '../api-client';
import { Field, Input, Select } from '../ui/field';
import { fromNumber, toNumber } from './steps';
import type { Answers, StepProps } from './types';

type PersistenceValue = NonNullable<Answers['persistence']>;
type HealthValue = NonNullable<Answers['health']>;
type TlsValue = NonNullable<Answers['tls']>;

const PERSISTENCE_TEXT: Record<string, string> = {
  'source-ip': 'Source IP: a client keeps going to the same real server for the timeout after its last connection (the default for DR).',
  'http-cookie':
    'Cookie: the appliance sets a cookie naming the real server, so each browser stays with its server even behind a shared proxy or NAT (the default for Layer 7).',
  none: 'None: every connection may go to any real server. Only for applications that keep no session on the server.',
};

const CHECK_TEXT: Record<string, string> = {
  http: 'HTTP negotiate: request a page and expect a status (and, if given, a text in the page).',
  https: "HTTPS negotiate: the same over TLS (the server's certificate is not verified).",
  connect: 'TCP connect: the port accepts a connection.',
  'dicom-echo': 'DICOM C-ECHO: open an association and send a verification request, as a modality would.',
  none: 'None: the servers are never taken out of service automatically. Not advised for a clinical system.',
};

export function PersistenceStep({ value, onChange, errors, run, template }: StepProps<PersistenceValue>) {
  const mode = template.modes.find((m) => m.id === run.modeId)!;
  return (
    <div className="space-y-4">
      <fieldset className="space-y-2">
        <legend className="text-sm font-medium text-slate-700">Persistence</legend>
        {mode.persistenceChoices.map((c) => (
          <label key={c} className="flex items-start gap-2 text-sm">
            <input
              type="radio"
              name="persistence"
              value={c}
              checked={value.type === c}
              onChange={() => onChange({ ...value, type: c })}
              className="mt-1"
              aria-invalid={!!errors.type}
            />
            <span>{PERSISTENCE_TEXT[c]}</span>
          </label>
        ))}
        {errors.type && (
          <p role="alert" className="text-xs font-medium text-red-700" data-field-error>
            {errors.type}
          </p>
        )}
      </fieldset>
      {value.type === 'source-ip' && (
        <Field label="Persistence timeout (seconds)" error={errors.timeoutSeconds}>
          {(p) => (
            <Input
              {...p}
              name="timeoutSeconds"
              inputMode="numeric"
              value={fromNumber(value.timeoutSeconds)}
              onChange={(e) => onChange({ ...value, timeoutSeconds: toNumber(e.target.value) })}
              className="max-w-xs"
            />
          )}
        </Field>
      )}
      {value.type === 'http-cookie' && (
        <Field label="Cookie name" error={errors.cookieName}>
          {(p) => (
            <Input
              {...p}
              name="cookieName"
              value={value.cookieName ?? ''}
              onChange={(e) => onChange({ ...value, cookieName: e.target.value || undefined })}
              className="max-w-xs"
            />
          )}
        </Field>
      )}
    </div>
  );
}

export function HealthStep({ value, onChange, errors, run, template }: StepProps<HealthValue>) {
  const mode = template.modes.find((m) => m.id === run.modeId)!;
  const set = (patch: Partial<HealthValue>) => onChange({ ...value, ...patch });
  const isHttp = value.type === 'http' || value.type === 'https';
  return (
    <div className="space-y-4">
      <Field label="Check kind" error={errors.type} hint={CHECK_TEXT[value.type]}>
        {(p) => (
          <Select {...p} name="checkType" value={value.type} onChange={(e) => set({ type: e.target.value as HealthValue['type'] })} className="max-w-md">
            {mode.healthCheckChoices.map((c) => (
              <option key={c} value={c}>
                {CHECK_TEXT[c].split(':')[0]}
              </option>
            ))}
          </Select>
        )}
      </Field>
      {isHttp && (
        <div className="grid gap-4 md:grid-cols-2">
          <Field label="Check path" error={errors.path}>
            {(p) => <Input {...p} name="path" value={value.path ?? '/'} onChange={(e) => set({ path: e.target.value })} />}
          </Field>
          <Field label="Expected text (optional)" error={errors.expectText} hint="A word the page contains when the application is really working.">
            {(p) => <Input {...p} name="expectText" value={value.expectText ?? ''} onChange={(e) => set({ expectText: e.target.value || undefined })} />}
          </Field>
        </div>
      )}
      {value.type === 'dicom-echo' && (
        <div className="grid gap-4 md:grid-cols-2">
          <Field label="Called AE title" error={errors.calledAeTitle} hint="The AE title of the PACS servers (ask the PACS administrator).">
            {(p) => <Input {...p} name="calledAeTitle" value={value.calledAeTitle ?? ''} onChange={(e) => set({ calledAeTitle: e.target.value })} />}
          </Field>
          <Field label="Calling AE title" error={errors.callingAeTitle} hint="This appliance's AE title; the PACS may need to know it.">
            {(p) => (
              <Input {...p} name="callingAeTitle" value={value.callingAeTitle ?? ''} onChange={(e) => set({ callingAeTitle: e.target.value || undefined })} />
            )}
          </Field>
        </div>
      )}
      {value.type !== 'none' && (
        <div className="grid gap-4 md:grid-cols-3">
          <Field label="Check port (optional)" error={errors.port} hint="Empty: the real server's port, or the VIP's first.">
            {(p) => (
              <Input {...p} name="checkPort" inputMode="numeric" value={fromNumber(value.port)} onChange={(e) => set({ port: toNumber(e.target.value) })} />
            )}
          </Field>
          <Field label="Check interval (ms)" error={errors.intervalMs} hint="Empty: 5000.">
            {(p) => (
              <Input
                {...p}
                name="intervalMs"
                inputMode="numeric"
                value={fromNumber(value.intervalMs)}
                onChange={(e) => set({ intervalMs: toNumber(e.target.value) })}
              />
            )}
          </Field>
          <Field label="Check timeout (ms)" error={errors.timeoutMs} hint="Empty: 3000.">
            {(p) => (
              <Input
                {...p}
                name="timeoutMs"
                inputMode="numeric"
                value={fromNumber(value.timeoutMs)}
                onChange={(e) => set({ timeoutMs: toNumber(e.target.value) })}
              />
            )}
          </Field>
        </div>
      )}
    </div>
  );
}

export function TlsStep({ value, onChange, errors }: StepProps<TlsValue>) {
  const [certs, setCerts] = useState<{ name: string; subject: string; notAfter: string }[] | null>(null);
  useEffect(
    () =>
      void api<{ items: { name: string; subject: string; notAfter: string }[] }>('GET', '/certificates')
        .then((r) => setCerts(r.items))
        .catch(() => setCerts([])),
    [],
  );
  const set = (patch: Partial<TlsValue>) => onChange({ ...value, ...patch });
  return (
    <div className="space-y-4">
      <fieldset className="space-y-2">
        <legend className="text-sm font-medium text-slate-700">Certificate for the HTTPS ports</legend>
        <label className="flex items-start gap-2 text-sm">
          <input
            type="radio"
            name="tlsSource"
            className="mt-1"
            checked={value.source === 'existing'}
            onChange={() => set({ source: 'existing', certificate: undefined })}
            aria-invalid={!!errors.source}
          />
          <span>
            One already on this appliance. Upload the hospital CA's certificate as PEM or PFX on the{' '}
            <a className="underline" href="/certificates" target="_blank" rel="noreferrer">
              Certificates
            </a>{' '}
            page first.
          </span>
        </label>
        <label className="flex items-start gap-2 text-sm">
          <input
            type="radio"
            name="tlsSource"
            className="mt-1"
            checked={value.source === 'self-signed'}
            onChange={() => set({ source: 'self-signed' })}
            aria-invalid={!!errors.source}
          />
          <span>
            Self-signed, made by this appliance at create: browsers warn until it is replaced by the CA&apos;s certificate (upload one with the same name).
          </span>
        </label>
        <label className="flex items-start gap-2 text-sm">
          <input
            type="radio"
            name="tlsSource"
            className="mt-1"
            checked={value.source === 'request'}
            onChange={() => set({ source: 'request', certificate: undefined })}
            aria-invalid={!!errors.source}
          />
          <span>
            Make a key and a signing request (CSR) here, to take to the hospital&apos;s certificate authority. The key never leaves this appliance; the run goes
            on with a self-signed placeholder until the CA&apos;s certificate is pasted in.
          </span>
        </label>
        <label className="flex items-start gap-2 text-sm">
          <input
            type="radio"
            name="tlsSource"
            className="mt-1"
            checked={value.source === 'none'}
            onChange={() => set({ source: 'none' })}
            aria-invalid={!!errors.source}
          />
          <span>None yet: only possible without HTTPS ports (untick HTTPS on the VIP step).</span>
        </label>
        {errors.source && (
          <p role="alert" className="text-xs font-medium text-red-700" data-field-error>
            {errors.source}
          </p>
        )}
      </fieldset>
      {value.source === 'request' && (
        <div className="text-sm" data-testid="csr-chosen">
          <p>
            {value.certificate
              ? `Signing request: ${value.certificate}. Its certificate will have this name.`
              : 'No signing request chosen yet: make one below (Make key and request).'}
          </p>
          {errors.certificate && (
            <p role="alert" className="text-xs font-medium text-red-700" data-field-error>
              {errors.certificate}
            </p>
          )}
        </div>
      )}
      {value.source === 'existing' && (
        <Field label="Certificate" error={errors.certificate}>
          {(p) => (
            <Select
              {...p}
              name="certificate"
              value={value.certificate ?? ''}
              onChange={(e) => set({ certificate: e.target.value || undefined })}
              className="max-w-md"
            >
              <option value="">{certs === null ? 'Loading…' : certs.length ? 'Choose a certificate' : 'No certificate uploaded yet'}</option>
              {certs?.map((c) => (
                <option key={c.name} value={c.name}>
                  {c.name} — {c.subject} (until {new Date(c.notAfter).toLocaleDateString('en-GB')})
                </option>
              ))}
            </Select>
          )}
        </Field>
      )}
      <label className="flex items-start gap-2 text-sm">
        <input type="checkbox" className="mt-1" checked={value.httpsRedirect} onChange={(e) => set({ httpsRedirect: e.target.checked })} />
        <span>Redirect HTTP to HTTPS: the HTTP ports answer with a redirect (301) to the same address over HTTPS.</span>
      </label>
      <label className="flex items-start gap-2 text-sm">
        <input type="checkbox" className="mt-1" checked={value.xForwardedFor} onChange={(e) => set({ xForwardedFor: e.target.checked })} />
        <span>
          Insert X-Forwarded-For: Layer 7 is not transparent, so the real servers see this appliance&apos;s address; this header carries the client&apos;s.
        </span>
      </label>
    </div>
  );
}
