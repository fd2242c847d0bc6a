'use client';
/** Failover history: this node's VRRP state changes and keepalived events, newest first, live. */
import { useCallback, useEffect, useState } from 'react';
import { api } from '../api-client';
import { useLiveEvents } from '../live';
import { Badge, type Tone } from '../ui/badge';
import { Card } from '../ui/card';
import { when } from './types';

type Row = { id: number; at: string; node: string | null; kind: string; instance: string | null; state: string; previous: string | null; message: string };

const TONE: Record<string, Tone> = {
  MASTER: 'green',
  BACKUP: 'sky',
  FAULT: 'red',
  STOP: 'slate',
  started: 'green',
  exited: 'red',
  on: 'amber',
  off: 'slate',
  master: 'green',
  backup: 'sky',
};

export function HistoryCard() {
  const [items, setItems] = useState<Row[] | null>(null);
  const load = useCallback(
    () =>
      api<{ items: Row[] }>('GET', '/ha/history?limit=50')
        .then((r) => setItems(r.items))
        .catch(() => setItems([])),
    [],
  );
  useEffect(() => void load(), [load]);
  useLiveEvents(['engine'], (e) => {
    if (e.event?.type === 'ha') setTimeout(load, 200);
  });
  return (
    <Card title="Failover history">
      <table className="w-full text-left text-sm">
        <thead className="text-xs uppercase text-slate-500">
          <tr>
            <th className="py-1">When</th>
            <th>Node</th>
            <th>Event</th>
            <th>State</th>
            <th>What happened</th>
          </tr>
        </thead>
        <tbody>
          {(items ?? []).map((r) => (
            <tr key={r.id} className="border-t border-slate-100 align-top">
              <td className="whitespace-nowrap py-1.5 text-xs">{when(r.at)}</td>
              <td className="text-xs">{r.node ?? '—'}</td>
              <td className="text-xs">
                {r.kind}
                {r.instance ? ` ${r.instance}` : ''}
              </td>
              <td>
                <Badge tone={TONE[r.state] ?? 'slate'}>{r.previous ? `${r.previous} → ${r.state}` : r.state}</Badge>
              </td>
              <td className="text-xs text-slate-700">{r.message}</td>
            </tr>
          ))}
          {items?.length === 0 && (
            <tr>
              <td colSpan={5} className="py-2 text-slate-600">
                No VRRP state changes recorded on this node yet (they appear here as keepalived reports them).
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </Card>
  );
}
