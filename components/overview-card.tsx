'use client';
/**
 * One virtual service's card on the overview: its VIP, scheduler, persistence, active connections, and a row per real
 * server with its operator state, health (RealServerHealth: colour, words, sentence, since, latency, history), traffic
 * and the operator's actions; its graphs when opened. Memoised: a live 'stats' or 'health' event re-renders only the
 * cards whose service's status (or connection history) it changed, not the whole page.
 */
import Link from 'next/link';
import { memo, useMemo } from 'react';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';
import { Card } from './ui/card';
import { Sparkline } from './sparkline';
import { ServiceGraphs } from './graphs/service-graphs';
import { RealServerHealth } from './real-server-health';
import type { OperatorState, RealServer, ServiceStatus, VirtualService } from './overview-types';

const stateTone: Record<string, Tone> = { online: 'green', drain: 'amber', halt: 'red' };
const resultTone: Record<string, Tone> = { programmed: 'green', 'not-programmed': 'amber', failed: 'red', removed: 'slate' };

export const STATE_TEXT = {
  online: { title: 'Bring online', body: 'It will take new connections again at its configured weight.', tone: 'primary' as const },
  drain: { title: 'Drain', body: 'It takes no new connections; open connections and persistent clients continue until they finish.', tone: 'warning' as const },
  halt: { title: 'Halt', body: 'It is taken out of service now: open connections are cut.', tone: 'danger' as const },
};

export type StateRequest = { rs: RealServer; vs: VirtualService; state: OperatorState };

type Props = {
  vs: VirtualService;
  /** The engine's status of this service; undefined when the engine runs no such service (not applied). */
  st: ServiceStatus | undefined;
  /** Active connections over the last 'stats' events. */
  history: number[];
  isGraphsOpen: boolean;
  canState: boolean;
  canWrite: boolean;
  onToggleGraphs: (vsId: string) => void;
  onState: (r: StateRequest) => void;
  onDelete: (vs: VirtualService) => void;
};

export const ServiceCard = memo(function ServiceCard({ vs, st, history, isGraphsOpen, canState, canWrite, onToggleGraphs, onState, onDelete }: Props) {
  const serverStatus = useMemo(() => new Map((st?.realServers ?? []).map((r) => [r.name, r])), [st]);
  return (
    <Card
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
          <Button variant="secondary" aria-expanded={isGraphsOpen} aria-controls={`graphs-${vs.id}`} onClick={() => onToggleGraphs(vs.id)}>
            {isGraphsOpen ? 'Hide graphs' : 'Graphs'}
          </Button>
          {canWrite && (
            <>
              <Link href={`/virtual-services/${vs.id}`} className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm hover:bg-slate-100">
                Edit
              </Link>
              <Button variant="secondary" onClick={() => onDelete(vs)}>
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
          <Sparkline values={history} label="Active connections" />
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
              const rst = serverStatus.get(rs.name);
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
                            onClick={() => onState({ rs, vs, state: s })}
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
      {isGraphsOpen && (
        <div id={`graphs-${vs.id}`}>
          <ServiceGraphs vsId={vs.id} vsName={vs.name} layer={vs.layer} realServers={vs.realServers} />
        </div>
      )}
    </Card>
  );
});
