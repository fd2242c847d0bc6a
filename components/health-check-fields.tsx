'use client';
/**
 * The "Health check" group of the virtual service form: every check kind of engine/config's HealthCheckSchema with
 * its own fields, the shared timing (interval, timeout, rise, fall), check port, start down, on down, and the
 * optional feedback agent. The form state is text (what the inputs hold); `toHealthCheck` turns it into the
 * schema's input, and `healthFieldOf` says at which field an issue of the schema ("healthCheck.http.path") is shown,
 * so every healthCheck.* path lands in this group.
 */
import { useId } from 'react';
import { HEALTH_CHECK_TYPES } from '@/engine/config/schema.ts';
import { Field, Input, Select } from './ui/field';

export type HealthCheckForm = {
  type: string;
  intervalMs: string;
  timeoutMs: string;
  rise: string;
  fall: string;
  port: string;
  startsDown: boolean;
  onDown: 'quiesce' | 'remove';
  httpMethod: string;
  httpPath: string;
  httpHost: string;
  expectStatus: string;
  bodyMatch: 'none' | 'text' | 'regex';
  body: string;
  verifyTls: boolean;
  serverName: string;
  send: string;
  expect: string;
  isRegex: boolean;
  callingAeTitle: string;
  calledAeTitle: string;
  command: string;
  args: string;
  isDynamicWeight: boolean;
  hasAgent: boolean;
  agentPort: string;
  agentIntervalMs: string;
  agentTimeoutMs: string;
  agentSend: string;
};

/** The schema's defaults, shown in the fields rather than hidden behind empty ones. */
export const DEFAULT_HEALTH_CHECK: HealthCheckForm = {
  type: 'connect',
  intervalMs: '5000',
  timeoutMs: '3000',
  rise: '2',
  fall: '3',
  port: '',
  startsDown: false,
  onDown: 'quiesce',
  httpMethod: 'GET',
  httpPath: '/',
  httpHost: '',
  expectStatus: '200-399',
  bodyMatch: 'none',
  body: '',
  verifyTls: false,
  serverName: '',
  send: '',
  expect: '',
  isRegex: false,
  callingAeTitle: 'FULCRUM',
  calledAeTitle: '',
  command: '',
  args: '',
  isDynamicWeight: false,
  hasAgent: false,
  agentPort: '3333',
  agentIntervalMs: '5000',
  agentTimeoutMs: '2000',
  agentSend: '',
};

const TYPE_TEXT: Record<string, string> = {
  none: 'None — do not check (health stays unknown, which counts as up)',
  connect: 'TCP connect (optionally send and expect text)',
  'send-expect': 'Send and expect text over TCP',
  http: 'HTTP request',
  https: 'HTTPS request',
  external: 'External command',
  ping: 'Ping (ICMP echo)',
  'dicom-echo': 'DICOM C-ECHO (Verification)',
};

const isHttp = (t: string) => t === 'http' || t === 'https';
const hasPort = (t: string) => t !== 'ping' && t !== 'none';
const hasSendExpect = (t: string) => t === 'connect' || t === 'send-expect';

// The schema's input: zod fills its own defaults, so what a field holds is sent as typed and refused at the field.
type Json = Record<string, unknown>;

/** Form text → the schema's healthCheck input. An empty number field is sent as NaN, which the schema refuses. */
export function toHealthCheck(f: HealthCheckForm): Json {
  const num = (t: string) => (t.trim() === '' ? Number.NaN : Number(t.trim()));
  const opt = (t: string) => (t.trim() === '' ? undefined : t.trim());
  const hc: Json = {
    type: f.type,
    intervalMs: num(f.intervalMs),
    timeoutMs: num(f.timeoutMs),
    rise: num(f.rise),
    fall: num(f.fall),
    ...(hasPort(f.type) && f.port.trim() !== '' ? { port: num(f.port) } : {}),
    startsDown: f.startsDown,
    onDown: f.onDown,
  };
  if (isHttp(f.type)) {
    hc.http = {
      method: f.httpMethod,
      path: f.httpPath,
      expectStatus: f.expectStatus.replace(/\s+/g, ''),
      ...(opt(f.httpHost) ? { host: opt(f.httpHost) } : {}),
      ...(f.bodyMatch === 'text' ? { expectBody: f.body } : f.bodyMatch === 'regex' ? { expectBodyRegex: f.body } : {}),
      ...(f.type === 'https' ? { verifyTls: f.verifyTls, ...(opt(f.serverName) ? { serverName: opt(f.serverName) } : {}) } : {}),
    };
  }
  // connect: the text is optional (send alone is not a check; expect makes it one); send-expect needs it.
  if (f.type === 'send-expect' || (f.type === 'connect' && (f.expect !== '' || f.send !== '')))
    hc.sendExpect = { send: f.send, expect: f.expect, isRegex: f.isRegex };
  if (f.type === 'dicom-echo') hc.dicom = { callingAeTitle: f.callingAeTitle, calledAeTitle: f.calledAeTitle };
  if (f.type === 'external')
    hc.external = {
      command: f.command.trim(),
      args: f.args
        .split('\n')
        .map((a) => a.replace(/\r$/, ''))
        .filter((a) => a !== ''),
      isDynamicWeight: f.isDynamicWeight,
    };
  if (f.hasAgent)
    hc.agent = {
      port: num(f.agentPort),
      intervalMs: num(f.agentIntervalMs),
      timeoutMs: num(f.agentTimeoutMs),
      ...(f.agentSend !== '' ? { send: f.agentSend } : {}),
    };
  return hc;
}

/** A stored healthCheck (already through the schema) → form text. */
export function healthCheckForm(hc: any): HealthCheckForm {
  if (!hc) return DEFAULT_HEALTH_CHECK;
  const d = DEFAULT_HEALTH_CHECK;
  const s = (v: unknown, dflt: string) => (v === undefined || v === null ? dflt : String(v));
  return {
    type: hc.type ?? d.type,
    intervalMs: s(hc.intervalMs, d.intervalMs),
    timeoutMs: s(hc.timeoutMs, d.timeoutMs),
    rise: s(hc.rise, d.rise),
    fall: s(hc.fall, d.fall),
    port: s(hc.port, ''),
    startsDown: hc.startsDown ?? false,
    onDown: hc.onDown ?? 'quiesce',
    httpMethod: hc.http?.method ?? d.httpMethod,
    httpPath: hc.http?.path ?? d.httpPath,
    httpHost: hc.http?.host ?? '',
    expectStatus: hc.http?.expectStatus ?? d.expectStatus,
    bodyMatch: hc.http?.expectBodyRegex !== undefined ? 'regex' : hc.http?.expectBody !== undefined ? 'text' : 'none',
    body: hc.http?.expectBodyRegex ?? hc.http?.expectBody ?? '',
    verifyTls: hc.http?.verifyTls ?? false,
    serverName: hc.http?.serverName ?? '',
    send: hc.sendExpect?.send ?? '',
    expect: hc.sendExpect?.expect ?? '',
    isRegex: hc.sendExpect?.isRegex ?? false,
    callingAeTitle: hc.dicom?.callingAeTitle ?? d.callingAeTitle,
    calledAeTitle: hc.dicom?.calledAeTitle ?? '',
    command: hc.external?.command ?? '',
    args: (hc.external?.args ?? []).join('\n'),
    isDynamicWeight: hc.external?.isDynamicWeight ?? false,
    hasAgent: !!hc.agent,
    agentPort: s(hc.agent?.port, d.agentPort),
    agentIntervalMs: s(hc.agent?.intervalMs, d.agentIntervalMs),
    agentTimeoutMs: s(hc.agent?.timeoutMs, d.agentTimeoutMs),
    agentSend: hc.agent?.send ?? '',
  };
}

type Key = keyof HealthCheckForm;

/** Schema path below healthCheck → the field that shows it. */
const FIELD_OF: Record<string, Key> = {
  type: 'type',
  intervalMs: 'intervalMs',
  timeoutMs: 'timeoutMs',
  rise: 'rise',
  fall: 'fall',
  port: 'port',
  startsDown: 'startsDown',
  onDown: 'onDown',
  http: 'httpMethod',
  'http.method': 'httpMethod',
  'http.path': 'httpPath',
  'http.host': 'httpHost',
  'http.expectStatus': 'expectStatus',
  'http.expectBody': 'body',
  'http.expectBodyRegex': 'body',
  'http.verifyTls': 'verifyTls',
  'http.serverName': 'serverName',
  sendExpect: 'expect',
  'sendExpect.send': 'send',
  'sendExpect.expect': 'expect',
  'sendExpect.isRegex': 'isRegex',
  dicom: 'calledAeTitle',
  'dicom.callingAeTitle': 'callingAeTitle',
  'dicom.calledAeTitle': 'calledAeTitle',
  external: 'command',
  'external.command': 'command',
  'external.args': 'args',
  'external.isDynamicWeight': 'isDynamicWeight',
  agent: 'hasAgent',
  'agent.port': 'agentPort',
  'agent.intervalMs': 'agentIntervalMs',
  'agent.timeoutMs': 'agentTimeoutMs',
  'agent.send': 'agentSend',
};

/** Each field's schema path (marked on its control as data-schema-path; the service form's coverage test reads them). */
export function healthControlPath(key: Key, f: HealthCheckForm): string | undefined {
  if (key === 'body') return `healthCheck.http.${f.bodyMatch === 'regex' ? 'expectBodyRegex' : 'expectBody'}`;
  return CONTROL_PATH[key] && `healthCheck.${CONTROL_PATH[key]}`;
}
const CONTROL_PATH: Partial<Record<Key, string>> = {
  type: 'type',
  intervalMs: 'intervalMs',
  timeoutMs: 'timeoutMs',
  rise: 'rise',
  fall: 'fall',
  port: 'port',
  startsDown: 'startsDown',
  onDown: 'onDown',
  httpMethod: 'http.method',
  httpPath: 'http.path',
  httpHost: 'http.host',
  expectStatus: 'http.expectStatus',
  verifyTls: 'http.verifyTls',
  serverName: 'http.serverName',
  send: 'sendExpect.send',
  expect: 'sendExpect.expect',
  isRegex: 'sendExpect.isRegex',
  callingAeTitle: 'dicom.callingAeTitle',
  calledAeTitle: 'dicom.calledAeTitle',
  command: 'external.command',
  args: 'external.args',
  isDynamicWeight: 'external.isDynamicWeight',
  hasAgent: 'agent',
  agentPort: 'agent.port',
  agentIntervalMs: 'agent.intervalMs',
  agentTimeoutMs: 'agent.timeoutMs',
  agentSend: 'agent.send',
};

/**
 * The field of this group that shows an issue at `path` ("healthCheck.external.args.2" → args); undefined for
 * paths outside healthCheck. A healthCheck path no field names (a future one) is shown at the check kind, so no
 * issue of the group is ever shown only in the list at the top.
 */
export function healthFieldOf(path: string): Key | undefined {
  if (path !== 'healthCheck' && !path.startsWith('healthCheck.')) return undefined;
  const parts = path.split('.').slice(1);
  for (let n = parts.length; n > 0; n--) {
    const k = FIELD_OF[parts.slice(0, n).join('.')];
    if (k) return k;
  }
  return 'type';
}

export function HealthCheckFields({
  value: f,
  onChange,
  errors,
  isReadOnly = false,
}: {
  value: HealthCheckForm;
  onChange: (patch: Partial<HealthCheckForm>) => void;
  errors: Record<string, string>;
  isReadOnly?: boolean;
}) {
  const at: Partial<Record<Key, string>> = {};
  for (const [p, m] of Object.entries(errors)) {
    const k = healthFieldOf(p);
    if (k) at[k] ??= m;
  }
  const mark = (key: Key) => ({
    'data-schema-path': healthControlPath(key, f),
    disabled: isReadOnly,
    className: 'disabled:bg-slate-100 disabled:text-slate-600',
  });
  const text = (key: Key, label: string, opts: { hint?: string; name?: string; inputMode?: 'numeric'; placeholder?: string } = {}) => (
    <Field label={label} error={at[key]} hint={opts.hint}>
      {(p) => (
        <Input
          {...p}
          {...mark(key)}
          name={opts.name ?? `hc-${key}`}
          inputMode={opts.inputMode}
          placeholder={opts.placeholder}
          value={f[key] as string}
          onChange={(e) => onChange({ [key]: e.target.value })}
        />
      )}
    </Field>
  );
  const check = (key: Key, label: string, hint?: string) => (
    <CheckboxField
      {...mark(key)}
      name={`hc-${key}`}
      label={label}
      hint={hint}
      error={at[key]}
      checked={f[key] as boolean}
      onChange={(v) => onChange({ [key]: v })}
    />
  );
  const t = f.type;
  return (
    <fieldset aria-describedby="hc-about">
      <legend className="sr-only">Health check</legend>
      <p id="hc-about" className="mb-3 text-xs text-slate-600">
        How Fulcrum decides each real server is up. A server is marked down after <em>fall</em> failed checks in a row and up again after <em>rise</em> passes.
      </p>
      <div className="grid gap-4 md:grid-cols-2">
        <Field label="Check kind" error={at.type}>
          {(p) => (
            <Select {...p} {...mark('type')} name="healthCheck" value={t} onChange={(e) => onChange({ type: e.target.value })}>
              {HEALTH_CHECK_TYPES.map((k) => (
                <option key={k} value={k}>
                  {TYPE_TEXT[k] ?? k}
                </option>
              ))}
            </Select>
          )}
        </Field>
        {hasPort(t) ? text('port', 'Check port', { inputMode: 'numeric', hint: 'Empty: the real server\u2019s port (or the VIP\u2019s first).' }) : <div />}
        {t !== 'none' && (
          <>
            {text('intervalMs', 'Check interval (ms)', { name: 'intervalMs', inputMode: 'numeric', hint: 'Default 5000; 500 to 3,600,000.' })}
            {text('timeoutMs', 'Check timeout (ms)', { name: 'timeoutMs', inputMode: 'numeric', hint: 'Default 3000; not longer than the interval.' })}
            {text('rise', 'Rise (passes to come up)', { inputMode: 'numeric', hint: 'Default 2.' })}
            {text('fall', 'Fall (failures to go down)', { inputMode: 'numeric', hint: 'Default 3.' })}
          </>
        )}

        {isHttp(t) && (
          <>
            <Field label="Request method" error={at.httpMethod}>
              {(p) => (
                <Select {...p} {...mark('httpMethod')} name="hc-httpMethod" value={f.httpMethod} onChange={(e) => onChange({ httpMethod: e.target.value })}>
                  <option value="GET">GET</option>
                  <option value="HEAD">HEAD</option>
                  <option value="OPTIONS">OPTIONS</option>
                </Select>
              )}
            </Field>
            {text('httpPath', 'Check path', { name: 'healthPath', hint: 'Default /; for example /health.' })}
            {text('httpHost', 'Host header', { hint: 'Empty: the real server\u2019s address.', placeholder: 'symphony.example.nhs.uk' })}
            {text('expectStatus', 'Expected statuses', { hint: 'Default 200-399; for example 200 or 200,204.' })}
            <Field label="Body must" error={at.bodyMatch}>
              {(p) => (
                <Select
                  {...p}
                  disabled={isReadOnly}
                  name="hc-bodyMatch"
                  value={f.bodyMatch}
                  onChange={(e) => onChange({ bodyMatch: e.target.value as HealthCheckForm['bodyMatch'] })}
                >
                  <option value="none">Not be checked</option>
                  <option value="text">Contain this text</option>
                  <option value="regex">Match this regular expression</option>
                </Select>
              )}
            </Field>
            {f.bodyMatch !== 'none' ? (
              text('body', f.bodyMatch === 'regex' ? 'Body regular expression' : 'Body text', { hint: 'The first 64 KiB of the body are read.' })
            ) : (
              <div />
            )}
            {t === 'https' && (
              <>
                {check('verifyTls', 'Verify the server\u2019s certificate', 'Off by default: real servers often have self-signed certificates.')}
                {text('serverName', 'TLS server name (SNI)', { hint: 'Empty: the Host header, else none.' })}
              </>
            )}
          </>
        )}

        {hasSendExpect(t) && (
          <>
            {text('send', t === 'connect' ? 'Text to send (optional)' : 'Text to send', { hint: 'Sent after connecting; may be empty to read a banner.' })}
            {text('expect', t === 'connect' ? 'Text to expect (optional)' : 'Text to expect', {
              hint: t === 'connect' ? 'Empty: a successful connect is enough.' : undefined,
            })}
            {check('isRegex', 'The expected text is a regular expression')}
          </>
        )}

        {t === 'dicom-echo' && (
          <>
            {text('callingAeTitle', 'Calling AE title', { hint: 'Default FULCRUM; what the real server sees as the caller.' })}
            {text('calledAeTitle', 'Called AE title', { hint: 'The real server\u2019s own AE title, for example SYMPHONY.' })}
          </>
        )}

        {t === 'external' && (
          <>
            {text('command', 'Command', { hint: 'Absolute path; run without a shell.', placeholder: '/usr/local/bin/check-symphony' })}
            <Field label="Arguments (one per line)" error={at.args} hint="Before the four Fulcrum adds: VIP, VIP port, real server, real server port.">
              {(p) => (
                <textarea
                  {...p}
                  {...mark('args')}
                  name="hc-args"
                  rows={3}
                  value={f.args}
                  onChange={(e) => onChange({ args: e.target.value })}
                  className="w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-sm shadow-sm disabled:bg-slate-100 aria-[invalid=true]:border-red-600 aria-[invalid=true]:bg-red-50"
                />
              )}
            </Field>
            {check(
              'isDynamicWeight',
              'Dynamic weight from the exit code',
              'keepalived\u2019s misc_dynamic: 0 up, 1 down, 2\u2013255 up with weight = code \u2212 2.',
            )}
          </>
        )}

        {t === 'none' && (
          <p className="text-sm text-slate-600 md:col-span-2">
            Servers are not checked: their health stays unknown, which counts as up. A feedback agent below can still set weights and states.
          </p>
        )}

        {check('startsDown', 'Start down until the first check passes', 'Default off: a new server is unknown, which counts as up.')}
        <Field label="When a server goes down" error={at.onDown} hint="What layer 4 does; layer 7 stops choosing it either way.">
          {(p) => (
            <Select
              {...p}
              {...mark('onDown')}
              name="hc-onDown"
              value={f.onDown}
              onChange={(e) => onChange({ onDown: e.target.value as HealthCheckForm['onDown'] })}
            >
              <option value="quiesce">Quiesce — weight 0, open connections finish (default)</option>
              <option value="remove">Remove it from the table</option>
            </Select>
          )}
        </Field>
      </div>

      <div className="mt-4 border-t border-slate-200 pt-3">
        {check(
          'hasAgent',
          'Feedback agent (HAProxy agent-check, Loadbalancer.org agent)',
          'The agent\u2019s answer scales the weight or sets ready, drain, maint, up or down; an agent that does not answer is not a failure.',
        )}
        {f.hasAgent && (
          <div className="mt-3 grid gap-4 md:grid-cols-2">
            {text('agentPort', 'Agent port', { inputMode: 'numeric', hint: 'Default 3333.' })}
            {text('agentSend', 'Text to send to the agent', { hint: 'Optional.' })}
            {text('agentIntervalMs', 'Agent interval (ms)', { inputMode: 'numeric', hint: 'Default 5000.' })}
            {text('agentTimeoutMs', 'Agent timeout (ms)', { inputMode: 'numeric', hint: 'Default 2000.' })}
          </div>
        )}
      </div>
    </fieldset>
  );
}

/** A checkbox with its label, hint and error (announced, and tied to the box). */
function CheckboxField({
  name,
  label,
  hint,
  error,
  checked,
  onChange,
  disabled,
  'data-schema-path': schemaPath,
}: {
  name: string;
  label: string;
  hint?: string;
  error?: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  disabled?: boolean;
  'data-schema-path'?: string;
}) {
  const id = useId();
  const noteId = `${id}-note`;
  return (
    <div className="flex flex-col gap-1 self-end pb-2">
      <label htmlFor={id} className="flex items-center gap-2 text-sm">
        <input
          id={id}
          type="checkbox"
          name={name}
          data-schema-path={schemaPath}
          disabled={disabled}
          checked={checked}
          onChange={(e) => onChange(e.target.checked)}
          aria-invalid={!!error}
          aria-describedby={hint || error ? noteId : undefined}
          className="h-4 w-4 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-700"
        />
        {label}
      </label>
      {error ? (
        <p id={noteId} role="alert" className="text-xs font-medium text-red-700" data-field-error>
          {error}
        </p>
      ) : (
        hint && (
          <p id={noteId} className="text-xs text-slate-500">
            {hint}
          </p>
        )
      )}
    </div>
  );
}
