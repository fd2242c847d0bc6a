'use client';
/**
 * The real servers of the service: a table that filters (name, address, port), sorts by any column, shows only the
 * rows with problems, and pages (hundreds of rows stay quick: only one page is in the page). New rows are added
 * one by one or in bulk (bulk-add.tsx). The order is fixed when a sort or filter is chosen, not on every key
 * press, so a row does not jump away while it is being typed in.
 */
import { useEffect, useMemo, useState } from 'react';
import { BlockError, FOCUS, INPUT, SmallButton, useForm } from './controls';
import { blockDefaults, realServerDraft, type Draft } from './model';
import { RealServerRow } from './real-server-row';
import { BulkAdd } from './bulk-add';

type SortKey = 'position' | 'name' | 'address' | 'port' | 'weight';
const COLUMNS: [SortKey, string][] = [
  ['position', '#'],
  ['name', 'Name'],
  ['address', 'Address'],
  ['port', 'Port'],
  ['weight', 'Weight'],
];
const PAGE_SIZES = [10, 25, 50, 100];
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export interface OtherService {
  id: string;
  name: string;
  realServers: Record<string, unknown>[];
}

/** `attempt` counts failed saves: after one with a problem in a row, the table shows the rows with problems. */
export function RealServersFields({ isLayer7, others, attempt = 0 }: { isLayer7: boolean; others: OtherService[]; attempt?: number }) {
  const { draft, set, errors } = useForm();
  const rows: Draft[] = draft.realServers ?? [];
  const [filter, setFilter] = useState('');
  const [onlyProblems, setOnlyProblems] = useState(false);
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: 'position', dir: 1 });
  const [page, setPage] = useState(0);
  const [pageSize, setPageSize] = useState(25);
  const [isBulkOpen, setBulkOpen] = useState(false);
  const problemRows = useMemo(
    () =>
      new Set(
        Object.keys(errors)
          .filter((p) => p.startsWith('realServers.'))
          .map((p) => Number(p.split('.')[1])),
      ),
    [errors],
  );

  // biome-ignore lint/correctness/useExhaustiveDependencies: the problem rows are shown when a save attempt is refused, not on every edit
  useEffect(() => {
    if (attempt > 0 && problemRows.size > 0) {
      setOnlyProblems(true);
      setPage(0);
    }
  }, [attempt]);

  // The order is taken when the view's terms change (or rows come and go), not on each key press.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the order is taken when the view's terms change or rows come and go, not on each key press
  const order = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const idx = rows
      .map((_, i) => i)
      .filter((i) => {
        if (onlyProblems && !problemRows.has(i)) return false;
        if (!f) return true;
        const r = rows[i];
        return `${r.name} ${r.address} ${r.port}`.toLowerCase().includes(f);
      });
    if (sort.key !== 'position') idx.sort((a, b) => sort.dir * collator.compare(String(rows[a][sort.key] ?? ''), String(rows[b][sort.key] ?? '')));
    else if (sort.dir === -1) idx.reverse();
    return idx;
  }, [filter, onlyProblems, sort, rows.length, problemRows]);

  const pages = Math.max(1, Math.ceil(order.length / pageSize));
  const current = Math.min(page, pages - 1);
  const shown = order.slice(current * pageSize, (current + 1) * pageSize);
  const setRows = (next: Draft[]) => set('realServers', next);
  const add = (servers: Record<string, unknown>[], isBulk = false) => {
    // A bulk add takes the place of rows nothing was typed into (the blank first row of a new service).
    const kept = isBulk ? rows.filter((r) => String(r.name ?? '').trim() !== '' || String(r.address ?? '').trim() !== '') : rows;
    const next = [...kept, ...servers.map((s, k) => realServerDraft(s, kept.length + k))];
    setRows(next);
    setFilter('');
    setOnlyProblems(false);
    if (sort.key === 'position' && sort.dir === 1) setPage(Math.floor((next.length - 1) / pageSize));
  };
  const remove = (i: number) => setRows(rows.filter((_, j) => j !== i));
  const toggleDetails = (i: number) => set(`realServers.${i}._open`, !rows[i]._open);
  const sortBy = (key: SortKey) => setSort((s) => ({ key, dir: s.key === key ? (-s.dir as 1 | -1) : 1 }));

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-3">
        <div className="flex min-w-48 flex-1 flex-col gap-1">
          <label htmlFor="rs-filter" className="text-sm font-medium text-slate-700">
            Filter real servers
          </label>
          <input
            id="rs-filter"
            type="search"
            value={filter}
            onChange={(e) => {
              setFilter(e.target.value);
              setPage(0);
            }}
            placeholder="Name, address or port"
            className={INPUT}
          />
        </div>
        <label className="flex items-center gap-2 pb-2 text-sm">
          <input
            type="checkbox"
            checked={onlyProblems}
            onChange={(e) => {
              setOnlyProblems(e.target.checked);
              setPage(0);
            }}
            className={`h-4 w-4 ${FOCUS}`}
          />
          Only rows with problems ({problemRows.size})
        </label>
        <span className="ml-auto flex gap-2 pb-1">
          <SmallButton onClick={() => add([blockDefaults.realServer()])}>Add real server</SmallButton>
          <SmallButton onClick={() => setBulkOpen((o) => !o)}>{isBulkOpen ? 'Close bulk add' : 'Add in bulk (paste or clone)'}</SmallButton>
        </span>
      </div>
      {isBulkOpen && (
        <BulkAdd
          existing={rows}
          others={others}
          isLayer7={isLayer7}
          onAdd={(s) => {
            add(s, true);
            setBulkOpen(false);
          }}
        />
      )}
      <BlockError path="realServers" />
      <div className="overflow-x-auto">
        <table className="w-full min-w-[40rem] text-sm" data-testid="rs-table" aria-describedby="rs-count">
          <thead>
            <tr className="text-left text-xs uppercase tracking-wide text-slate-600">
              {COLUMNS.map(([key, label]) => (
                <th key={key} scope="col" aria-sort={sort.key === key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'} className="px-1.5 py-1">
                  <button type="button" onClick={() => sortBy(key)} className={`inline-flex items-center gap-1 rounded px-0.5 uppercase ${FOCUS}`}>
                    {label}
                    <span aria-hidden className="text-slate-400">
                      {sort.key === key ? (sort.dir === 1 ? '▲' : '▼') : '↕'}
                    </span>
                    <span className="sr-only">, sort</span>
                  </button>
                </th>
              ))}
              <th scope="col" className="px-1.5 py-1 text-center">
                Backup
              </th>
              <th scope="col" className="px-1.5 py-1 text-right">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => (
              <RealServerRow key={rows[i]._key ?? i} index={i} isLayer7={isLayer7} onRemove={() => remove(i)} onDetails={() => toggleDetails(i)} />
            ))}
            {shown.length === 0 && (
              <tr>
                <td colSpan={7} className="px-2 py-4 text-center text-slate-600">
                  {rows.length === 0 ? 'No real servers yet.' : 'No real server matches the filter.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <Pager
        count={order.length}
        total={rows.length}
        page={current}
        pages={pages}
        pageSize={pageSize}
        setPage={setPage}
        setPageSize={(n) => {
          setPageSize(n);
          setPage(0);
        }}
      />
    </div>
  );
}

function Pager({
  count,
  total,
  page,
  pages,
  pageSize,
  setPage,
  setPageSize,
}: {
  count: number;
  total: number;
  page: number;
  pages: number;
  pageSize: number;
  setPage: (n: number) => void;
  setPageSize: (n: number) => void;
}) {
  const from = count === 0 ? 0 : page * pageSize + 1;
  const to = Math.min(count, (page + 1) * pageSize);
  const btn = `rounded-md border border-slate-300 bg-white px-2.5 py-1 text-xs font-medium disabled:opacity-50 ${FOCUS}`;
  return (
    <nav aria-label="Real server pages" className="flex flex-wrap items-center gap-3 text-sm">
      <span id="rs-count" data-testid="rs-count" aria-live="polite">
        {total} real server{total === 1 ? '' : 's'}
        {count !== total ? `, ${count} match` : ''}
        {count > 0 ? ` · showing ${from}–${to}` : ''}
      </span>
      <span className="ml-auto flex items-center gap-2">
        <button type="button" className={btn} onClick={() => setPage(0)} disabled={page === 0}>
          First
        </button>
        <button type="button" className={btn} onClick={() => setPage(page - 1)} disabled={page === 0}>
          Previous
        </button>
        <span data-testid="rs-page">
          Page {page + 1} of {pages}
        </span>
        <button type="button" className={btn} onClick={() => setPage(page + 1)} disabled={page >= pages - 1}>
          Next
        </button>
        <button type="button" className={btn} onClick={() => setPage(pages - 1)} disabled={page >= pages - 1}>
          Last
        </button>
        <label className="flex items-center gap-1 text-xs text-slate-600">
          Rows per page
          <select
            value={pageSize}
            onChange={(e) => setPageSize(Number(e.target.value))}
            className={`rounded-md border border-slate-300 bg-white px-1.5 py-1 text-xs ${FOCUS}`}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </span>
    </nav>
  );
}
