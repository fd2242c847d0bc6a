'use client';
/**
 * The first three steps: the deployment mode (with the trade-offs in the seed's own words), the VIP and its ports,
 * and the real servers (each address checked as typed, then probed from the appliance). Every control has a label;
 * errors sit at their field and are announced.
 */
import { useState } from 'react';
import { IpAddressSchema } from '@/engine/config/index.ts';
import { api } from '../api-client';
import { Button } from '../ui/button';
import { Field, Input } from '../ui/field';
import type { Answers, StepProps } from './types';

type ModeValue = NonNullable<Answers['mode']>;
type ServiceValue = NonNullable<Answers['service']>;
type ServersValue = NonNullable<Answers['servers']>;

/** "" → null (left empty), a number → the number, anything else → the text (the schema says what is wrong). */
export const toNumber = (s: string): number | string | null => (s.trim() === '' ? null : /^\s*-?\d+(\.\d+)?\s*$/.test(s) ? Number(s) : s);
export const fromNumber = (n: number | string | null | undefined) => (n === null || n === undefined ? '' : String(n));

export function ModeStep({ value, onChange, errors, template }: StepProps<ModeValue>) {
  return (
    <fieldset className="space-y-3" aria-describedby={errors.modeId ? 'mode-error' : undefined}>
      <legend className="mb-2 text-sm text-slate-700">{template.description}</legend>
      {template.modes.map((m) => (
        <label
          key={m.id}
          className={`block cursor-pointer rounded-lg border p-4 focus-within:ring-2 focus-within:ring-sky-600 ${value.modeId === m.id ? 'border-sky-600 bg-sky-50' : 'border-slate-300 bg-white'}`}
        >
          <span className="flex items-center gap-2">
            <input
              type="radio"
              name="modeId"
              value={m.id}
              checked={value.modeId === m.id}
              onChange={() => onChange({ modeId: m.id })}
              aria-invalid={!!errors.modeId}
            />
            <span className="font-semibold">{m.label}</span>
          </span>
          <span className="mt-1 block text-sm text-slate-700">{m.summary}</span>
          <span className="mt-2 grid gap-3 text-sm md:grid-cols-2">
            <span className="block">
              <span className="block font-medium text-emerald-800">Why choose it</span>
              <span className="block">
                {m.pros.map((p) => (
                  <span key={p} className="mt-1 block">
                    + {p}
                  </span>
                ))}
              </span>
            </span>
            <span className="block">
              <span className="block font-medium text-amber-800">What it asks of you</span>
              <span className="block">
                {m.cons.map((c) => (
                  <span key={c} className="mt-1 block">
                    – {c}
                  </span>
                ))}
              </span>
            </span>
          </span>
        </label>
      ))}
      {errors.modeId && (
        <p id="mode-error" role="alert" className="text-xs font-medium text-red-700" data-field-error>
          {errors.modeId}
        </p>
      )}
    </fieldset>
  );
}

export function ServiceStep({ value, onChange, errors, run, template }: StepProps<ServiceValue>) {
  const set = (patch: Partial<ServiceValue>) => onChange({ ...value, ...patch });
  const setPort = (i: number, patch: Partial<ServiceValue['ports'][number]>) => set({ ports: value.ports.map((p, k) => (k === i ? { ...p, ...patch } : p)) });
  return (
    <div className="space-y-4">
      <div className="grid gap-4 md:grid-cols-2">
        <Field label="Service name" error={errors.name} hint="Shown in the overview, logs and the kernel's table.">
          {(p) => <Input {...p} name="name" value={value.name} onChange={(e) => set({ name: e.target.value })} autoComplete="off" />}
        </Field>
        <Field
          label="Virtual IP (VIP)"
          error={errors.address}
          hint={
            run.layer === 4
              ? 'DR: an unused address on a subnet of this appliance, which clients will connect to.'
              : 'An unused address clients will connect to.'
          }
        >
          {(p) => (
            <Input
              {...p}
              name="address"
              value={value.address}
              onChange={(e) => set({ address: e.target.value })}
              placeholder="192.168.10.50"
              inputMode="decimal"
              autoComplete="off"
            />
          )}
        </Field>
        {run.layer === 4 && (
          <Field
            label="Interface (optional)"
            error={errors.interface}
            hint="Where the VIP is brought up, such as eth0; empty: the interface of the VIP's subnet."
          >
            {(p) => (
              <Input
                {...p}
                name="interface"
                value={value.interface ?? ''}
                onChange={(e) => set({ interface: e.target.value || undefined })}
                autoComplete="off"
              />
            )}
          </Field>
        )}
      </div>
      <fieldset>
        <legend className="text-sm font-medium text-slate-700">Ports</legend>
        {template.portsNote && <p className="mb-2 text-xs text-slate-600">{template.portsNote}</p>}
        {errors.ports && (
          <p role="alert" className="mb-2 text-xs font-medium text-red-700" data-field-error>
            {errors.ports}
          </p>
        )}
        <div className="space-y-2">
          {value.ports.map((port, i) => (
            <div key={i} className="grid grid-cols-[8rem_1fr_auto_auto] items-start gap-3">
              <Field label={`Port ${i + 1}`} error={errors[`ports.${i}.port`]}>
                {(p) => (
                  <Input
                    {...p}
                    name={`port-${i}`}
                    inputMode="numeric"
                    value={fromNumber(port.port)}
                    onChange={(e) => setPort(i, { port: toNumber(e.target.value) })}
                  />
                )}
              </Field>
              <Field label={`Label of port ${i + 1}`} error={errors[`ports.${i}.label`]}>
                {(p) => <Input {...p} name={`port-${i}-label`} value={port.label} onChange={(e) => setPort(i, { label: e.target.value })} />}
              </Field>
              {run.layer === 7 ? (
                <label className="mt-7 flex items-center gap-2 text-sm">
                  <input type="checkbox" checked={port.isTls} onChange={(e) => setPort(i, { isTls: e.target.checked })} /> HTTPS (TLS ends here)
                </label>
              ) : (
                <span />
              )}
              <Button
                variant="ghost"
                className="mt-6"
                aria-label={`Remove port ${i + 1}`}
                onClick={() => set({ ports: value.ports.filter((_, k) => k !== i) })}
              >
                Remove
              </Button>
            </div>
          ))}
        </div>
        <Button variant="secondary" size="sm" className="mt-2" onClick={() => set({ ports: [...value.ports, { port: null, label: '', isTls: false }] })}>
          Add port
        </Button>
      </fieldset>
    </div>
  );
}

type Probe = { outcome: string; message: string };

export function ServersStep({ value, onChange, errors, run }: StepProps<ServersValue>) {
  const [probes, setProbes] = useState<Record<number, Probe | 'probing'>>({});
  // An address is judged as typed once its field has been left the first time (not at the first keystroke).
  const [touched, setTouched] = useState<Record<number, boolean>>({});
  const set = (i: number, patch: Partial<ServersValue['realServers'][number]>) =>
    onChange({ realServers: value.realServers.map((r, k) => (k === i ? { ...r, ...patch } : r)) });
  const add = () =>
    onChange({
      realServers: [
        ...value.realServers,
        { name: `${run.answers.service?.name ?? 'server'}-${value.realServers.length + 1}`, address: '', port: null, weight: null },
      ],
    });
  // Checked as typed with the shared schema; once it is an address, probed from the appliance.
  async function probe(i: number) {
    const rs = value.realServers[i];
    if (!IpAddressSchema.safeParse(rs.address).success) return;
    const asPort = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535 ? v : undefined);
    const port = asPort(rs.port) ?? asPort(run.answers.health?.port) ?? run.answers.service?.ports.map((p) => asPort(p.port)).find(Boolean) ?? 80;
    setProbes((p) => ({ ...p, [i]: 'probing' }));
    const r = await api<Probe>('POST', '/wizard/probe', { address: rs.address, port }).catch((e) => ({ outcome: 'error', message: (e as Error).message }));
    setProbes((p) => ({ ...p, [i]: r }));
  }
  return (
    <div className="space-y-3">
      <p className="text-sm text-slate-700">
        {run.layer === 4
          ? 'DR keeps the port the client used: leave the port empty. Each real server will need the VIP without answering ARP for it (the scripts come at the review).'
          : 'Layer 7 may translate ports: give the port each server listens on, or leave it empty for the same port as the VIP.'}
      </p>
      {errors.realServers && (
        <p role="alert" className="text-xs font-medium text-red-700" data-field-error>
          {errors.realServers}
        </p>
      )}
      {value.realServers.map((rs, i) => {
        const pr = probes[i];
        const typing =
          touched[i] && rs.address && !IpAddressSchema.safeParse(rs.address).success
            ? 'Not an IP address yet: give an IPv4 address such as 192.168.10.11 or an IPv6 address.'
            : undefined;
        return (
          <div key={i} className="rounded-md border border-slate-200 p-3" data-testid={`rs-row-${i}`}>
            <div className="grid gap-3 md:grid-cols-[1fr_1fr_8rem_auto]">
              <Field label={`Real server ${i + 1} name`} error={errors[`realServers.${i}.name`]}>
                {(p) => <Input {...p} name={`rs-${i}-name`} value={rs.name} onChange={(e) => set(i, { name: e.target.value })} />}
              </Field>
              <Field label={`Real server ${i + 1} address`} error={errors[`realServers.${i}.address`] ?? typing}>
                {(p) => (
                  <Input
                    {...p}
                    name={`rs-${i}-address`}
                    value={rs.address}
                    inputMode="decimal"
                    onChange={(e) => {
                      set(i, { address: e.target.value });
                      setProbes(({ [i]: _gone, ...rest }) => rest);
                    }}
                    onBlur={() => {
                      setTouched((t) => ({ ...t, [i]: true }));
                      if (rs.address) void probe(i);
                    }}
                  />
                )}
              </Field>
              <Field label={`Real server ${i + 1} port`} error={errors[`realServers.${i}.port`]}>
                {(p) => (
                  <Input
                    {...p}
                    name={`rs-${i}-port`}
                    inputMode="numeric"
                    value={fromNumber(rs.port)}
                    onChange={(e) => set(i, { port: toNumber(e.target.value) })}
                    onBlur={() => rs.address && void probe(i)}
                  />
                )}
              </Field>
              <Button
                variant="ghost"
                className="mt-6"
                aria-label={`Remove real server ${i + 1}`}
                onClick={() => onChange({ realServers: value.realServers.filter((_, k) => k !== i) })}
              >
                Remove
              </Button>
            </div>
            <p role="status" className="mt-1 min-h-4 text-xs text-slate-600" data-testid={`probe-${i}`}>
              {pr === 'probing'
                ? 'Probing from this appliance…'
                : pr
                  ? `${pr.outcome === 'reachable' ? '✓' : pr.outcome === 'not-probed' ? '–' : '✗'} ${pr.message}`
                  : ''}
            </p>
          </div>
        );
      })}
      <Button variant="secondary" size="sm" onClick={add}>
        Add real server
      </Button>
    </div>
  );
}
