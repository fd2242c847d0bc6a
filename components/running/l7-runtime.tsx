'use client';
/**
 * The layer 7 proxy's runtime, per service: where it listens, its pool with each real server's state (what the
 * operator set, what the checker found, and what the proxy does with it), and its stick table's size.
 */
import { Badge, type Tone } from '../ui/badge';
import { TableScroll } from '../ui/table';
import type { Polled } from './use-poll';

interface Server {
  name: string;
  address: string;
  port: number | null;
  weight: number;
  operator: string;
  health: string;
  disposition: string;
  isBackup: boolean;
  group: string | null;
  activeConnections: number | null;
}
interface Service {
  name: string;
  mode: string;
  status: string;
  message: string;
  listeners: string[];
  scheduler: string;
  persistence: string;
  isTls: boolean;
  servers: Server[];
  stickTables: { table: string; entries: number }[] | null;
}
export interface L7View extends Polled {
  services?: Service[];
}

const STATUS_TONE: Record<string, Tone> = { programmed: 'green', failed: 'red', removed: 'slate', 'not-programmed': 'amber' };
const DISPOSITION: Record<string, [Tone, string]> = {
  serve: ['green', 'takes new clients'],
  quiesce: ['amber', 'draining: no new clients'],
  remove: ['red', 'out of service'],
};
const HEALTH_TONE: Record<string, Tone> = { up: 'green', down: 'red', unknown: 'slate' };

function ServiceCard({ s }: { s: Service }) {
  return (
    <section data-testid={`l7-service-${s.name}`} aria-label={`Layer 7 service ${s.name}`} className="rounded-md border border-slate-200">
      <header className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-slate-50 px-3 py-2 text-sm">
        <span className="font-semibold">{s.name}</span>
        <Badge tone={STATUS_TONE[s.status] ?? 'slate'}>{s.status}</Badge>
        <span className="text-slate-600">
          {s.mode.toUpperCase()}
          {s.isTls ? ' over TLS' : ''}, scheduler {s.scheduler}, persistence {s.persistence}
        </span>
      </header>
      <div className="space-y-2 p-3 text-sm">
        <p>
          <span className="text-slate-500">Listeners: </span>
          {s.listeners.length ? (
            s.listeners.map((l) => (
              <span key={l} data-testid="l7-listener" className="mr-2 font-mono">
                {l}
              </span>
            ))
          ) : (
            <span>none ({s.message})</span>
          )}
        </p>
        <p>
          <span className="text-slate-500">Stick table: </span>
          {s.stickTables === null
            ? 'not counted (the proxy runs in-process)'
            : s.stickTables.length === 0
              ? s.persistence === 'http-cookie'
                ? 'none: the inserted cookie names the server'
                : 'none'
              : s.stickTables.map((t) => (
                  <span key={t.table} data-testid="l7-stick" className="mr-2">
                    <span className="font-mono">{t.table}</span>: {t.entries} entr{t.entries === 1 ? 'y' : 'ies'}
                  </span>
                ))}
        </p>
        <TableScroll label={`The pool of ${s.name}`} minWidth="40rem">
          <table data-testid="l7-pool" className="w-full text-left text-xs">
            <thead className="uppercase text-slate-500">
              <tr>
                <th className="py-1">Real server</th>
                <th>Address</th>
                <th>Operator</th>
                <th>Health</th>
                <th>Proxy</th>
                <th className="text-right">Weight</th>
                <th className="text-right">Active</th>
              </tr>
            </thead>
            <tbody>
              {s.servers.map((x) => {
                const [tone, words] = DISPOSITION[x.disposition] ?? ['slate', x.disposition];
                return (
                  <tr key={x.name} className="border-t border-slate-100">
                    <td className="py-1 font-medium">
                      {x.name}
                      {x.isBackup ? ' (backup)' : ''}
                      {x.group ? ` [${x.group}]` : ''}
                    </td>
                    <td className="font-mono">
                      {x.address}
                      {x.port !== null ? `:${x.port}` : ''}
                    </td>
                    <td>{x.operator}</td>
                    <td>
                      <Badge tone={HEALTH_TONE[x.health] ?? 'slate'}>{x.health}</Badge>
                    </td>
                    <td>
                      <Badge tone={tone}>{words}</Badge>
                    </td>
                    <td className="text-right tabular-nums">{x.weight}</td>
                    <td className="text-right tabular-nums">{x.activeConnections ?? '–'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableScroll>
      </div>
    </section>
  );
}

export function L7Runtime({ view }: { view: L7View }) {
  const services = view.services ?? [];
  if (services.length === 0)
    return (
      <p data-testid="l7-empty" className="text-sm text-slate-600">
        No layer 7 service runs: none is in the running configuration.
      </p>
    );
  return (
    <div className="space-y-4">
      {services.map((s) => (
        <ServiceCard key={s.name} s={s} />
      ))}
    </div>
  );
}
