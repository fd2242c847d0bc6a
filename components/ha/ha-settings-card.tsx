'use client';
/**
 * The pair's settings (the engine's `ha` block, lib/ha-settings.ts): the HA interface, the nodes with their own
 * addresses and priorities, the first virtual router ID, the advert interval, preemption and connection sync.
 * Saving stages them like any change (applied from the changes page, then copied to the secondary); errors are shown
 * at the field the schema names. The schema's defaults are shown as placeholders and hints.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type ApiCallError } from '../api-client';
import { useHaWhyNot as useWhyNot } from './why-not';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, ErrorBox } from '../ui/card';
import { Field, Input } from '../ui/field';

type Node = { name: string; address: string; priority: string };
type Ha = {
  isEnabled: boolean;
  interface: string;
  virtualRouterId: number;
  advertIntervalMs: number;
  nodes: { name: string; address: string; priority: number }[];
  preempt: boolean;
  preemptDelaySeconds?: number;
  movingAddresses?: string[];
  connectionSync: { isEnabled: boolean; syncId?: number };
};
type View = {
  settings: Ha | null;
  isPending: boolean;
  running: Ha | null;
  defaults: { advertIntervalMs: number; preempt: boolean; connectionSync: { isEnabled: boolean } };
  instances: { interface: string; virtualRouterId: number; addresses: string[] }[];
  movable: { address: string; interface: string; source: 'floating-ip' | 'vip' }[];
};
type Form = {
  isEnabled: boolean;
  interface: string;
  virtualRouterId: string;
  advertIntervalMs: string;
  nodes: Node[];
  preempt: boolean;
  preemptDelaySeconds: string;
  isAllMoving: boolean;
  moving: string[];
  sync: boolean;
  syncId: string;
};

const text = (n: number | undefined) => (n === undefined ? '' : String(n));
/** Empty: let the schema use its default (or say what is missing); anything else goes as a number, or as typed for the schema's sentence. */
const num = (s: string) => (s.trim() === '' ? undefined : Number.isFinite(Number(s)) ? Number(s) : s);

function formOf(s: Ha | null): Form {
  return {
    isEnabled: s?.isEnabled ?? true,
    interface: s?.interface ?? '',
    virtualRouterId: text(s?.virtualRouterId),
    advertIntervalMs: s ? text(s.advertIntervalMs) : '',
    nodes: s
      ? s.nodes.map((n) => ({ ...n, priority: String(n.priority) }))
      : [
          { name: '', address: '', priority: '150' },
          { name: '', address: '', priority: '100' },
        ],
    preempt: s?.preempt ?? false,
    preemptDelaySeconds: text(s?.preemptDelaySeconds),
    isAllMoving: !s?.movingAddresses,
    moving: s?.movingAddresses ?? [],
    sync: s?.connectionSync.isEnabled ?? true,
    syncId: text(s?.connectionSync.syncId),
  };
}

function bodyOf(f: Form) {
  return {
    isEnabled: f.isEnabled,
    interface: f.interface,
    virtualRouterId: num(f.virtualRouterId),
    advertIntervalMs: num(f.advertIntervalMs),
    nodes: f.nodes.map((n) => ({ name: n.name, address: n.address, priority: num(n.priority) })),
    preempt: f.preempt,
    preemptDelaySeconds: f.preempt ? num(f.preemptDelaySeconds) : undefined,
    movingAddresses: f.isAllMoving ? undefined : f.moving,
    connectionSync: { isEnabled: f.sync, syncId: num(f.syncId) },
  };
}

export function HaSettingsCard({ onChange }: { onChange: () => void }) {
  const whyNot = useWhyNot('config:write');
  const [view, setView] = useState<View | null>(null);
  const [form, setForm] = useState<Form>(formOf(null));
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiCallError | null>(null);
  const [isBusy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const show = useCallback((v: View) => {
    setView(v);
    setForm(formOf(v.settings));
  }, []);
  useEffect(() => void api<View>('GET', '/ha/settings').then(show, setError), [show]);
  const set = (patch: Partial<Form>) => {
    setForm((f) => ({ ...f, ...patch }));
    setSaved(false);
  };
  const setNode = (i: number, patch: Partial<Node>) => set({ nodes: form.nodes.map((n, j) => (j === i ? { ...n, ...patch } : n)) });

  async function run(fn: () => Promise<void>) {
    setBusy(true);
    setError(null);
    setFields({});
    setSaved(false);
    try {
      await fn();
      setSaved(true);
      onChange();
    } catch (e) {
      const ae = e as ApiCallError;
      setFields(ae.fields ?? {});
      setError(ae);
    } finally {
      setBusy(false);
    }
  }
  const save = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => show(await api<View>('PUT', '/ha/settings', bodyOf(form))));
  };
  const remove = () =>
    run(async () => {
      await api('DELETE', '/ha/settings');
      show(await api<View>('GET', '/ha/settings'));
    });
  if (!view)
    return (
      <Card title="Pair settings">
        <ErrorBox error={error?.body} />
        {!error && <p className="text-sm text-slate-600">Loading…</p>}
      </Card>
    );
  const d = view.defaults;
  const isOff = !!whyNot || isBusy;
  const status = !view.settings ? (
    <Badge tone="slate">not set: a single node</Badge>
  ) : view.isPending ? (
    <Badge tone="amber">staged, not applied yet</Badge>
  ) : (
    <Badge tone="green">applied</Badge>
  );
  return (
    <Card
      title={
        <span>
          Pair settings <span data-testid="ha-settings-status">{status}</span>
        </span>
      }
    >
      <form method="post" onSubmit={save} noValidate aria-label="Pair settings" className="space-y-4">
        <p className="text-sm text-slate-600">
          What keepalived runs on both nodes. Saving stages the settings: apply them from Changes, and the secondary gets them with that version.
        </p>
        {whyNot && (
          <p className="text-sm text-slate-600" data-testid="ha-settings-why-not">
            {whyNot}
          </p>
        )}
        {error && !Object.keys(fields).length && <ErrorBox error={error.body} />}
        {error && Object.keys(fields).length > 0 && (
          <p role="alert" className="text-sm text-red-800">
            {error.body.message}
          </p>
        )}
        <fieldset disabled={isOff} className="space-y-4">
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={form.isEnabled} onChange={(e) => set({ isEnabled: e.target.checked })} /> High availability on (off: keepalived
            stops, the settings are kept)
          </label>
          <div className="grid gap-4 md:grid-cols-3">
            <Field label="HA interface" error={fields.interface} hint="VRRP adverts and connection sync run over it.">
              {(p) => <Input {...p} name="ha-interface" placeholder="eth1" value={form.interface} onChange={(e) => set({ interface: e.target.value })} />}
            </Field>
            <Field label="First virtual router ID" error={fields.virtualRouterId} hint="1–255, unique on the link; each further interface takes the next.">
              {(p) => (
                <Input
                  {...p}
                  name="virtual-router-id"
                  inputMode="numeric"
                  placeholder="51"
                  value={form.virtualRouterId}
                  onChange={(e) => set({ virtualRouterId: e.target.value })}
                />
              )}
            </Field>
            <Field label="Advert interval (ms)" error={fields.advertIntervalMs} hint={`Default ${d.advertIntervalMs} ms: failover in under 2 s.`}>
              {(p) => (
                <Input
                  {...p}
                  name="advert-interval"
                  inputMode="numeric"
                  placeholder={String(d.advertIntervalMs)}
                  value={form.advertIntervalMs}
                  onChange={(e) => set({ advertIntervalMs: e.target.value })}
                />
              )}
            </Field>
          </div>
          <fieldset className="space-y-2">
            <legend className="text-sm font-medium text-slate-700">
              Nodes (each with its own address on the HA interface; the highest priority is active)
            </legend>
            {fields.nodes && (
              <p role="alert" className="text-xs font-medium text-red-700">
                {fields.nodes}
              </p>
            )}
            {form.nodes.map((n, i) => (
              <div key={i} className="grid items-end gap-3 md:grid-cols-[minmax(0,1fr)_minmax(0,1fr)_8rem_auto]" data-testid="ha-node">
                <Field label={`Node ${i + 1} name`} error={fields[`nodes.${i}.name`]}>
                  {(p) => <Input {...p} value={n.name} placeholder={i === 0 ? 'lb1' : 'lb2'} onChange={(e) => setNode(i, { name: e.target.value })} />}
                </Field>
                <Field label={`Node ${i + 1} address`} error={fields[`nodes.${i}.address`]}>
                  {(p) => <Input {...p} value={n.address} placeholder={`10.0.0.${11 + i}`} onChange={(e) => setNode(i, { address: e.target.value })} />}
                </Field>
                <Field label={`Node ${i + 1} priority`} error={fields[`nodes.${i}.priority`]}>
                  {(p) => <Input {...p} inputMode="numeric" value={n.priority} onChange={(e) => setNode(i, { priority: e.target.value })} />}
                </Field>
                <Button
                  type="button"
                  size="sm"
                  variant="secondary"
                  disabled={form.nodes.length <= 2}
                  title={form.nodes.length <= 2 ? 'A pair needs two nodes.' : undefined}
                  onClick={() => set({ nodes: form.nodes.filter((_, j) => j !== i) })}
                >
                  Remove
                </Button>
              </div>
            ))}
            <Button
              type="button"
              size="sm"
              variant="secondary"
              disabled={form.nodes.length >= 8}
              onClick={() => set({ nodes: [...form.nodes, { name: '', address: '', priority: '' }] })}
            >
              Add a node
            </Button>
          </fieldset>
          <div className="grid gap-4 md:grid-cols-2">
            <div className="space-y-2">
              <label className="flex items-center gap-2 text-sm">
                <input type="checkbox" checked={form.preempt} onChange={(e) => set({ preempt: e.target.checked })} /> Preempt: a returning higher-priority node
                takes the service back (default {d.preempt ? 'on' : 'off: nopreempt, the service moves only when it must'})
              </label>
              {form.preempt && (
                <Field label="Preemption delay (s)" error={fields.preemptDelaySeconds} hint="Empty: at once.">
                  {(p) => (
                    <Input
                      {...p}
                      name="preempt-delay"
                      inputMode="numeric"
                      value={form.preemptDelaySeconds}
                      onChange={(e) => set({ preemptDelaySeconds: e.target.value })}
                    />
                  )}
                </Field>
              )}
              {!form.preempt && fields.preemptDelaySeconds && (
                <p role="alert" className="text-xs font-medium text-red-700">
                  {fields.preemptDelaySeconds}
                </p>
              )}
            </div>
            <div className="space-y-2">
              <label className="flex items-center gap-2 text-sm">
                <input type="checkbox" checked={form.sync} onChange={(e) => set({ sync: e.target.checked })} /> IPVS connection sync (default{' '}
                {d.connectionSync.isEnabled ? 'on' : 'off'}): layer 4 connections survive a failover
              </label>
              {form.sync && (
                <Field label="Sync ID" error={fields['connectionSync.syncId']} hint="Empty: the first virtual router ID.">
                  {(p) => <Input {...p} name="sync-id" inputMode="numeric" value={form.syncId} onChange={(e) => set({ syncId: e.target.value })} />}
                </Field>
              )}
            </div>
          </div>
          <fieldset className="space-y-1">
            <legend className="text-sm font-medium text-slate-700">Addresses that move with the active node</legend>
            <label className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                checked={form.isAllMoving}
                onChange={(e) => set({ isAllMoving: e.target.checked, moving: e.target.checked ? [] : view.movable.map((m) => m.address) })}
              />{' '}
              Every floating IP and every VIP with an interface ({view.movable.length} now)
            </label>
            {!form.isAllMoving &&
              view.movable.map((m) => {
                const err = form.moving.includes(m.address) ? fields[`movingAddresses.${form.moving.indexOf(m.address)}`] : undefined;
                return (
                  <label key={m.address} className="ml-6 flex items-center gap-2 text-sm">
                    <input
                      type="checkbox"
                      checked={form.moving.includes(m.address)}
                      onChange={(e) => set({ moving: e.target.checked ? [...form.moving, m.address] : form.moving.filter((a) => a !== m.address) })}
                    />
                    <span className="font-mono">{m.address}</span> on {m.interface} ({m.source === 'vip' ? 'VIP' : 'floating IP'})
                    {err && (
                      <span role="alert" className="text-red-700">
                        {' '}
                        {err}
                      </span>
                    )}
                  </label>
                );
              })}
          </fieldset>
        </fieldset>
        {view.instances.length > 0 && (
          <p className="text-sm text-slate-600" data-testid="ha-instances">
            VRRP instances staged:{' '}
            {view.instances
              .map((g) => `${g.interface} (router ${g.virtualRouterId}${g.addresses.length ? `: ${g.addresses.join(', ')}` : ', no addresses'})`)
              .join('; ')}
            .
          </p>
        )}
        <div className="flex flex-wrap items-center gap-3">
          <Button type="submit" disabled={isOff} title={whyNot ?? undefined}>
            {isBusy ? 'Saving…' : 'Stage settings'}
          </Button>
          {view.settings && (
            <Button type="button" variant="danger" disabled={isOff} title={whyNot ?? undefined} onClick={remove}>
              Single node (remove)
            </Button>
          )}
          {saved && (
            <span role="status" className="text-sm text-green-800">
              Staged.{' '}
              <a className="underline" href="/changes">
                Review and apply
              </a>
              .
            </span>
          )}
        </div>
      </form>
    </Card>
  );
}
