'use client';
/**
 * The HA page: both nodes side by side (role in the pair, VRRP state, what each runs, live), the sync status with
 * its warnings, pairing, the hand-over, and the failover history. Live through the feed: 'ha' events (the peer's
 * status changed, a sync, pairing, a hand-over) and the engine's own 'ha' events (VRRP changes) read it again.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, type ApiCallError } from './api-client';
import { useLiveEvents } from './live';
import { useHaWhyNot as useWhyNot } from './ha/why-not';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { PairingCard } from './ha/pairing-card';
import { HandoverCard } from './ha/handover-card';
import { HistoryCard } from './ha/history-card';
import { HaSettingsCard } from './ha/ha-settings-card';
import { when, type HaView, type NodeStatus } from './ha/types';

const VRRP_TONE: Record<string, Tone> = { master: 'green', backup: 'sky', fault: 'red', stopped: 'slate' };
const VRRP_TEXT: Record<string, string> = {
  master: 'VRRP master (active)',
  backup: 'VRRP backup (standby)',
  fault: 'VRRP fault',
  stopped: 'keepalived stopped',
};
const ROLE_TONE: Record<string, Tone> = { primary: 'sky', secondary: 'slate', unpaired: 'amber' };

function NodeCard({ label, node, extra }: { label: string; node: NodeStatus | null; extra?: React.ReactNode }) {
  if (!node) {
    return (
      <Card title={label}>
        <p className="text-sm text-slate-600">{extra ?? 'Not paired.'}</p>
      </Card>
    );
  }
  const ha = node.engine.ha;
  return (
    <Card
      title={
        <span>
          {label}: <span data-testid="node-name">{node.name}</span>
        </span>
      }
    >
      <div className="mb-3 flex flex-wrap gap-2">
        <span data-testid="node-role">
          <Badge tone={ROLE_TONE[node.role]}>{node.role === 'unpaired' ? 'not paired' : node.role}</Badge>
        </span>
        {!node.engine.isReachable ? (
          <Badge tone="red">engine unreachable</Badge>
        ) : ha ? (
          <Badge tone={VRRP_TONE[ha.role]}>{VRRP_TEXT[ha.role]}</Badge>
        ) : (
          <Badge tone="slate">HA not configured</Badge>
        )}
        {ha?.standby && <Badge tone="amber">standing by</Badge>}
      </div>
      <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
        <dt className="text-slate-500">Runs</dt>
        <dd>
          {node.running ? (
            <>
              version {node.running.version} <span className="font-mono text-xs text-slate-600">{node.running.hash.slice(0, 16)}</span>
            </>
          ) : (
            'no configuration yet'
          )}
        </dd>
        <dt className="text-slate-500">Last sync</dt>
        <dd>{when(node.lastSyncAt)}</dd>
        {ha?.error && (
          <>
            <dt className="text-slate-500">HA problem</dt>
            <dd className="text-red-800">{ha.error.message}</dd>
          </>
        )}
      </dl>
      {ha && ha.instances.length > 0 && (
        <table className="mt-3 w-full text-left text-xs">
          <thead className="uppercase text-slate-500">
            <tr>
              <th className="py-1">VRRP instance</th>
              <th>State</th>
              <th>Addresses</th>
            </tr>
          </thead>
          <tbody>
            {ha.instances.map((i) => (
              <tr key={i.name} className="border-t border-slate-100 align-top">
                <td className="py-1 font-mono">
                  {i.name}
                  {i.priority !== undefined ? ` (priority ${i.priority})` : ''}
                </td>
                <td>
                  <Badge tone={VRRP_TONE[i.state.toLowerCase()] ?? (i.state === 'FAULT' ? 'red' : 'slate')}>{i.state}</Badge>{' '}
                  <span className="block text-slate-500">since {when(i.since)}</span>
                </td>
                <td>
                  {i.addresses.map((a) => (
                    <span key={a.address} className="mr-2 whitespace-nowrap font-mono">
                      {a.address} {a.isHeld ? '(held here)' : '(not here)'}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {extra}
    </Card>
  );
}

export function HaPage() {
  const [view, setView] = useState<HaView | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [isSyncing, setSyncing] = useState(false);
  const whyNotSync = useWhyNot('config:apply');
  const load = useCallback(
    () =>
      api<HaView>('GET', '/ha')
        .then((v) => {
          setView(v);
          setError(null);
        })
        .catch(setError),
    [],
  );
  useEffect(() => void load(), [load]);
  useLiveEvents(['ha', 'engine'], (e) => {
    if (e.type === 'ha' || e.event?.type === 'ha') void load();
  });
  async function syncNow() {
    setSyncing(true);
    try {
      setView(await api<HaView>('POST', '/ha/sync'));
    } catch (e) {
      setError(e as ApiCallError);
    } finally {
      setSyncing(false);
    }
  }
  if (!view)
    return (
      <div>
        <PageTitle>High availability</PageTitle>
        <ErrorBox error={error?.body} />
        {!error && <p className="text-sm text-slate-600">Loading…</p>}
      </div>
    );
  const pair = view.pair;
  const peer = view.peer;
  const peerExtra =
    pair && peer?.error ? (
      <p className="mt-2 text-sm text-red-800">
        Not answering{peer.seenAt ? ` since ${when(peer.seenAt)}; shown as last heard then` : ''}: {peer.error.message}
      </p>
    ) : undefined;
  return (
    <div className="space-y-5">
      <PageTitle sub="Two appliances on keepalived: the active node holds the virtual IPs, the other stands by with the same configuration. Changes are made on the primary and copied to the secondary.">
        High availability
      </PageTitle>
      <ErrorBox error={error?.body} />
      {pair?.role === 'secondary' && (
        <div role="status" data-testid="secondary-banner" className="rounded-md border border-sky-300 bg-sky-50 px-3 py-2 text-sm text-sky-950">
          This node is the secondary of the pair: it refuses edits. Make changes on <strong>{pair.peerName}</strong> (
          <a className="underline" href={pair.peerConsoleUrl}>
            {pair.peerConsoleUrl}
          </a>
          ); they are copied here after every apply.
        </div>
      )}
      {view.warnings.length > 0 && (
        <div role="alert" data-testid="ha-warnings" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
          <p className="font-medium">The two nodes differ</p>
          <ul className="ml-5 list-disc">
            {view.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </div>
      )}
      <div className="grid gap-5 lg:grid-cols-2">
        <NodeCard label="This node" node={view.local} />
        <NodeCard
          label="Peer"
          node={peer?.status ?? null}
          extra={
            pair
              ? (peerExtra ?? (!peer?.status ? <p className="text-sm text-slate-600">Waiting for {pair.peerName} to answer…</p> : undefined))
              : 'Not paired: pair this node with the other one below.'
          }
        />
      </div>
      {pair && (
        <Card
          title="Configuration sync"
          actions={
            <Button size="sm" variant="secondary" disabled={isSyncing || !!whyNotSync} title={whyNotSync ?? undefined} onClick={syncNow}>
              {isSyncing ? 'Syncing…' : 'Sync now'}
            </Button>
          }
        >
          <p className="text-sm" aria-live="polite">
            {view.isInSync === true ? (
              <Badge tone="green">In sync</Badge>
            ) : view.isInSync === false ? (
              <Badge tone="amber">Out of sync</Badge>
            ) : (
              <Badge tone="slate">{peer?.error ? 'Unknown: the peer does not answer' : 'Unknown: peer not heard yet'}</Badge>
            )}{' '}
            Last sync {when(pair.lastSyncAt)}
            {pair.lastSyncHash ? (
              <>
                {' '}
                at <span className="font-mono text-xs">{pair.lastSyncHash.slice(0, 16)}</span>
              </>
            ) : null}
            .{' '}
            {pair.role === 'primary'
              ? `Every apply here is sent to ${pair.peerName} as the same version (same hash), with certificates and users.`
              : `Every apply on ${pair.peerName} arrives here as the same version.`}
          </p>
          {pair.lastSyncError && <p className="mt-1 text-sm text-red-800">Last failure: {pair.lastSyncError} (retried with backoff).</p>}
        </Card>
      )}
      <PairingCard view={view} onChange={load} />
      <HaSettingsCard onChange={load} />
      <HandoverCard view={view} onChange={load} />
      <HistoryCard />
    </div>
  );
}
