'use client';
import Link from 'next/link';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, type ApiCallError } from './api-client';
import { useLiveEvents } from './live';
import { useCan } from './session';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { ConfirmDialog } from './ui/confirm';
import { Sparkline } from './sparkline';
import { ServiceGraphs } from './graphs/service-graphs';
import { RealServerHealth, type CheckStatus } from './real-server-health';

type RealServer = {
  id: string;
  name: string;
  address: string;
  port?: number;
  weight: number;
  state: 'online' | 'drain' | 'halt';
  isBackup: boolean;
  version: number;
};
type VirtualService = {
  id: string;
  name: string;
  layer: 4 | 7;
  mode: string;
  protocol: string;
  address: string;
  ports: (number | string)[];
  scheduler: string;
  persistence: { type: string };
  healthCheck?: { type: string };
  realServers: RealServer[];
  version: number;
  description?: string;
};
type ServerStatus = {
  name: string;
  operator: string;
  health: string;
  decision: { disposition: string; weight: number };
  counters?: { activeConnections: number; totalConnections: number; bytesIn: number; bytesOut: number; requests?: number };
  check?: CheckStatus;
};
/** engine/api-types.ts HealthTransitionEvent. */
type HealthEvent = {
  type: 'health';
  at: string;
  virtualService: string;
  realServer: string;
  previous: string;
  health: string;
  code: string;
  message: string;
  durationMs: number;
  check: string;
  target: string;
};
type ServiceStatus = {
  name: string;
  layer: number;
  status: string;
  message: string;
  counters?: { activeConnections: number; totalConnections: number };
  realServers: ServerStatus[];
};
/** What the console's engine supervisor concluded (lib/engine-supervisor.ts). */
type Supervisor = { kind: 'running' | 'starting' | 'not-answering' | 'unreachable'; pid?: number; since?: string; reason?: string };
const SUPERVISOR_TEXT: Record<Supervisor['kind'], (s: Supervisor) => string | null> = {
  running: () => null,
  starting: () => 'The console is starting the engine.',
  'not-answering': (s) =>
    `The engine (process ${s.pid}) is running but not answering: it may be paused or stuck. The console does not start a second one; check the engine's log (engine.log in the data directory).`,
  unreachable: (s) => `The engine does not answer and this console may not start one (${s.reason}).`,
};

type Status = {
  isInSync: boolean | null;
  engine: {
    isReachable: boolean;
    error: { message: string } | null;
    supervisor?: Supervisor | null;
    status: {
      running: { version: number; hash: string; appliedAt: string } | null;
      capabilities: { dataPlane: string; isAvailable: boolean; reason?: string }[];
      services: ServiceStatus[];
    } | null;
  };
  lastApply: {
    id: number;
    status: string;
    author: string;
    createdAt: string;
    result: { results?: { name: string; status: string; message: string }[]; error?: { message: string } } | null;
  } | null;
};

/** Service cards per page of the overview. */
const PAGE_SIZE = 25;

const stateTone: Record<string, Tone> = { online: 'green', drain: 'amber', halt: 'red' };
const resultTone: Record<string, Tone> = { programmed: 'green', 'not-programmed': 'amber', failed: 'red', removed: 'slate' };

const STATE_TEXT = {
  online: { title: 'Bring online', body: 'It will take new connections again at its configured weight.', tone: 'primary' as const },
  drain: { title: 'Drain', body: 'It takes no new connections; open connections and persistent clients continue until they finish.', tone: 'warning' as const },
  halt: { title: 'Halt', body: 'It is taken out of service now: open connections are cut.', tone: 'danger' as const },
};

export function Overview() {
  const [services, setServices] = useState<VirtualService[] | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [confirm, setConfirm] = useState<{ rs: RealServer; vs: VirtualService; state: 'online' | 'drain' | 'halt' } | null>(null);
  const [deleting, setDeleting] = useState<VirtualService | null>(null);
  const [isBusy, setBusy] = useState(false);
  const [filter, setFilter] = useState('');
  const [page, setPage] = useState(1);
  /** Services whose graphs are open (every role may read them). */
  const [graphsOpen, setGraphsOpen] = useState<ReadonlySet<string>>(new Set());
  const history = useRef(new Map<string, number[]>());
  const [, tick] = useState(0);
  const canState = useCan('server:state');
  const canWrite = useCan('config:write');
  /** On the secondary of an HA pair the API refuses edits (HA_SECONDARY_READ_ONLY): the primary's name, to say so. */
  const [primaryName, setPrimaryName] = useState<string | null>(null);
  useEffect(() => {
    api<{ pair: { role: string; peerName: string } | null }>('GET', '/ha')
      .then((v) => setPrimaryName(v.pair?.role === 'secondary' ? v.pair.peerName : null))
      .catch(() => undefined);
  }, []);

  const load = useCallback(async () => {
    try {
      const [vs, st] = await Promise.all([api<{ items: VirtualService[] }>('GET', '/virtual-services'), api<Status>('GET', '/status')]);
      setServices(vs.items);
      setStatus(st);
      setError(null);
    } catch (e) {
      setError(e as ApiCallError);
    }
  }, []);
  useEffect(() => void load(), [load]);

  useLiveEvents(['engine', 'candidate-changed', 'engine-connection'], (e) => {
    if (e.type === 'engine' && e.event?.type === 'stats') {
      for (const s of e.event.services as ServiceStatus[]) {
        const h = history.current.get(s.name) ?? [];
        h.push(s.counters?.activeConnections ?? s.realServers.reduce((a, r) => a + (r.counters?.activeConnections ?? 0), 0));
        history.current.set(s.name, h.slice(-60));
      }
      setStatus((cur) =>
        cur && cur.engine.status
          ? { ...cur, engine: { ...cur.engine, status: { ...cur.engine.status, services: keepNewerHealth(cur.engine.status.services, e.event.services) } } }
          : cur,
      );
      tick((n) => n + 1);
    } else if (e.type === 'engine' && e.event?.type === 'health') {
      // At once, from the event itself: the next 'stats' event (up to 2 s away) would only confirm it.
      const h = e.event as HealthEvent;
      setStatus((cur) =>
        cur && cur.engine.status
          ? { ...cur, engine: { ...cur.engine, status: { ...cur.engine.status, services: withTransition(cur.engine.status.services, h) } } }
          : cur,
      );
    } else void load();
  });

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

  const engine = status?.engine;
  const running = engine?.status?.running;
  // 1,000 services × 4 servers at once take seconds to render: the filter searches them all, a page shows PAGE_SIZE.
  const matching = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return (services ?? []).filter(
      (vs) => !f || [vs.name, vs.address, vs.description ?? '', ...vs.realServers.flatMap((r) => [r.name, r.address])].some((x) => x.toLowerCase().includes(f)),
    );
  }, [services, filter]);
  const pageCount = Math.max(1, Math.ceil(matching.length / PAGE_SIZE));
  const currentPage = Math.min(page, pageCount);
  const shown = matching.slice((currentPage - 1) * PAGE_SIZE, currentPage * PAGE_SIZE);
  const statusByName = useMemo(() => new Map((engine?.status?.services ?? []).map((s) => [s.name, s])), [engine?.status?.services]);
  return (
    <div>
      <PageTitle sub="Virtual services, their real servers and what the engine is running.">Overview</PageTitle>
      <ErrorBox error={error?.body} />
      {status?.isInSync === false && (
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
              {engine.status!.capabilities.map((c) => (
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
          {status?.lastApply ? (
            <div className="text-sm">
              <p>
                Version {status.lastApply.id} by {status.lastApply.author}:{' '}
                <Badge tone={status.lastApply.status === 'applied' ? 'green' : 'red'}>{status.lastApply.status}</Badge>
              </p>
              {status.lastApply.result?.error && <p className="mt-1 text-xs text-red-800">{status.lastApply.result.error.message}</p>}
            </div>
          ) : (
            <p className="text-sm text-slate-600">No apply yet.</p>
          )}
        </Card>
      </div>

      <div className="mb-3 flex items-center justify-between">
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
          className="ml-auto mr-3 w-72 max-w-[50%] rounded-md border border-slate-300 bg-white px-3 py-2 text-sm"
        />
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
      {services?.length === 0 && (
        <Card>
          <p className="text-sm text-slate-600">No virtual services yet. {canWrite ? 'Create one to put a clinical system behind a virtual IP.' : ''}</p>
        </Card>
      )}
      <div className="space-y-4">
        {shown.map((vs) => {
          const st = statusByName.get(vs.name);
          return (
            <Card
              key={vs.id}
              title={
                <span className="flex flex-wrap items-center gap-2">
                  <span data-testid="vs-name">{vs.name}</span>
                  <Badge tone="sky">
                    L{vs.layer} {vs.mode.toUpperCase()}
                  </Badge>
                  {st ? (
                    <Badge tone={resultTone[st.status] ?? 'slate'} title={st.message}>
                      {st.status}
                    </Badge>
                  ) : (
                    <Badge tone="slate">not applied</Badge>
                  )}
                </span>
              }
              actions={
                <>
                  <Button
                    variant="secondary"
                    aria-expanded={graphsOpen.has(vs.id)}
                    aria-controls={`graphs-${vs.id}`}
                    onClick={() =>
                      setGraphsOpen((cur) => {
                        const n = new Set(cur);
                        if (!n.delete(vs.id)) n.add(vs.id);
                        return n;
                      })
                    }
                  >
                    {graphsOpen.has(vs.id) ? 'Hide graphs' : 'Graphs'}
                  </Button>
                  {canWrite && (
                    <>
                      <Link href={`/virtual-services/${vs.id}`} className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm hover:bg-slate-100">
                        Edit
                      </Link>
                      <Button variant="secondary" onClick={() => setDeleting(vs)}>
                        Delete
                      </Button>
                    </>
                  )}
                </>
              }
            >
              <div className="mb-3 flex flex-wrap items-center gap-x-6 gap-y-1 text-sm text-slate-700">
                <span>
                  <span className="text-slate-500">VIP</span>{' '}
                  <span className="font-mono">
                    {vs.address}:{vs.ports.join(',')}
                  </span>{' '}
                  {vs.protocol}
                </span>
                <span>
                  <span className="text-slate-500">Scheduler</span> {vs.scheduler}
                </span>
                <span>
                  <span className="text-slate-500">Persistence</span> {vs.persistence.type}
                </span>
                <span className="inline-flex items-center gap-2">
                  <span className="text-slate-500">Active connections</span>
                  <Sparkline values={history.current.get(vs.name) ?? []} label="Active connections" />
                </span>
              </div>
              {st && st.status !== 'programmed' && <p className="mb-3 text-xs text-amber-900">{st.message}</p>}
              <div className="overflow-x-auto">
                <table className="w-full min-w-[40rem] text-left text-sm">
                  <thead className="text-xs uppercase text-slate-500">
                    <tr>
                      <th className="py-1.5">Real server</th>
                      <th>Address</th>
                      <th>Weight</th>
                      <th>Operator</th>
                      <th>Health</th>
                      <th>Traffic</th>
                      <th className="text-right">Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {vs.realServers.map((rs) => {
                      const rst = st?.realServers.find((r) => r.name === rs.name);
                      return (
                        <tr key={rs.id} className="border-t border-slate-100" data-testid={`rs-${rs.name}`}>
                          <td className="py-2 font-medium">
                            {rs.name}
                            {rs.isBackup && <span className="ml-1 text-xs text-slate-500">(backup)</span>}
                          </td>
                          <td className="font-mono text-xs">
                            {rs.address}
                            {rs.port ? `:${rs.port}` : ''}
                          </td>
                          <td>{rs.weight}</td>
                          <td>
                            <Badge tone={stateTone[rs.state]}>{rs.state}</Badge>
                          </td>
                          <td>
                            <RealServerHealth
                              rsId={rs.id}
                              name={rs.name}
                              service={vs.name}
                              health={rst?.health}
                              check={rst?.check}
                              isCheckOff={vs.healthCheck?.type === 'none'}
                            />
                          </td>
                          <td className="font-mono text-xs">
                            {rst?.counters
                              ? `${rst.counters.activeConnections} active · ${rst.counters.requests !== undefined ? `${rst.counters.requests} requests` : `${rst.counters.totalConnections} total`}`
                              : '–'}
                          </td>
                          <td className="space-x-1 text-right whitespace-nowrap">
                            {canState &&
                              (['online', 'drain', 'halt'] as const)
                                .filter((s) => s !== rs.state)
                                .map((s) => (
                                  <Button
                                    key={s}
                                    size="sm"
                                    variant={s === 'halt' ? 'danger' : s === 'drain' ? 'warning' : 'secondary'}
                                    onClick={() => setConfirm({ rs, vs, state: s })}
                                  >
                                    {STATE_TEXT[s].title}
                                  </Button>
                                ))}
                          </td>
                        </tr>
                      );
                    })}
                    {vs.realServers.length === 0 && (
                      <tr>
                        <td colSpan={7} className="py-2 text-slate-500">
                          No real servers.
                        </td>
                      </tr>
                    )}
                  </tbody>
                </table>
              </div>
              {graphsOpen.has(vs.id) && (
                <div id={`graphs-${vs.id}`}>
                  <ServiceGraphs vsId={vs.id} vsName={vs.name} layer={vs.layer} realServers={vs.realServers} />
                </div>
              )}
            </Card>
          );
        })}
      </div>
      {pageCount > 1 && <Pager page={currentPage} pageCount={pageCount} total={matching.length} onPage={setPage} />}
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

/** One server's row updated from a health event: its health, and the check's last result (the transition's). */
function withTransition(services: ServiceStatus[], h: HealthEvent): ServiceStatus[] {
  return services.map((s) =>
    s.name !== h.virtualService
      ? s
      : {
          ...s,
          realServers: s.realServers.map((r) =>
            r.name !== h.realServer
              ? r
              : {
                  ...r,
                  health: h.health,
                  check: {
                    ...r.check,
                    type: h.check,
                    target: h.target,
                    health: h.health,
                    since: h.at,
                    code: h.code,
                    message: h.message,
                    durationMs: h.durationMs,
                    lastCheckAt: h.at,
                  },
                },
          ),
        },
  );
}

/**
 * A 'stats' event is a snapshot taken a moment before it is sent: one taken before a transition the browser already
 * shows must not put the old health back for two seconds. A server keeps the newer of the two.
 */
function keepNewerHealth(current: ServiceStatus[], incoming: ServiceStatus[]): ServiceStatus[] {
  return incoming.map((s) => {
    const cur = current.find((c) => c.name === s.name);
    if (!cur) return s;
    return {
      ...s,
      realServers: s.realServers.map((r) => {
        const mine = cur.realServers.find((c) => c.name === r.name)?.check;
        return mine && r.check && Date.parse(mine.since) > Date.parse(r.check.since) ? { ...r, health: mine.health, check: mine } : r;
      }),
    };
  });
}
