'use client';
import { useEffect, useState } from 'react';
import { Button } from '../ui/button';
import { Card, ErrorBox } from '../ui/card';
import { Field, Input, Select } from '../ui/field';
import { useSettings } from './use-settings';

interface SyslogSettings {
  isEnabled: boolean;
  transport: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  caPem?: string;
  serverName?: string;
  facility: string;
  sendAuditEvents: boolean;
  sendHealthTransitions: boolean;
  sendAccessLogs: boolean;
  queueMaxMessages: number;
}
interface SyslogStatus {
  queued: number;
  dropped: number;
  sent: number;
  isConnected: boolean;
  lastError: string | null;
  lastErrorAt: string | null;
}

const FACILITIES = ['local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7', 'auth', 'authpriv', 'daemon', 'user', 'syslog'];

export function SyslogCard() {
  const s = useSettings<SyslogSettings, SyslogStatus>('/syslog');
  const [form, setForm] = useState<SyslogSettings | null>(null);
  useEffect(() => {
    if (s.data && !form) setForm(s.data.settings);
  }, [s.data, form]);
  if (!form)
    return (
      <Card title="Syslog out">
        <ErrorBox error={s.error} />
        {!s.error && <p className="text-sm text-slate-500">Loading…</p>}
      </Card>
    );
  const set = <K extends keyof SyslogSettings>(k: K, v: SyslogSettings[K]) => setForm({ ...form, [k]: v });
  const st = s.data?.status;
  return (
    <Card
      title="Syslog out"
      actions={
        <>
          <Button variant="secondary" size="sm" disabled={s.isBusy || !s.data?.settings.isEnabled} onClick={() => void s.test()} data-testid="syslog-test">
            Send a test message
          </Button>
          <Button
            size="sm"
            disabled={s.isBusy}
            onClick={() => void s.save({ ...form, caPem: form.caPem || undefined, serverName: form.serverName || undefined })}
            data-testid="syslog-save"
          >
            Save
          </Button>
        </>
      }
    >
      <p className="mb-3 text-sm text-slate-600">
        Audit events, health transitions and, if asked, the layer 7 access log as RFC 5424 messages, queued on the appliance while the server is unreachable and
        sent in order when it is back.
      </p>
      <div className="grid gap-3 sm:grid-cols-2">
        <label className="flex items-center gap-2 text-sm sm:col-span-2">
          <input type="checkbox" checked={form.isEnabled} onChange={(e) => set('isEnabled', e.target.checked)} /> Send to a syslog server
        </label>
        <Field label="Transport" error={s.fields.transport}>
          {(p) => (
            <Select {...p} value={form.transport} onChange={(e) => set('transport', e.target.value as SyslogSettings['transport'])}>
              <option value="tcp">TCP (RFC 6587)</option>
              <option value="tls">TLS (RFC 5425)</option>
              <option value="udp">UDP (no delivery guarantee)</option>
            </Select>
          )}
        </Field>
        <Field label="Facility" error={s.fields.facility}>
          {(p) => (
            <Select {...p} value={form.facility} onChange={(e) => set('facility', e.target.value)}>
              {FACILITIES.map((f) => (
                <option key={f}>{f}</option>
              ))}
            </Select>
          )}
        </Field>
        <Field label="Server" error={s.fields.host} hint="Host name or IP address">
          {(p) => <Input {...p} value={form.host} onChange={(e) => set('host', e.target.value)} placeholder="syslog.trust.nhs.uk" />}
        </Field>
        <Field label="Port" error={s.fields.port} hint="514 for TCP/UDP, 6514 for TLS">
          {(p) => <Input {...p} type="number" value={form.port} onChange={(e) => set('port', Number(e.target.value))} />}
        </Field>
        {form.transport === 'tls' && (
          <>
            <div className="sm:col-span-2">
              <Field label="CA certificate (PEM)" error={s.fields.caPem} hint="The CA that signed the syslog server's certificate">
                {(p) => (
                  <textarea
                    {...p}
                    rows={4}
                    className="w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-xs aria-[invalid=true]:border-red-600"
                    value={form.caPem ?? ''}
                    onChange={(e) => set('caPem', e.target.value)}
                    placeholder="-----BEGIN CERTIFICATE-----"
                  />
                )}
              </Field>
            </div>
            <Field label="Name on the server's certificate" error={s.fields.serverName} hint="Default: the server above">
              {(p) => <Input {...p} value={form.serverName ?? ''} onChange={(e) => set('serverName', e.target.value)} />}
            </Field>
          </>
        )}
        <Field label="Queue limit (messages)" error={s.fields.queueMaxMessages} hint="Beyond this the oldest queued messages are dropped">
          {(p) => <Input {...p} type="number" value={form.queueMaxMessages} onChange={(e) => set('queueMaxMessages', Number(e.target.value))} />}
        </Field>
        <fieldset className="flex flex-col gap-1 text-sm sm:col-span-2">
          <legend className="mb-1 font-medium text-slate-700">Send</legend>
          <label className="flex items-center gap-2">
            <input type="checkbox" checked={form.sendAuditEvents} onChange={(e) => set('sendAuditEvents', e.target.checked)} /> Audit events
          </label>
          <label className="flex items-center gap-2">
            <input type="checkbox" checked={form.sendHealthTransitions} onChange={(e) => set('sendHealthTransitions', e.target.checked)} /> Health transitions
          </label>
          <label className="flex items-center gap-2">
            <input
              type="checkbox"
              checked={form.sendAccessLogs}
              onChange={(e) => set('sendAccessLogs', e.target.checked)}
              aria-describedby="syslog-access-hint"
              data-testid="syslog-access-logs"
            />{' '}
            Layer 7 access log
          </label>
          <p id="syslog-access-hint" className="ml-6 text-xs text-slate-500">
            One message per request the access log keeps: each service's sample rate applies, errors and aborted requests are always sent. Many messages; off by
            default. Sent from the moment it is turned on, within about 5 seconds of the request.
          </p>
        </fieldset>
      </div>
      <div className="mt-3 space-y-2">
        <ErrorBox error={s.error} />
        {s.notice && (
          <p role="status" className="text-sm text-emerald-800">
            {s.notice}
          </p>
        )}
        {st && (
          <p className="text-sm text-slate-700" data-testid="syslog-status">
            {st.isConnected ? '● Connected' : '○ Not connected'} · {st.queued} queued · {st.sent} sent · {st.dropped} dropped
            {st.lastError && (
              <span className="block text-amber-800">
                Last error{st.lastErrorAt ? ` (${st.lastErrorAt.slice(11, 19)} UTC)` : ''}: {st.lastError}
              </span>
            )}
          </p>
        )}
        <Button variant="ghost" size="sm" onClick={() => void s.reload()}>
          Refresh status
        </Button>
      </div>
    </Card>
  );
}
