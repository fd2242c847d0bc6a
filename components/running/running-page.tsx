'use client';
/**
 * What the engine runs, read from the engine (GET /running/*), in three tabs: the running configuration (private
 * keys never shown), the layer 4 IPVS table like `ipvsadm -Ln --stats` with owners, and the layer 7 runtime
 * (listeners, pools with each server's state, stick tables). Each tab reads again every 5 s and says as of when;
 * an engine that does not answer is said so. Every role that reads configuration sees it.
 */
import { useState } from 'react';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, ErrorBox, PageTitle } from '../ui/card';
import { clock, usePoll, type Polled } from './use-poll';
import { L4Table, type L4View } from './l4-table';
import { L7Runtime, type L7View } from './l7-runtime';

const TABS = [
  { id: 'config', label: 'Running configuration' },
  { id: 'l4', label: 'Layer 4 table' },
  { id: 'l7', label: 'Layer 7 runtime' },
] as const;
type TabId = (typeof TABS)[number]['id'];

interface ConfigView extends Polled {
  running?: { version: number; hash: string; appliedAt: string } | null;
  config?: { virtualServices?: { name: string }[]; certificates?: unknown[]; floatingIps?: unknown[] } | null;
}

/** "as of 14:02:05", refreshed with the poll; the Refresh button reads at once. */
export function AsOf({ at, onRefresh }: { at?: string; onRefresh: () => void }) {
  return (
    <div className="flex items-center gap-2 text-sm text-slate-600">
      <span data-testid="as-of" aria-live="polite">
        {at ? `as of ${clock(at)}` : 'reading…'}
      </span>
      <Button size="sm" variant="secondary" onClick={onRefresh}>
        Refresh
      </Button>
    </div>
  );
}

export function EngineDown({ data }: { data: Polled | null }) {
  if (!data || data.isReachable) return null;
  return <ErrorBox error={{ code: data.error?.code, message: `The engine does not answer, so what runs cannot be shown: ${data.error?.message ?? ''}` }} />;
}

function ConfigTab() {
  const { data, error, reload } = usePoll<ConfigView>('/running/config');
  const text = data?.config ? JSON.stringify(data.config, null, 2) : '';
  return (
    <Card title="Running configuration" actions={<AsOf at={data?.at} onRefresh={reload} />}>
      <ErrorBox error={error} />
      <EngineDown data={data} />
      {data?.isReachable && !data.running && <p className="text-sm text-slate-600">The engine runs no configuration yet: nothing has been applied.</p>}
      {data?.running && data.config && (
        <>
          <dl className="mb-3 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
            <dt className="text-slate-500">Version</dt>
            <dd data-testid="running-version">{data.running.version}</dd>
            <dt className="text-slate-500">Hash</dt>
            <dd className="break-all font-mono text-xs">{data.running.hash}</dd>
            <dt className="text-slate-500">Applied</dt>
            <dd>{new Date(data.running.appliedAt).toLocaleString()}</dd>
            <dt className="text-slate-500">Holds</dt>
            <dd>
              {data.config.virtualServices?.length ?? 0} virtual services, {data.config.certificates?.length ?? 0} certificates (private keys stay in the
              engine), {data.config.floatingIps?.length ?? 0} floating IPs
            </dd>
          </dl>
          <pre
            data-testid="running-config"
            role="region"
            tabIndex={0}
            aria-label="The running configuration as JSON"
            className="max-h-[32rem] overflow-auto rounded-md bg-slate-950 p-3 text-xs text-slate-100"
          >
            {text}
          </pre>
        </>
      )}
    </Card>
  );
}

function L4Tab() {
  const { data, error, reload } = usePoll<L4View>('/running/l4');
  return (
    <Card title="Layer 4: the kernel's IPVS table" actions={<AsOf at={data?.at} onRefresh={reload} />}>
      <ErrorBox error={error} />
      <EngineDown data={data} />
      {data?.isReachable && <L4Table view={data} />}
    </Card>
  );
}

function L7Tab() {
  const { data, error, reload } = usePoll<L7View>('/running/l7');
  return (
    <Card title="Layer 7: the proxy's runtime" actions={<AsOf at={data?.at} onRefresh={reload} />}>
      <ErrorBox error={error} />
      <EngineDown data={data} />
      {data?.isReachable && <L7Runtime view={data} />}
    </Card>
  );
}

export function RunningPage() {
  const [tab, setTab] = useState<TabId>('config');
  return (
    <div>
      <PageTitle sub="What the engine runs now, read from the engine itself (not the staged configuration). Refreshed every 5 seconds.">Running</PageTitle>
      <div role="tablist" aria-label="What to show" className="mb-4 flex flex-wrap gap-1">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={tab === t.id ? `panel-${t.id}` : undefined}
            onClick={() => setTab(t.id)}
            className={`rounded-md px-3 py-1.5 text-sm font-medium ${tab === t.id ? 'bg-sky-700 text-white' : 'bg-white text-slate-700 ring-1 ring-slate-300 hover:bg-slate-50'}`}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === 'config' ? <ConfigTab /> : tab === 'l4' ? <L4Tab /> : <L7Tab />}
      </div>
      <p className="mt-3 text-xs text-slate-500">
        <Badge tone="slate">read-only</Badge> Changes are made on the services' pages and take effect when applied.
      </p>
    </div>
  );
}
