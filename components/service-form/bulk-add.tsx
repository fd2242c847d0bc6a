'use client';
/**
 * Add many real servers at once: paste lines or CSV (name,address,port,weight), or clone another service's real
 * servers. Every line is checked first (bulk.ts) and its problems named by line; nothing is added until all are
 * right, so a paste of 300 never leaves 150 in the table.
 */
import { useDeferredValue, useMemo, useState } from 'react';
import { FOCUS, INPUT, SmallButton } from './controls';
import { cloneServers, parseBulk, type BulkLine } from './bulk';
import type { Draft } from './model';
import type { OtherService } from './real-servers';

const MAX_SERVERS = 1024;

export function BulkAdd({
  existing,
  others,
  isLayer7,
  onAdd,
}: {
  existing: Draft[];
  others: OtherService[];
  isLayer7: boolean;
  onAdd: (servers: Record<string, unknown>[]) => void;
}) {
  const [how, setHow] = useState<'paste' | 'clone'>('paste');
  const [text, setText] = useState('');
  const [from, setFrom] = useState('');
  const deferred = useDeferredValue(text);
  const known = useMemo(
    () =>
      existing
        .filter((r) => r.name || r.address)
        .map((r) => ({
          name: String(r.name).trim(),
          address: String(r.address).trim(),
          port: String(r.port ?? '').trim() === '' ? undefined : Number(r.port),
        })),
    [existing],
  );
  const lines = useMemo<BulkLine[]>(() => {
    if (how === 'paste') return parseBulk(deferred, known);
    const other = others.find((o) => o.id === from);
    return other ? cloneServers(other.realServers, known, isLayer7) : [];
  }, [how, deferred, from, others, known, isLayer7]);
  const bad = lines.filter((l) => l.problems.length > 0);
  const room = MAX_SERVERS - existing.length;
  const tooMany = lines.length > room;
  const canAdd = lines.length > 0 && bad.length === 0 && !tooMany;

  return (
    <div className="space-y-3 rounded-md border border-sky-200 bg-sky-50/50 p-3" role="group" aria-label="Add real servers in bulk">
      <fieldset className="flex flex-wrap gap-4 text-sm">
        <legend className="sr-only">How to add</legend>
        <label className="flex items-center gap-2">
          <input type="radio" name="bulk-how" checked={how === 'paste'} onChange={() => setHow('paste')} className={FOCUS} /> Paste lines or CSV
        </label>
        <label className="flex items-center gap-2">
          <input type="radio" name="bulk-how" checked={how === 'clone'} onChange={() => setHow('clone')} className={FOCUS} /> Clone from another service
        </label>
      </fieldset>
      {how === 'paste' ? (
        <div className="flex flex-col gap-1">
          <label htmlFor="bulk-text" className="text-sm font-medium text-slate-700">
            Real servers, one per line: name,address,port,weight
          </label>
          <textarea
            id="bulk-text"
            rows={8}
            value={text}
            onChange={(e) => setText(e.target.value)}
            spellCheck={false}
            aria-describedby="bulk-help bulk-status"
            placeholder={'sym-app-1,192.168.10.61,80,100\nsym-app-2,192.168.10.62,,50'}
            className={`${INPUT} font-mono`}
          />
          <p id="bulk-help" className="text-xs text-slate-500">
            Comma, tab (as copied from a spreadsheet) or spaces between values. Port and weight may be left out (the VIP’s port; weight 100). A first line of
            column names is skipped.
          </p>
        </div>
      ) : (
        <div className="flex max-w-md flex-col gap-1">
          <label htmlFor="bulk-from" className="text-sm font-medium text-slate-700">
            Service to copy the real servers of
          </label>
          <select id="bulk-from" value={from} onChange={(e) => setFrom(e.target.value)} aria-describedby="bulk-status" className={INPUT}>
            <option value="">Choose a service…</option>
            {others.map((o) => (
              <option key={o.id} value={o.id}>
                {o.name} ({o.realServers.length} real server{o.realServers.length === 1 ? '' : 's'})
              </option>
            ))}
          </select>
          <p className="text-xs text-slate-500">Copies each server with its weight, limits, backup flag and check settings.</p>
        </div>
      )}
      <BulkStatus lines={lines} bad={bad} tooMany={tooMany} room={room} />
      <div className="flex flex-wrap items-center gap-2">
        <SmallButton tone="primary" disabled={!canAdd} onClick={() => onAdd(lines.map((l) => l.server as Record<string, unknown>))}>
          {lines.length > 0 ? `Add ${lines.length} real server${lines.length === 1 ? '' : 's'}` : 'Add real servers'}
        </SmallButton>
        {!canAdd && lines.length > 0 && <span className="text-xs text-slate-600">Correct the lines above first; nothing has been added.</span>}
      </div>
    </div>
  );
}

function BulkStatus({ lines, bad, tooMany, room }: { lines: BulkLine[]; bad: BulkLine[]; tooMany: boolean; room: number }) {
  return (
    <div id="bulk-status" className="space-y-2 text-sm">
      <p aria-live="polite" data-testid="bulk-summary">
        {lines.length === 0
          ? 'Nothing to add yet.'
          : `${lines.length} real server${lines.length === 1 ? '' : 's'}: ${lines.length - bad.length} ready, ${bad.length} with problems.`}
      </p>
      {tooMany && (
        <p role="alert" className="font-medium text-red-700">
          A service takes at most 1024 real servers; there is room for {room} more.
        </p>
      )}
      {bad.length > 0 && (
        <ul role="alert" className="max-h-48 space-y-1 overflow-y-auto rounded-md border border-red-200 bg-white p-2" data-testid="bulk-problems">
          {bad.slice(0, 100).map((l) => (
            <li key={l.line} className="text-red-800">
              <span className="font-semibold">Line {l.line}</span> <code className="text-xs text-slate-600">{l.text}</code>: {l.problems.join(' ')}
            </li>
          ))}
          {bad.length > 100 && <li className="text-red-800">…and {bad.length - 100} more lines with problems.</li>}
        </ul>
      )}
    </div>
  );
}
