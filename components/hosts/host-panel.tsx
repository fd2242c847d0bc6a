'use client';
/**
 * One host: what a drain, halt or online would touch (every service and real server at the address, its stored and
 * running state, its open connections, whether its service is programmed on this machine), the action behind a
 * confirmation that lists exactly those servers, then the result per server and the host's open connections,
 * live over /api/v1/live (the engine's 'stats' event every 2 s), falling as clients finish.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, type ApiCallError } from '../api-client';
import { useLiveEvents, useWatchServices } from '../live';
import { useWhyNot } from '../session';
import { Badge, type Tone } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, ErrorBox } from '../ui/card';
import { ConfirmDialog } from '../ui/confirm';
import { TableScroll } from '../ui/table';
import { HostResult, type HostStateResult } from './host-result';

type State = 'online' | 'drain' | 'halt';
export type HostServer = {
  id: string;
  virtualService: string;
  layer: 4 | 7;
  realServer: string;
  address: string;
  port: number | null;
  state: State;
  running: { operator: string; health: string; activeConnections: number | null } | null;
  serviceStatus: string;
  notice: string | null;
};
export type HostPreview = {
  address: string;
  servers: HostServer[];
  activeConnections: number | null;
  engine: { isReachable: boolean; message: string | null };
  haNotice: string | null;
};
type StatsService = { name: string; realServers: { name: string; operator: string; health: string; counters?: { activeConnections: number } }[] };

const stateTone: Record<string, Tone> = { online: 'green', drain: 'amber', halt: 'red' };
const statusTone: Record<string, Tone> = {
  programmed: 'green',
  'not-programmed': 'amber',
  failed: 'red',
  'not-applied': 'slate',
  unknown: 'slate',
  removed: 'slate',
};
const STATUS_WORDS: Record<string, string> = {
  programmed: 'programmed',
  'not-programmed': 'not programmed here',
  failed: 'failed here',
  'not-applied': 'not applied yet',
  unknown: 'engine away',
  removed: 'removed',
};

export const ACTIONS: Record<State, { label: string; verb: string; body: string; tone: 'primary' | 'warning' | 'danger' }> = {
  drain: {
    label: 'Drain everywhere',
    verb: 'Drain',
    body: 'Each server takes no new connections; open connections and persistent clients continue until they finish.',
    tone: 'warning',
  },
  halt: { label: 'Halt everywhere', verb: 'Halt', body: 'Each server is taken out of service now: its open connections are cut.', tone: 'danger' },
  online: {
    label: 'Bring online everywhere',
    verb: 'Bring online',
    body: 'Each server takes new connections again at its configured weight.',
    tone: 'primary',
  },
};

/** The preview with the counters of a 'stats' event: the live count of the host's open connections. */
export function withStats(p: HostPreview, services: StatsService[]): HostPreview {
  let total = 0;
  let isCounted = false;
  const servers = p.servers.map((s) => {
    const rs = services.find((x) => x.name === s.virtualService)?.realServers.find((r) => r.name === s.realServer);
    if (!rs) return s;
    const active = rs.counters?.activeConnections ?? null;
    if (active !== null) {
      total += active;
      isCounted = true;
    }
    return { ...s, running: { operator: rs.operator, health: rs.health, activeConnections: active } };
  });
  return { ...p, servers, activeConnections: isCounted ? total : p.activeConnections };
}

export function HostPanel({ address, onChanged }: { address: string; onChanged: () => void }) {
  const [preview, setPreview] = useState<HostPreview | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [confirm, setConfirm] = useState<State | null>(null);
  const [result, setResult] = useState<HostStateResult | null>(null);
  const [isBusy, setBusy] = useState(false);
  const whyNot = useWhyNot('server:state');
  const [secondaryOf, setSecondaryOf] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setPreview(await api<HostPreview>('GET', `/hosts/${encodeURIComponent(address)}`));
      setError(null);
    } catch (e) {
      setError(e as ApiCallError);
    }
  }, [address]);
  useEffect(() => {
    setPreview(null);
    setResult(null);
    void load();
  }, [load]);
  useEffect(() => {
    api<{ pair: { role: string; peerName: string } | null }>('GET', '/ha')
      .then((v) => setSecondaryOf(v.pair?.role === 'secondary' ? v.pair.peerName : null))
      .catch(() => undefined);
  }, []);
  // The live count needs the counters of every service the host serves, and only those.
  useWatchServices(preview ? [...new Set(preview.servers.map((s) => s.virtualService))] : []);
  useLiveEvents(['engine', 'candidate-changed'], (e) => {
    if (e.type === 'engine' && e.event?.type === 'stats') setPreview((cur) => (cur ? withStats(cur, e.event.services as StatsService[]) : cur));
    else if (e.type === 'candidate-changed' || e.event?.type === 'applied') void load();
  });

  async function run() {
    if (!confirm) return;
    setBusy(true);
    try {
      setResult(await api<HostStateResult>('PUT', `/hosts/${encodeURIComponent(address)}/state`, { state: confirm }));
      setError(null);
      await load();
      onChanged();
    } catch (e) {
      setError(e as ApiCallError);
    } finally {
      setConfirm(null);
      setBusy(false);
    }
  }

  const touched = preview && confirm ? preview.servers.filter((s) => s.state !== confirm) : [];
  const blocked = whyNot ?? (secondaryOf ? `This node is the secondary of an HA pair: drain the host on ${secondaryOf}.` : null);
  const services = preview ? new Set(preview.servers.map((s) => s.virtualService)).size : 0;
  const touchedServices = new Set(touched.map((s) => s.virtualService)).size;
  return (
    <Card
      title={
        <span>
          Host <span className="font-mono">{address}</span>
        </span>
      }
    >
      <ErrorBox error={error?.body} />
      {!preview ? (
        !error && <p className="text-sm text-slate-500">Loading…</p>
      ) : (
        <div className="space-y-3">
          <p className="text-sm text-slate-700">
            {plural(preview.servers.length, 'real server')} in {plural(services, 'service')}.{' '}
            <span data-testid="host-connections" aria-live="polite" className="font-medium">
              {preview.activeConnections === null
                ? 'Open connections: unknown (the engine did not answer).'
                : `${preview.activeConnections} open ${preview.activeConnections === 1 ? 'connection' : 'connections'} now.`}
            </span>
          </p>
          {preview.haNotice && (
            <p role="note" data-testid="host-ha-notice" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
              {preview.haNotice}
            </p>
          )}
          {!preview.engine.isReachable && (
            <p role="note" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
              The engine did not answer ({preview.engine.message}). States are still stored and sent when it is back.
            </p>
          )}
          <ServerTable servers={preview.servers} />
          <div className="flex flex-wrap items-center gap-2">
            {(['drain', 'halt', 'online'] as const).map((s) => {
              const isNoop = preview.servers.every((x) => x.state === s);
              return (
                <Button
                  key={s}
                  variant={ACTIONS[s].tone}
                  disabled={!!blocked || isNoop}
                  title={blocked ?? (isNoop ? `Every server at ${address} is already ${s}.` : undefined)}
                  aria-label={`${ACTIONS[s].label}: ${address}`}
                  onClick={() => {
                    setResult(null);
                    setConfirm(s);
                  }}
                >
                  {ACTIONS[s].label}…
                </Button>
              );
            })}
            {blocked && (
              <span data-testid="host-why-not" className="text-xs text-slate-600">
                {blocked}
              </span>
            )}
          </div>
        </div>
      )}
      {result && <HostResult result={result} />}
      <ConfirmDialog
        open={!!confirm}
        title={confirm ? `${ACTIONS[confirm].verb} ${address} in ${plural(touchedServices, 'service')}?` : ''}
        confirmLabel={confirm ? `${ACTIONS[confirm].verb} ${plural(touched.length, 'server')}` : ''}
        tone={confirm ? ACTIONS[confirm].tone : 'primary'}
        onCancel={() => setConfirm(null)}
        onConfirm={run}
        isBusy={isBusy}
      >
        {confirm && (
          <>
            <p>{ACTIONS[confirm].body} This takes effect at once and is recorded in the audit log as one entry.</p>
            <ul data-testid="host-confirm-list" className="mt-2 max-h-64 list-disc space-y-1 overflow-y-auto pl-5">
              {touched.map((s) => (
                <li key={s.id}>
                  <strong>{s.realServer}</strong> in {s.virtualService} (L{s.layer}): {s.state} → {confirm}
                  {s.running?.activeConnections != null ? `, ${s.running.activeConnections} open now` : ''}
                  {s.notice && <span className="block text-xs text-amber-900">{s.notice}</span>}
                </li>
              ))}
            </ul>
          </>
        )}
      </ConfirmDialog>
    </Card>
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function ServerTable({ servers }: { servers: HostServer[] }) {
  return (
    <TableScroll label="Real servers at this host" minWidth="48rem">
      <table data-testid="host-servers" className="w-full text-left text-sm [&_td]:pr-3 [&_th]:pr-3">
        <thead className="text-xs uppercase text-slate-500">
          <tr>
            <th className="py-1.5">Service</th>
            <th>Real server</th>
            <th>Port</th>
            <th>Stored state</th>
            <th>Running</th>
            <th>Connections</th>
            <th>On this machine</th>
          </tr>
        </thead>
        <tbody>
          {servers.map((s) => (
            <tr key={s.id} className="border-t border-slate-100 align-top" data-testid={`host-row-${s.virtualService}-${s.realServer}`}>
              <td className="py-2 font-medium">
                {s.virtualService} <span className="text-xs text-slate-500">L{s.layer}</span>
              </td>
              <td>{s.realServer}</td>
              <td className="font-mono text-xs">{s.port ?? '–'}</td>
              <td>
                <Badge tone={stateTone[s.state]}>{s.state}</Badge>
              </td>
              <td className="text-xs">{s.running ? `${s.running.operator}, ${s.running.health}` : 'not running'}</td>
              <td className="font-mono text-xs" data-testid="host-row-connections">
                {s.running?.activeConnections ?? '–'}
              </td>
              <td className="max-w-xs">
                <Badge tone={statusTone[s.serviceStatus] ?? 'slate'}>{STATUS_WORDS[s.serviceStatus] ?? s.serviceStatus}</Badge>
                {s.notice && <span className="mt-1 block text-xs text-amber-900">{s.notice}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}
