'use client';
/**
 * The overview: the engine, the running version, the last apply, and the virtual services a page at a time, each with
 * its real servers' operator state, health and traffic (overview-card.tsx), live over /api/v1/live.
 *
 * At hospital scale (1,000 services × 4 real servers) the page asks the server for the one page it shows
 * (GET /overview: filtered and sorted over every service, 25 cards), and a live 'stats' or 'health' event updates the
 * shown services' status only, re-rendering the cards it changed.
 */
import Link from 'next/link';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, type ApiCallError } from './api-client';
import { useLiveEvents, useWatchServices } from './live';
import { useCan } from './session';
import { Badge } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { ConfirmDialog } from './ui/confirm';
import { STATE_TEXT, ServiceCard, type StateRequest } from './overview-card';
import type { HealthEvent, OverviewPage, ServiceStatus, Supervisor, VirtualService } from './overview-types';
import { withStats, withTransition } from './overview-status';

const SUPERVISOR_TEXT: Record<Supervisor['kind'], (s: Supervisor) => string | null> = {
  running: () => null,
  starting: () => 'The console is starting the engine.',
  'not-answering': (s) =>
    `The engine (process ${s.pid}) is running but not answering: it may be paused or stuck. The console does not start a second one; check the engine's log (engine.log in the data directory).`,
  unreachable: (s) => `The engine does not answer and this console may not start one (${s.reason}).`,
};

/** Service cards per page of the overview. */
const PAGE_SIZE = 25;
/** How long typing in the filter pauses before the server is asked (one request per pause, not per key). */
const FILTER_PAUSE_MS = 200;
type Sort = 'order' | 'name' | 'problems';
const SORT_TEXT: Record<Sort, string> = { order: 'Configured order', name: 'Name (A–Z)', problems: 'Problems first' };

export function Overview() {
  const [data, setData] = useState<OverviewPage | null>(null);
  /** The engine's status of the services shown, by name: from the page's answer, then kept live by events. */
  const [statuses, setStatuses] = useState<ReadonlyMap<string, ServiceStatus>>(new Map());
  const [error, setError] = useState<ApiCallError | null>(null);
  const [confirm, setConfirm] = useState<StateRequest | null>(null);
  const [deleting, setDeleting] = useState<VirtualService | null>(null);
  const [isBusy, setBusy] = useState(false);
  const [filter, setFilter] = useState('');
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<Sort>('order');
  const [page, setPage] = useState(1);
  /** Services whose graphs are open (every role may read them). */
  const [graphsOpen, setGraphsOpen] = useState<ReadonlySet<string>>(new Set());
  /** Active connections of each service shown over the last 60 'stats' events (2 minutes), kept across pages. */
  const history = useRef(new Map<string, number[]>());
  const canState = useCan('server:state');
  const canWrite = useCan('config:write');

  useEffect(() => {
    const t = setTimeout(() => setQuery(filter.trim()), FILTER_PAUSE_MS);
    return () => clearTimeout(t);
  }, [filter]);

  // Only the latest request's answer is shown: a slow answer for an older filter or page never overwrites it.
  const seq = useRef(0);
  const isLoading = useRef(false);
  /** The live feed's last word on the engine connection, not yet compared with what the page shows. */
  const connectionToCheck = useRef<boolean | undefined>(undefined);
  const dataRef = useRef<OverviewPage | null>(null);
  const loadRef = useRef<() => Promise<void>>(async () => undefined);
  /**
   * The feed says hello with the engine's connection state when it opens, as the page loads: that is no reason to
   * load the page again. Only a state that differs from what the page shows is (once per event).
   */
  const checkConnection = useCallback(() => {
    const c = connectionToCheck.current;
    if (c === undefined || isLoading.current || !dataRef.current) return;
    connectionToCheck.current = undefined;
    if (c !== dataRef.current.engine.isReachable) void loadRef.current();
  }, []);
  const load = useCallback(async () => {
    const n = ++seq.current;
    isLoading.current = true;
    try {
      const qs = new URLSearchParams({ offset: String((page - 1) * PAGE_SIZE), limit: String(PAGE_SIZE), sort });
      if (query) qs.set('q', query);
      const v = await api<OverviewPage>('GET', `/overview?${qs}`);
      if (n !== seq.current) return;
      dataRef.current = v;
      setData(v);
      setStatuses(new Map(v.items.flatMap((vs) => (vs.status ? [[vs.name, vs.status] as const] : []))));
      setError(null);
    } catch (e) {
      if (n === seq.current) setError(e as ApiCallError);
    } finally {
      if (n === seq.current) {
        isLoading.current = false;
        checkConnection();
      }
    }
  }, [page, query, sort, checkConnection]);
  loadRef.current = load;
  useEffect(() => void load(), [load]);

  // The live feed's 'stats' events carry the shown services only (lib/live-watch.ts).
  useWatchServices(data?.items.map((vs) => vs.name) ?? []);
  useLiveEvents(['engine', 'candidate-changed', 'engine-connection'], (e) => {
    if (e.type === 'engine' && e.event?.type === 'stats') {
      const incoming = e.event.services as ServiceStatus[];
      for (const s of incoming) {
        const h = history.current.get(s.name) ?? [];
        h.push(s.counters?.activeConnections ?? s.realServers.reduce((a, r) => a + (r.counters?.activeConnections ?? 0), 0));
        history.current.set(s.name, h.slice(-60));
      }
      setStatuses((cur) => withStats(cur, incoming, dataRef.current?.items ?? []));
    } else if (e.type === 'engine' && e.event?.type === 'health') {
      // At once, from the event itself: the next 'stats' event (up to 2 s away) would only confirm it.
      const h = e.event as HealthEvent;
      setStatuses((cur) => withTransition(cur, h));
    } else if (e.type === 'engine-connection') {
      connectionToCheck.current = Boolean(e.isConnected);
      checkConnection();
    } else void load();
  });

  const onToggleGraphs = useCallback(
    (id: string) =>
      setGraphsOpen((cur) => {
        const n = new Set(cur);
        if (!n.delete(id)) n.add(id);
        return n;
      }),
    [],
  );

  async function setState() {
    if (!confirm) return;
    setBusy(true);
    try {
      await api('PUT', `/real-servers/${confirm.rs.id}/state`, { state: confirm.state });
      setConfirm(null);
      await load();
    } catch (e) {
      setError(e as ApiCallError);
      setConfirm(null);
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!deleting) return;
    setBusy(true);
    try {
      await api('DELETE', `/virtual-services/${deleting.id}`, undefined, { ifMatch: deleting.version });
      setDeleting(null);
      await load();
    } catch (e) {
      setError(e as ApiCallError);
      setDeleting(null);
    } finally {
      setBusy(false);
    }
  }

  const engine = data?.engine;
  const running = engine?.running;
  const primaryName = data?.ha?.role === 'secondary' ? data.ha.peerName : null;
  const pageCount = Math.max(1, Math.ceil((data?.matching ?? 0) / PAGE_SIZE));
  // A page past the end (services deleted meanwhile): go to the last one.
  useEffect(() => {
    if (data && page > pageCount) setPage(pageCount);
  }, [data, page, pageCount]);
  return (
    <div>
      <PageTitle sub="Virtual services, their real servers and what the engine is running.">Overview</PageTitle>
      <ErrorBox error={error?.body} />
      {data?.isInSync === false && (
        <div role="alert" data-testid="out-of-sync" className="mb-4 rounded-md border border-amber-400 bg-amber-50 px-3 py-2 text-sm text-amber-950">
          The engine is not running the last version applied from this console{running ? ` (it runs version ${running.version})` : ' (it runs nothing)'}. Apply
          again from{' '}
          <a className="underline" href="/changes">
            Pending changes
          </a>{' '}
          to bring it back in line.
        </div>
      )}
      <div className="mb-6 grid gap-4 md:grid-cols-3">
        <Card title="Engine">
          {!engine ? (
            <p className="text-sm text-slate-500">Loading…</p>
          ) : engine.isReachable ? (
            <ul className="space-y-1 text-sm">
              {engine.capabilities.map((c) => (
                <li key={c.dataPlane} className="flex flex-wrap items-center gap-2">
                  <span className="w-20 font-medium">{c.dataPlane === 'l4' ? 'Layer 4' : 'Layer 7'}</span>
                  {c.isAvailable ? (
                    <Badge tone="green">available</Badge>
                  ) : (
                    <Badge tone="amber" title={c.reason}>
                      not available
                    </Badge>
                  )}
                  {!c.isAvailable && <span className="w-full text-xs text-slate-600">{c.reason}</span>}
                </li>
              ))}
            </ul>
          ) : (
            <div role="alert" className="space-y-1 text-sm text-red-800">
              <p>{engine.error?.message}</p>
              {engine.supervisor && SUPERVISOR_TEXT[engine.supervisor.kind]?.(engine.supervisor) && (
                <p data-testid="engine-supervisor">{SUPERVISOR_TEXT[engine.supervisor.kind](engine.supervisor)}</p>
              )}
            </div>
          )}
        </Card>
        <Card title="Running version">
          {running ? (
            <p className="text-sm">
              Version <strong data-testid="running-version">{running.version}</strong>, applied {new Date(running.appliedAt).toLocaleString('en-GB')}
              <br />
              <span className="font-mono text-xs text-slate-500">{running.hash.slice(0, 19)}…</span>
            </p>
          ) : (
            <p className="text-sm text-slate-600">Nothing applied yet.</p>
          )}
        </Card>
        <Card title="Last apply">
          {data?.lastApply ? (
            <div className="text-sm">
              <p>
                Version {data.lastApply.id} by {data.lastApply.author}:{' '}
                <Badge tone={data.lastApply.status === 'applied' ? 'green' : 'red'}>{data.lastApply.status}</Badge>
              </p>
              {data.lastApply.error && <p className="mt-1 text-xs text-red-800">{data.lastApply.error}</p>}
            </div>
          ) : (
            <p className="text-sm text-slate-600">No apply yet.</p>
          )}
        </Card>
      </div>

      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h2 className="text-lg font-semibold">Virtual services</h2>
        <input
          type="search"
          aria-label="Filter services"
          placeholder="Filter by name, VIP or real server"
          value={filter}
          onChange={(e) => {
            setFilter(e.target.value);
            setPage(1);
          }}
          className="ml-auto w-72 max-w-[50%] rounded-md border border-slate-300 bg-white px-3 py-2 text-sm"
        />
        <select
          aria-label="Sort services"
          value={sort}
          onChange={(e) => {
            setSort(e.target.value as Sort);
            setPage(1);
          }}
          className="mr-3 rounded-md border border-slate-300 bg-white px-2 py-2 text-sm"
        >
          {(Object.keys(SORT_TEXT) as Sort[]).map((s) => (
            <option key={s} value={s}>
              {SORT_TEXT[s]}
            </option>
          ))}
        </select>
        {canWrite &&
          (primaryName ? (
            <span className="inline-flex items-center gap-2">
              <Button disabled aria-describedby="new-vs-why">
                New virtual service
              </Button>
              <span id="new-vs-why" data-testid="new-vs-why" className="max-w-56 text-xs text-slate-600">
                This node is the HA secondary: create services on {primaryName}.
              </span>
            </span>
          ) : (
            <Link href="/virtual-services/new" className="rounded-md bg-sky-700 px-4 py-2 text-sm font-medium text-white hover:bg-sky-800">
              New virtual service
            </Link>
          ))}
      </div>
      {data?.total === 0 && (
        <Card>
          <p className="text-sm text-slate-600">No virtual services yet. {canWrite ? 'Create one to put a clinical system behind a virtual IP.' : ''}</p>
        </Card>
      )}
      {data && data.total > 0 && data.matching === 0 && (
        <Card>
          <p className="text-sm text-slate-600">No service matches “{data && query}”: the filter looks at names, VIPs, descriptions and real servers.</p>
        </Card>
      )}
      <div className="space-y-4">
        {data?.items.map((vs) => (
          <ServiceCard
            key={vs.id}
            vs={vs}
            st={statuses.get(vs.name)}
            history={history.current.get(vs.name) ?? NO_HISTORY}
            isGraphsOpen={graphsOpen.has(vs.id)}
            canState={canState}
            canWrite={canWrite}
            onToggleGraphs={onToggleGraphs}
            onState={setConfirm}
            onDelete={setDeleting}
          />
        ))}
      </div>
      {pageCount > 1 && <Pager page={Math.min(page, pageCount)} pageCount={pageCount} total={data?.matching ?? 0} onPage={setPage} />}
      <ConfirmDialog
        open={!!confirm}
        title={confirm ? `${STATE_TEXT[confirm.state].title} ${confirm.rs.name}?` : ''}
        confirmLabel={confirm ? `${STATE_TEXT[confirm.state].title} ${confirm.rs.name}` : ''}
        tone={confirm ? STATE_TEXT[confirm.state].tone : 'primary'}
        onCancel={() => setConfirm(null)}
        onConfirm={setState}
        isBusy={isBusy}
      >
        {confirm && (
          <p>
            {confirm.rs.name} ({confirm.rs.address}) in {confirm.vs.name}: {STATE_TEXT[confirm.state].body} This takes effect at once and is recorded in the
            audit log.
          </p>
        )}
      </ConfirmDialog>
      <ConfirmDialog
        open={!!deleting}
        title={deleting ? `Delete ${deleting.name}?` : ''}
        confirmLabel="Delete virtual service"
        onCancel={() => setDeleting(null)}
        onConfirm={remove}
        isBusy={isBusy}
      >
        {deleting && (
          <p>The service and its {deleting.realServers.length} real servers are removed from the staged configuration. Traffic continues until you apply.</p>
        )}
      </ConfirmDialog>
    </div>
  );
}

/** Previous / next and "Page n of m" under the service cards; the filter above still searches every service. */
function Pager({ page, pageCount, total, onPage }: { page: number; pageCount: number; total: number; onPage: (n: number) => void }) {
  const go = (n: number) => {
    onPage(n);
    window.scrollTo({ top: 0 });
  };
  return (
    <nav aria-label="Virtual service pages" className="mt-4 flex items-center justify-end gap-3 text-sm" data-testid="vs-pager">
      <span aria-live="polite">
        Page {page} of {pageCount} · {total} services
      </span>
      <Button size="sm" variant="secondary" disabled={page <= 1} onClick={() => go(page - 1)} aria-label="Previous page of virtual services">
        Previous
      </Button>
      <Button size="sm" variant="secondary" disabled={page >= pageCount} onClick={() => go(page + 1)} aria-label="Next page of virtual services">
        Next
      </Button>
    </nav>
  );
}

const NO_HISTORY: number[] = [];
