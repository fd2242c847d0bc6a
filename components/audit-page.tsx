'use client';
import { Fragment, useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type ApiCallError } from './api-client';
import { useLiveEvents } from './live';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input, Select } from './ui/field';

type Event = {
  id: number;
  at: string;
  actor: string;
  actorRole: string | null;
  sourceAddress: string;
  action: string;
  objectType: string;
  objectId: string | null;
  before: unknown;
  after: unknown;
  outcome: string;
  message: string | null;
  requestId: string;
  /** The object by name, a sentence, the before/after in words (lib/config/audit-words.ts). */
  words?: { objectName: string | null; summary: string; changes: string[] };
};
const outcomeTone: Record<string, Tone> = { success: 'green', denied: 'red', invalid: 'amber', failed: 'red' };
type ChainReport = {
  isIntact: boolean;
  checked: number;
  firstBroken?: { id: number; kind: string; reason: string };
  problems?: { id: number; kind: string; reason: string }[];
  seal?: { sinks: string[]; checkpoints: number; newest: { id: number; at: string } | null };
  warnings?: string[];
};

/** The chain's verdict: which row and how when broken, and what the checkpoints outside the appliance cover. */
function ChainVerdict({ verify }: { verify: ChainReport }) {
  const sealed = verify.seal?.newest;
  return (
    <div className="space-y-1">
      {verify.isIntact ? (
        <div data-testid="audit-verify" className="rounded-md border border-emerald-300 bg-emerald-50 px-3 py-2 text-sm text-emerald-900">
          ✓ Chain intact: {verify.checked} events verified
          {sealed ? `, sealed outside the appliance up to event ${sealed.id} (${new Date(sealed.at).toLocaleString('en-GB')})` : ''}.
        </div>
      ) : (
        <div data-testid="audit-verify" role="alert" className="rounded-md border border-red-400 bg-red-50 px-3 py-2 text-sm font-medium text-red-900">
          ✗ The audit trail has been tampered with: {verify.firstBroken?.reason}.
          {(verify.problems?.length ?? 0) > 1 && (
            <ul className="mt-1 list-disc pl-5 font-normal">
              {verify.problems!.slice(1, 6).map((p, i) => (
                <li key={i}>{p.reason}</li>
              ))}
              {verify.problems!.length > 6 && <li>and {verify.problems!.length - 6} more</li>}
            </ul>
          )}
        </div>
      )}
      {verify.warnings?.map((w) => (
        <p key={w} className="rounded-md border border-amber-300 bg-amber-50 px-3 py-1 text-xs text-amber-900">
          {w}
        </p>
      ))}
    </div>
  );
}

/** Before/after of an event as changed lines only, so a reviewer sees what moved. */
function BeforeAfter({ before, after }: { before: unknown; after: unknown }) {
  const flat = (v: unknown, prefix = '', out: Record<string, string> = {}) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flat(x, prefix ? `${prefix}.${k}` : k, out);
    else if (v !== undefined && v !== null) out[prefix || '(value)'] = JSON.stringify(v);
    return out;
  };
  const a = flat(before);
  const b = flat(after);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const changed = keys.filter((k) => a[k] !== b[k]);
  if (changed.length === 0) return <p className="text-xs text-slate-500">No before/after recorded.</p>;
  return (
    <table className="w-full font-mono text-xs" data-testid="audit-diff">
      <tbody>
        {changed.map((k) => (
          <tr key={k} className="align-top">
            <td className="w-1/4 py-0.5 pr-3 text-slate-600">{k}</td>
            <td>
              {a[k] !== undefined && <div className="break-all text-red-800">− {a[k]}</div>}
              {b[k] !== undefined && <div className="break-all text-emerald-800">+ {b[k]}</div>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function AuditPage() {
  const [filters, setFilters] = useState({ actor: '', action: '', objectType: '', outcome: '', from: '', to: '' });
  const [applied, setApplied] = useState(filters);
  const [items, setItems] = useState<Event[]>([]);
  const [cursors, setCursors] = useState<(number | null)[]>([null]);
  const [next, setNext] = useState<number | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [verify, setVerify] = useState<ChainReport | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);

  const query = useCallback((f: typeof filters, extra: Record<string, string> = {}) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) q.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
    for (const [k, v] of Object.entries(extra)) q.set(k, v);
    return q.toString();
  }, []);

  const load = useCallback(
    async (cursor: number | null) => {
      try {
        const r = await api<{ items: Event[]; nextCursor: number | null }>(
          'GET',
          `/audit?${query(applied, cursor ? { cursor: String(cursor), limit: '25' } : { limit: '25' })}`,
        );
        setItems(r.items);
        setNext(r.nextCursor);
        setError(null);
      } catch (e) {
        setError(e as ApiCallError);
      }
    },
    [applied, query],
  );
  useEffect(() => void load(cursors[cursors.length - 1]), [load, cursors]);
  useEffect(
    () =>
      void api('GET', '/audit/verify')
        .then(setVerify)
        .catch(() => undefined),
    [],
  );
  useLiveEvents(['audit'], () => cursors.length === 1 && void load(null));

  function submit(e: FormEvent) {
    e.preventDefault();
    setApplied(filters);
    setCursors([null]);
  }
  const set = (k: keyof typeof filters, v: string) => setFilters((f) => ({ ...f, [k]: v }));
  return (
    <div className="space-y-5">
      <PageTitle sub="Every change, every refusal and every apply: who, from where, what before and after. Each row is chained to the one before under a key, and the chain's head is sealed outside the appliance, so an altered, inserted, deleted or cut row shows.">
        Audit log
      </PageTitle>
      {verify && <ChainVerdict verify={verify} />}
      <ErrorBox error={error?.body} />
      <Card title="Filter">
        <form onSubmit={submit} className="grid gap-3 md:grid-cols-3 lg:grid-cols-6">
          <Field label="Actor">{(p) => <Input {...p} name="actor" value={filters.actor} onChange={(e) => set('actor', e.target.value)} />}</Field>
          <Field label="Action starts with">
            {(p) => <Input {...p} name="action" value={filters.action} onChange={(e) => set('action', e.target.value)} placeholder="real-server" />}
          </Field>
          <Field label="Object type">
            {(p) => <Input {...p} name="objectType" value={filters.objectType} onChange={(e) => set('objectType', e.target.value)} />}
          </Field>
          <Field label="Outcome">
            {(p) => (
              <Select {...p} name="outcome" value={filters.outcome} onChange={(e) => set('outcome', e.target.value)}>
                <option value="">any</option>
                <option>success</option>
                <option>denied</option>
                <option>invalid</option>
                <option>failed</option>
              </Select>
            )}
          </Field>
          <Field label="From">
            {(p) => <Input {...p} type="datetime-local" name="from" value={filters.from} onChange={(e) => set('from', e.target.value)} />}
          </Field>
          <Field label="To">{(p) => <Input {...p} type="datetime-local" name="to" value={filters.to} onChange={(e) => set('to', e.target.value)} />}</Field>
          <div className="flex flex-wrap gap-2 md:col-span-3 lg:col-span-6">
            <Button type="submit">Filter</Button>
            <a
              className="rounded-md border border-slate-300 bg-white px-4 py-2 text-sm hover:bg-slate-100"
              href={`/api/v1/audit/export?${query(applied, { format: 'csv' })}`}
            >
              Export CSV
            </a>
            <a
              className="rounded-md border border-slate-300 bg-white px-4 py-2 text-sm hover:bg-slate-100"
              href={`/api/v1/audit/export?${query(applied, { format: 'json' })}`}
            >
              Export JSON
            </a>
          </div>
        </form>
      </Card>
      <Card>
        <div className="overflow-x-auto">
          <table className="w-full min-w-[52rem] text-left text-sm [&_td]:px-2 [&_th]:px-2" data-testid="audit-table">
            <thead className="text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1">#</th>
                <th>When</th>
                <th>Actor</th>
                <th>From</th>
                <th>Action</th>
                <th>Object</th>
                <th>Outcome</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <Fragment key={e.id}>
                  <tr className="border-t border-slate-100 align-top">
                    <td className="py-1.5 font-mono text-xs text-slate-500">{e.id}</td>
                    <td className="whitespace-nowrap">{new Date(e.at).toLocaleString('en-GB')}</td>
                    <td>
                      {e.actor}
                      {e.actorRole && <span className="text-xs text-slate-500"> ({e.actorRole})</span>}
                    </td>
                    <td className="font-mono text-xs">{e.sourceAddress}</td>
                    <td>
                      <span className="font-medium">{e.words?.summary ?? e.action}</span>
                      <span className="block font-mono text-xs text-slate-500">{e.action}</span>
                    </td>
                    <td className="text-xs">
                      {e.objectType}
                      {(e.words?.objectName ?? e.objectId) && (
                        <span className="block font-medium text-slate-800" title={e.objectId ? `id ${e.objectId}` : undefined}>
                          {e.words?.objectName ?? e.objectId}
                        </span>
                      )}
                    </td>
                    <td>
                      <Badge tone={outcomeTone[e.outcome] ?? 'slate'}>{e.outcome}</Badge>
                      {e.message && <span className="block max-w-xs text-xs text-slate-600">{e.message}</span>}
                    </td>
                    <td className="text-right">
                      <Button size="sm" variant="ghost" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? null : e.id)}>
                        {open === e.id ? 'Hide' : 'Details'}
                      </Button>
                    </td>
                  </tr>
                  {open === e.id && (
                    <tr>
                      <td />
                      <td colSpan={7} className="pb-3">
                        <p className="mb-1 text-xs text-slate-500">Request {e.requestId}</p>
                        {e.words?.changes.length ? (
                          <ul className="list-disc pl-5 text-sm" data-testid="audit-words">
                            {e.words.changes.map((c) => (
                              <li key={c}>{c}</li>
                            ))}
                          </ul>
                        ) : (
                          <BeforeAfter before={e.before} after={e.after} />
                        )}
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
              {items.length === 0 && (
                <tr>
                  <td colSpan={8} className="py-2 text-slate-600">
                    No events match.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <div className="mt-3 flex gap-2">
          <Button variant="secondary" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
            Newer
          </Button>
          <Button variant="secondary" disabled={!next} onClick={() => setCursors((c) => [...c, next])}>
            Older
          </Button>
        </div>
      </Card>
    </div>
  );
}
