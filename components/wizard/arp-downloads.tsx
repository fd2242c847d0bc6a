'use client';
/** Solving the ARP problem: per real server of a DR service, the script and instructions for Windows and Linux. */
import { useState } from 'react';
import { InterfaceNamesSchema } from '@/lib/wizard/arp-scripts.ts';
import { Field, Input } from '../ui/field';
import type { ServiceObject } from './types';

export function ArpDownloads({ runId, services }: { runId: string; services: ServiceObject[] }) {
  const [names, setNames] = useState({ linuxLan: 'eth0', windowsLan: 'Ethernet', windowsLoopback: 'loopback' });
  const dr = services.filter((s) => s.layer === 4 && (s.mode === 'dr' || s.mode === 'tun'));
  if (!dr.length) return null;
  // The same schema the download route parses with: a name it would refuse is refused here, at its field.
  const checked = InterfaceNamesSchema.safeParse(names);
  const err: Record<string, string> = {};
  if (!checked.success) for (const i of checked.error.issues) err[String(i.path[0])] ??= i.message;
  const q = (os: string, format: string) =>
    `?${new URLSearchParams({ os, format, ...(os === 'linux' ? { linuxLan: names.linuxLan } : { windowsLan: names.windowsLan, windowsLoopback: names.windowsLoopback }) })}`;
  const link = 'rounded-md border border-slate-300 bg-white px-2.5 py-1 text-xs font-medium hover:bg-slate-100';
  return (
    <section aria-labelledby="arp-title" className="space-y-3" data-testid="arp-downloads">
      <h3 id="arp-title" className="text-base font-semibold">
        Solving the ARP problem on each real server
      </h3>
      <p className="text-sm text-slate-700">
        In DR mode each real server must own the VIP ({dr.map((s) => s.address).join(', ')}) and must not answer ARP requests for it: only this appliance does.
        Run the script on each server before you apply. Give the interface names your servers use.
      </p>
      <div className="grid gap-3 md:grid-cols-3">
        <Field label="Linux: LAN interface" error={err.linuxLan}>
          {(p) => <Input {...p} value={names.linuxLan} onChange={(e) => setNames({ ...names, linuxLan: e.target.value })} />}
        </Field>
        <Field label="Windows: LAN adapter name" error={err.windowsLan}>
          {(p) => <Input {...p} value={names.windowsLan} onChange={(e) => setNames({ ...names, windowsLan: e.target.value })} />}
        </Field>
        <Field label="Windows: loopback adapter name" error={err.windowsLoopback}>
          {(p) => <Input {...p} value={names.windowsLoopback} onChange={(e) => setNames({ ...names, windowsLoopback: e.target.value })} />}
        </Field>
      </div>
      {!checked.success && <p className="text-sm text-amber-900">Correct the names above to download the scripts.</p>}
      <table className="w-full text-left text-sm">
        <thead className="text-xs uppercase text-slate-500">
          <tr>
            <th className="py-1">Real server</th>
            <th>Linux</th>
            <th>Windows Server</th>
          </tr>
        </thead>
        <tbody>
          {dr.flatMap((s) =>
            s.realServers.map((rs) => {
              if (!checked.success) return [];
              const base = `/api/v1/wizard/runs/${encodeURIComponent(runId)}/arp/${encodeURIComponent(rs.name)}`;
              return (
                <tr key={`${s.name}/${rs.name}`} className="border-t border-slate-100">
                  <td className="py-2 font-medium">
                    {rs.name} <span className="font-mono text-xs text-slate-500">{rs.address}</span>
                  </td>
                  <td className="space-x-2">
                    <a className={link} href={base + q('linux', 'script')} download>
                      Script (.sh) for {rs.name}
                    </a>
                    <a className={link} href={base + q('linux', 'instructions')} download>
                      Instructions
                    </a>
                  </td>
                  <td className="space-x-2">
                    <a className={link} href={base + q('windows', 'script')} download>
                      Script (.ps1) for {rs.name}
                    </a>
                    <a className={link} href={base + q('windows', 'instructions')} download>
                      Instructions
                    </a>
                  </td>
                </tr>
              );
            }),
          )}
        </tbody>
      </table>
    </section>
  );
}
