'use client';
/**
 * Advanced: how the client's address reaches the real servers (X-Forwarded-For, X-Forwarded-Proto, Forwarded, each
 * off / append / replace / trusted; PROXY protocol), the fallback used when every real server is out, and layer 4's
 * one-packet scheduling for UDP.
 */
import { useState } from 'react';
import { AreaControl, CheckControl, FOCUS, Grid, INPUT, SelectControl, SmallButton, TextControl, useForm } from './controls';
import { blockDefaults, getIn, toDraft } from './model';

const MODES: [string, string][] = [
  ['off', 'Off — pass on as it came, add nothing'],
  ['append', 'Append — keep what came, add this hop'],
  ['replace', 'Replace — drop what came, send this hop only'],
  ['trusted', 'Trusted — append only for the proxies listed below'],
];
const HEADERS: [string, string, string][] = [
  ['xForwardedFor', 'X-Forwarded-For', 'The client’s address. Default append.'],
  ['xForwardedProto', 'X-Forwarded-Proto', '"http" or "https", as the client connected. Default replace.'],
  ['forwarded', 'Forwarded (RFC 7239)', 'for=, proto= and host= in one header. Default off.'],
];

export function AdvancedFields() {
  const { draft, set } = useForm();
  const isL4 = String(draft.layer) === '4';
  const fallbackType = getIn(draft, 'fallback.type');
  return (
    <div className="space-y-5">
      {!isL4 && (
        <fieldset className="space-y-3">
          <legend className="text-sm font-semibold text-slate-800">Client address to the real servers</legend>
          <Grid cols={3}>
            {HEADERS.map(([k, label, hint]) => (
              <SelectControl key={k} path={`layer7.${k}`} label={label} hint={hint} noDefault options={MODES} />
            ))}
          </Grid>
          <Grid>
            <AreaControl
              path="layer7.trustedProxies"
              label="Trusted proxy networks"
              rows={2}
              placeholder="10.20.0.0/16"
              hint="One per line: the proxies in front of this one whose headers mode Trusted keeps."
            />
            <SelectControl
              path="layer7.proxyProtocol"
              label="PROXY protocol to real servers"
              options={[
                ['none', 'None'],
                ['v1', 'Version 1 (text)'],
                ['v2', 'Version 2 (binary)'],
              ]}
              hint="The real servers must expect it, or they will refuse every connection."
            />
          </Grid>
        </fieldset>
      )}
      <fieldset className="space-y-3">
        <legend className="text-sm font-semibold text-slate-800">Fallback when every real server is out</legend>
        <SelectControl
          path="fallback.type"
          label="Fallback"
          noDefault
          onChoose={(t) => set('fallback', t === '' ? undefined : toDraft(blockDefaults.fallback(t), 'fallback'))}
          options={[
            ['', 'None — refuse new connections'],
            ['server', 'A fallback server'],
            ...(draft.mode === 'http' && !isL4 ? [['maintenance-page', 'Fulcrum’s maintenance page'] as [string, string]] : []),
          ]}
        />
        {fallbackType === 'server' && (
          <Grid>
            <TextControl path="fallback.address" label="Fallback server address" placeholder="192.168.10.90" />
            <TextControl path="fallback.port" label="Fallback server port" inputMode="numeric" hint="Empty: the client’s port." />
          </Grid>
        )}
      </fieldset>
      <ConnectionLimits />
      {isL4 && (
        <fieldset className="space-y-3">
          <legend className="text-sm font-semibold text-slate-800">Layer 4</legend>
          <OnePacketScheduling />
          <SchedulerFlags />
        </fieldset>
      )}
    </div>
  );
}

/** One-packet scheduling lives in an optional layer4 block; the checkbox edits it directly (model.ts drops it when off). */
function OnePacketScheduling() {
  const { draft, set } = useForm();
  return (
    <CheckControl
      path="layer4.onePacketScheduling"
      label="One-packet scheduling (UDP)"
      hint="Schedule each datagram on its own (IPVS -o), for UDP services such as DNS or syslog. Default off."
      checked={!!getIn(draft, 'layer4.onePacketScheduling')}
      onToggle={(on) => set('layer4', { ...(draft.layer4 ?? {}), onePacketScheduling: on })}
    />
  );
}

/** The sh and mh schedulers' flags (ipvsadm -b), shown only with those schedulers (the schema refuses them elsewhere). */
function SchedulerFlags() {
  const { draft, set } = useForm();
  if (draft.scheduler !== 'sh' && draft.scheduler !== 'mh') return null;
  const toggle = (key: 'schedulerFallback' | 'schedulerPort') => (on: boolean) => set('layer4', { ...(draft.layer4 ?? {}), [key]: on });
  return (
    <>
      <CheckControl
        path="layer4.schedulerFallback"
        label={`Fallback (${draft.scheduler}-fallback)`}
        hint="A client whose hashed server is at weight 0 or full goes to the next server by the hash, instead of getting no answer. Default off."
        checked={!!getIn(draft, 'layer4.schedulerFallback')}
        onToggle={toggle('schedulerFallback')}
      />
      <CheckControl
        path="layer4.schedulerPort"
        label={`Hash the source port too (${draft.scheduler}-port)`}
        hint="Spreads one client's connections over the servers; off keeps every connection of a client on one server. Default off."
        checked={!!getIn(draft, 'layer4.schedulerPort')}
        onToggle={toggle('schedulerPort')}
      />
    </>
  );
}

/**
 * Connection limits are per real server (max and min connections, under each server's More); this sets them on every
 * real server of the service at once, which with hundreds of servers is the only practical way.
 */
function ConnectionLimits() {
  const { draft, set, isReadOnly } = useForm();
  const [max, setMax] = useState('');
  const [min, setMin] = useState('');
  const rows: Record<string, unknown>[] = draft.realServers ?? [];
  const apply = () =>
    set(
      'realServers',
      rows.map((r) => ({ ...r, ...(max.trim() !== '' ? { maxConnections: max.trim() } : {}), ...(min.trim() !== '' ? { minConnections: min.trim() } : {}) })),
    );
  const input = (id: string, label: string, value: string, on: (v: string) => void, hint: string) => (
    <div className="flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-medium text-slate-700">
        {label}
      </label>
      <input
        id={id}
        inputMode="numeric"
        value={value}
        onChange={(e) => on(e.target.value)}
        disabled={isReadOnly}
        aria-describedby={`${id}-hint`}
        className={`${INPUT} ${FOCUS}`}
      />
      <p id={`${id}-hint`} className="text-xs text-slate-500">
        {hint}
      </p>
    </div>
  );
  return (
    <fieldset className="space-y-3">
      <legend className="text-sm font-semibold text-slate-800">Connection limits of every real server</legend>
      <Grid cols={3}>
        {input('all-max-connections', 'Max connections per real server', max, setMax, '0: unlimited. Empty: leave each as it is.')}
        {input('all-min-connections', 'Min connections per real server', min, setMin, 'Empty: leave each as it is.')}
        <div className="self-center">
          <SmallButton onClick={apply} disabled={isReadOnly || rows.length === 0 || (max.trim() === '' && min.trim() === '')}>
            Set on all {rows.length} real server{rows.length === 1 ? '' : 's'}
          </SmallButton>
        </div>
      </Grid>
      <p className="text-xs text-slate-600">The schema checks each server&apos;s limits when you save; a server&apos;s own limits are under its More.</p>
    </fieldset>
  );
}
