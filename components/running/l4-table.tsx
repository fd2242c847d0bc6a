'use client';
/**
 * The kernel's IPVS table as `ipvsadm -Ln --stats` shows it, with each service's owner (the Fulcrum virtual service,
 * or "-" for one Fulcrum did not make). The engine reads it (engine/daemon/views.ts, the model of `fulcrumctl show`);
 * where this machine cannot (no IPVS in the kernel), the reason is shown instead of an empty table.
 */
import { useState } from 'react';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { TableScroll } from '../ui/table';
import type { Polled } from './use-poll';

interface Stats {
  connections: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
}
interface Destination {
  address: string;
  port: number;
  forward: string;
  weight: number;
  activeConnections: number;
  inactiveConnections: number;
  stats?: Stats;
}
interface Service {
  family: number;
  protocol?: string;
  address?: string;
  port?: number;
  fwmark?: number;
  scheduler: string;
  flags: number;
  timeout: number;
  owner: string | null;
  stats?: Stats;
  destinations: Destination[];
}
export interface L4View extends Polled {
  isAvailable?: boolean;
  reason?: string;
  version?: string;
  connectionTableSize?: number;
  services?: Service[];
  text?: string[];
}

const FWD: Record<string, string> = { masq: 'Masq (NAT)', route: 'Route (DR)', tunnel: 'Tunnel', local: 'Local', bypass: 'Bypass' };
const ep = (a: string, p: number) => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
const num = (n: number | undefined) => (n === undefined ? '' : n.toLocaleString('en-GB'));

function Counters({ s }: { s?: Stats }) {
  return (
    <>
      {[s?.connections, s?.packetsIn, s?.packetsOut, s?.bytesIn, s?.bytesOut].map((n, i) => (
        <td key={i} className="text-right tabular-nums">
          {num(n)}
        </td>
      ))}
    </>
  );
}

export function L4Table({ view }: { view: L4View }) {
  const [isText, setText] = useState(false);
  if (!view.isAvailable) {
    return (
      <div data-testid="l4-unavailable" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
        <p className="font-medium">The IPVS table cannot be read on this machine.</p>
        <p className="mt-1">{view.reason}</p>
        <p className="mt-1 text-amber-900">
          Layer 4 services are accepted and validated here but not programmed; on an appliance whose kernel has IPVS this shows the live table.
        </p>
      </div>
    );
  }
  const services = view.services ?? [];
  const owned = services.filter((s) => s.owner).length;
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
        <p>
          IP Virtual Server version {view.version} (connection table size {num(view.connectionTableSize)}): {services.length} service
          {services.length === 1 ? '' : 's'}, {owned} owned by Fulcrum.
        </p>
        <Button size="sm" variant="secondary" aria-pressed={isText} onClick={() => setText(!isText)}>
          {isText ? 'Show as a table' : 'Show as ipvsadm text'}
        </Button>
      </div>
      {isText ? (
        <pre
          data-testid="l4-text"
          role="region"
          tabIndex={0}
          aria-label="The IPVS table as text"
          className="overflow-auto rounded-md bg-slate-950 p-3 text-xs text-slate-100"
        >
          {(view.text ?? []).join('\n')}
        </pre>
      ) : services.length === 0 ? (
        <p data-testid="l4-empty" className="text-sm text-slate-600">
          The kernel's IPVS table is empty: no layer 4 service runs on this machine.
        </p>
      ) : (
        <TableScroll label="The IPVS table" minWidth="48rem">
          <table data-testid="l4-table" className="w-full text-left text-xs">
            <thead className="uppercase text-slate-500">
              <tr>
                <th className="py-1">Service / real server</th>
                <th>Forward</th>
                <th className="text-right">Weight</th>
                <th className="text-right">Active</th>
                <th className="text-right">Inactive</th>
                <th className="text-right">Conns</th>
                <th className="text-right">In pkts</th>
                <th className="text-right">Out pkts</th>
                <th className="text-right">In bytes</th>
                <th className="text-right">Out bytes</th>
              </tr>
            </thead>
            {services.map((s) => {
              const id = s.fwmark !== undefined ? `FWM ${s.fwmark}` : `${(s.protocol ?? '').toUpperCase()} ${ep(s.address!, s.port!)}`;
              return (
                <tbody key={id} className="border-t-2 border-slate-200">
                  <tr className="bg-slate-50 font-medium">
                    <td className="py-1 font-mono">
                      {id}{' '}
                      <span className="font-sans font-normal text-slate-600">
                        {s.scheduler}
                        {s.flags & 1 ? `, persistent ${s.timeout} s` : ''}
                      </span>
                    </td>
                    <td colSpan={4}>{s.owner ? <Badge tone="sky">Fulcrum: {s.owner}</Badge> : <Badge tone="slate">not Fulcrum's</Badge>}</td>
                    <Counters s={s.stats} />
                  </tr>
                  {s.destinations.map((d) => (
                    <tr key={ep(d.address, d.port)} className="border-t border-slate-100">
                      <td className="py-1 pl-4 font-mono">→ {ep(d.address, d.port)}</td>
                      <td>{FWD[d.forward] ?? d.forward}</td>
                      <td className="text-right tabular-nums">
                        {d.weight}
                        {d.weight === 0 ? ' (no new)' : ''}
                      </td>
                      <td className="text-right tabular-nums">{num(d.activeConnections)}</td>
                      <td className="text-right tabular-nums">{num(d.inactiveConnections)}</td>
                      <Counters s={d.stats} />
                    </tr>
                  ))}
                </tbody>
              );
            })}
          </table>
        </TableScroll>
      )}
    </div>
  );
}
