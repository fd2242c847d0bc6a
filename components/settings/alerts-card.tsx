'use client';
import { useEffect, useState } from 'react';
import { Button } from '../ui/button';
import { Card, ErrorBox } from '../ui/card';
import { Field, Input, Select } from '../ui/field';
import { useSettings } from './use-settings';

interface Email {
  isEnabled: boolean;
  host: string;
  port: number;
  security: 'none' | 'starttls' | 'tls';
  username?: string;
  password?: string;
  hasPassword?: boolean;
  from: string;
  to: string[];
  caPem?: string;
}
interface Webhook {
  isEnabled: boolean;
  url: string;
  secret?: string;
  hasSecret?: boolean;
}
interface AlertSettings {
  isEnabled: boolean;
  minIntervalMinutes: number;
  certificateWarnDays: number;
  chainCheckMinutes: number;
  email?: Email;
  webhook?: Webhook;
}
interface AlertStatus {
  targets: { channel: string; sent: number; failed: number; held: number; lastError: string | null }[];
}

const NEW_EMAIL: Email = { isEnabled: false, host: '', port: 587, security: 'starttls', from: '', to: [] };
const NEW_WEBHOOK: Webhook = { isEnabled: false, url: '' };

/** The body to save: secrets left out unless typed (the stored ones are kept), disabled targets without content left out. */
function bodyOf(f: AlertSettings) {
  const strip = <T extends object>(o: T, keys: string[]) =>
    Object.fromEntries(Object.entries(o).filter(([k, v]) => !keys.includes(k) && v !== '' && v !== undefined)) as T;
  const email = f.email && (f.email.isEnabled || f.email.host) ? strip(f.email, ['hasPassword']) : undefined;
  const webhook = f.webhook && (f.webhook.isEnabled || f.webhook.url) ? strip(f.webhook, ['hasSecret']) : undefined;
  return { ...f, email, webhook };
}

export function AlertsCard() {
  const s = useSettings<AlertSettings, AlertStatus>('/alerts');
  const [form, setForm] = useState<AlertSettings | null>(null);
  useEffect(() => {
    if (s.data && !form) setForm({ ...s.data.settings, email: s.data.settings.email ?? NEW_EMAIL, webhook: s.data.settings.webhook ?? NEW_WEBHOOK });
  }, [s.data, form]);
  if (!form)
    return (
      <Card title="Alerts">
        <ErrorBox error={s.error} />
        {!s.error && <p className="text-sm text-slate-500">Loading…</p>}
      </Card>
    );
  const email = form.email!;
  const webhook = form.webhook!;
  const setE = (patch: Partial<Email>) => setForm({ ...form, email: { ...email, ...patch } });
  const setW = (patch: Partial<Webhook>) => setForm({ ...form, webhook: { ...webhook, ...patch } });
  const num = (k: 'minIntervalMinutes' | 'certificateWarnDays' | 'chainCheckMinutes') => (e: React.ChangeEvent<HTMLInputElement>) =>
    setForm({ ...form, [k]: Number(e.target.value) });
  return (
    <Card
      title="Alerts"
      actions={
        <>
          <Button variant="secondary" size="sm" disabled={s.isBusy || !s.data?.status.targets.length} onClick={() => void s.test()} data-testid="alerts-test">
            Send a test alert
          </Button>
          <Button size="sm" disabled={s.isBusy} onClick={() => void s.save(bodyOf(form))} data-testid="alerts-save">
            Save
          </Button>
        </>
      }
    >
      <p className="mb-3 text-sm text-slate-600">
        A server or service going down or up, a failed apply, the audit trail failing to verify, a certificate near expiry. At most one message per target per
        interval; later alerts are summarised.
      </p>
      <div className="grid gap-3 sm:grid-cols-3">
        <label className="flex items-center gap-2 text-sm sm:col-span-3">
          <input type="checkbox" checked={form.isEnabled} onChange={(e) => setForm({ ...form, isEnabled: e.target.checked })} /> Send alerts
        </label>
        <Field label="At most one message every (minutes)" error={s.fields.minIntervalMinutes}>
          {(p) => <Input {...p} type="number" value={form.minIntervalMinutes} onChange={num('minIntervalMinutes')} />}
        </Field>
        <Field label="Warn of certificate expiry (days before)" error={s.fields.certificateWarnDays}>
          {(p) => <Input {...p} type="number" value={form.certificateWarnDays} onChange={num('certificateWarnDays')} />}
        </Field>
        <Field label="Verify the audit trail every (minutes)" error={s.fields.chainCheckMinutes}>
          {(p) => <Input {...p} type="number" value={form.chainCheckMinutes} onChange={num('chainCheckMinutes')} />}
        </Field>
      </div>
      <fieldset className="mt-4 grid gap-3 border-t border-slate-200 pt-3 sm:grid-cols-2">
        <legend className="sr-only">E-mail</legend>
        <label className="flex items-center gap-2 text-sm font-medium sm:col-span-2">
          <input type="checkbox" checked={email.isEnabled} onChange={(e) => setE({ isEnabled: e.target.checked })} /> E-mail (SMTP)
        </label>
        <Field label="SMTP server" error={s.fields['email.host']}>
          {(p) => <Input {...p} value={email.host} onChange={(e) => setE({ host: e.target.value })} placeholder="smtp.trust.nhs.uk" />}
        </Field>
        <Field label="Port" error={s.fields['email.port']}>
          {(p) => <Input {...p} type="number" value={email.port} onChange={(e) => setE({ port: Number(e.target.value) })} />}
        </Field>
        <Field label="Security" error={s.fields['email.security']}>
          {(p) => (
            <Select {...p} value={email.security} onChange={(e) => setE({ security: e.target.value as Email['security'] })}>
              <option value="starttls">STARTTLS (required)</option>
              <option value="tls">TLS (SMTPS, port 465)</option>
              <option value="none">None (a relay on this network)</option>
            </Select>
          )}
        </Field>
        <Field label="From" error={s.fields['email.from']}>
          {(p) => <Input {...p} value={email.from} onChange={(e) => setE({ from: e.target.value })} placeholder="fulcrum@trust.nhs.uk" />}
        </Field>
        <Field label="To (comma-separated)" error={s.fields['email.to'] ?? Object.entries(s.fields).find(([k]) => k.startsWith('email.to.'))?.[1]}>
          {(p) => (
            <Input
              {...p}
              value={email.to.join(', ')}
              onChange={(e) =>
                setE({
                  to: e.target.value
                    .split(',')
                    .map((x) => x.trim())
                    .filter(Boolean),
                })
              }
              placeholder="oncall@trust.nhs.uk"
            />
          )}
        </Field>
        <Field label="Username" error={s.fields['email.username']} hint="Leave empty for no login">
          {(p) => <Input {...p} value={email.username ?? ''} autoComplete="off" onChange={(e) => setE({ username: e.target.value })} />}
        </Field>
        <Field label="Password" error={s.fields['email.password']} hint={email.hasPassword ? 'A password is stored; leave empty to keep it' : undefined}>
          {(p) => (
            <Input {...p} type="password" autoComplete="new-password" value={email.password ?? ''} onChange={(e) => setE({ password: e.target.value })} />
          )}
        </Field>
      </fieldset>
      <fieldset className="mt-4 grid gap-3 border-t border-slate-200 pt-3 sm:grid-cols-2">
        <legend className="sr-only">Webhook</legend>
        <label className="flex items-center gap-2 text-sm font-medium sm:col-span-2">
          <input type="checkbox" checked={webhook.isEnabled} onChange={(e) => setW({ isEnabled: e.target.checked })} /> Webhook (JSON POST)
        </label>
        <Field label="URL" error={s.fields['webhook.url']}>
          {(p) => <Input {...p} value={webhook.url} onChange={(e) => setW({ url: e.target.value })} placeholder="https://chat.trust.nhs.uk/hooks/…" />}
        </Field>
        <Field
          label="Signing secret"
          error={s.fields['webhook.secret']}
          hint={webhook.hasSecret ? 'A secret is stored; leave empty to keep it' : 'X-Fulcrum-Signature: sha256=HMAC(secret, timestamp.body)'}
        >
          {(p) => <Input {...p} type="password" autoComplete="new-password" value={webhook.secret ?? ''} onChange={(e) => setW({ secret: e.target.value })} />}
        </Field>
      </fieldset>
      <div className="mt-3 space-y-2">
        <ErrorBox error={s.error} />
        {s.notice && (
          <p role="status" className="text-sm text-emerald-800">
            {s.notice}
          </p>
        )}
        <ul className="text-sm text-slate-700" data-testid="alerts-status">
          {s.data?.status.targets.map((t) => (
            <li key={t.channel}>
              {t.channel}: {t.sent} sent · {t.failed} failed · {t.held} held by the rate limit
              {t.lastError && <span className="text-amber-800"> · last error: {t.lastError}</span>}
            </li>
          ))}
          {!s.data?.status.targets.length && <li>No target is enabled.</li>}
        </ul>
        <Button variant="ghost" size="sm" onClick={() => void s.reload()}>
          Refresh status
        </Button>
      </div>
    </Card>
  );
}
