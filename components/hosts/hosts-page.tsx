'use client';
/**
 * Hosts: every real server address, with the server names and services at each, searchable by address or name
 * (a patch night goes host by host). Choosing one opens its preview and actions (host-panel.tsx). Every role may
 * read this page; drain, halt and online need an operator or admin and are disabled with the reason otherwise.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, type ApiCallError } from '../api-client';
import { useLiveEvents } from '../live';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, ErrorBox, PageTitle } from '../ui/card';
import { TableScroll } from '../ui/table';
import { HostPanel } from './host-panel';

type HostSummary = { address: string; names: string[]; services: string[]; servers: number; states: { online: number; drain: number; halt: number } };
const PAGE = 25;

export function HostsPage() {
  const [search, setSearch] = useState('');
  const [hosts, setHosts] = useState<{ items: HostSummary[]; total: number } | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [page, setPage] = useState(0);

  const load = useCallback(async (q: string) => {
    try {
      setHosts(await api('GET', `/hosts${q ? `?search=${encodeURIComponent(q)}` : ''}`));
      setError(null);
    } catch (e) {
      setError(e as ApiCallError);
    }
  }, []);
  useEffect(() => {
    const q = search.trim();
    const t = setTimeout(() => void load(q), 200);
    setPage(0);
    return () => clearTimeout(t);
  }, [search, load]);
  useEffect(() => {
    const a = new URLSearchParams(window.location.search).get('address');
    if (a) setSelected(a);
  }, []);
  useLiveEvents(['candidate-changed'], () => void load(search.trim()));

  function choose(address: string) {
    setSelected(address);
    window.history.replaceState(null, '', `/hosts?address=${encodeURIComponent(address)}`);
  }

  const items = hosts?.items ?? [];
  const pages = Math.max(1, Math.ceil(items.length / PAGE));
  const shown = items.slice(page * PAGE, (page + 1) * PAGE);
  return (
    <div>
      <PageTitle sub="A host is a real server's address in every service that uses it. Preview what an action touches, then drain, halt or bring it back online everywhere at once.">
        Hosts
      </PageTitle>
      <ErrorBox error={error?.body} />
      <div className="grid gap-4 lg:grid-cols-[minmax(0,26rem)_minmax(0,1fr)]">
        <Card title="Find a host">
          <label htmlFor="host-search" className="mb-1 block text-sm font-medium">
            Search by address or real server name
          </label>
          <input
            id="host-search"
            type="search"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            placeholder="10.0.0.61 or sym-app-1"
            className="mb-3 w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm"
          />
          {!hosts ? (
            <p className="text-sm text-slate-500">Loading…</p>
          ) : items.length === 0 ? (
            <p className="text-sm text-slate-600">{search.trim() ? `No host matches "${search.trim()}".` : 'No real servers yet.'}</p>
          ) : (
            <>
              <p className="mb-2 text-xs text-slate-600" aria-live="polite">
                {hosts.total} {hosts.total === 1 ? 'host' : 'hosts'}
                {hosts.total > items.length ? ` (the first ${items.length} shown: refine the search)` : ''}.
              </p>
              <TableScroll label="Hosts" minWidth="22rem">
                <table data-testid="hosts-table" className="w-full text-left text-sm">
                  <thead className="text-xs uppercase text-slate-500">
                    <tr>
                      <th className="py-1.5">Address</th>
                      <th>Servers</th>
                      <th>States</th>
                      <th>
                        <span className="sr-only">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((h) => (
                      <tr
                        key={h.address}
                        className={`border-t border-slate-100 align-top ${selected === h.address ? 'bg-sky-50' : ''}`}
                        data-testid={`host-${h.address}`}
                      >
                        <td className="py-2 font-mono text-xs">{h.address}</td>
                        <td className="text-xs">
                          {h.names.join(', ')}
                          <span className="block text-slate-500">
                            {h.services.length} {h.services.length === 1 ? 'service' : 'services'}
                          </span>
                        </td>
                        <td className="space-x-1 text-xs">
                          {(['online', 'drain', 'halt'] as const)
                            .filter((s) => h.states[s] > 0)
                            .map((s) => (
                              <Badge key={s} tone={s === 'online' ? 'green' : s === 'drain' ? 'amber' : 'red'}>
                                {h.states[s]} {s}
                              </Badge>
                            ))}
                        </td>
                        <td className="text-right">
                          <Button
                            size="sm"
                            variant="secondary"
                            aria-label={`Preview ${h.address}`}
                            aria-pressed={selected === h.address}
                            onClick={() => choose(h.address)}
                          >
                            Preview
                          </Button>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableScroll>
              {pages > 1 && (
                <nav aria-label="Host pages" className="mt-2 flex items-center gap-2 text-xs">
                  <Button size="sm" variant="secondary" disabled={page === 0} onClick={() => setPage(page - 1)}>
                    Previous
                  </Button>
                  <span>
                    Page {page + 1} of {pages}
                  </span>
                  <Button size="sm" variant="secondary" disabled={page >= pages - 1} onClick={() => setPage(page + 1)}>
                    Next
                  </Button>
                </nav>
              )}
            </>
          )}
        </Card>
        {selected ? (
          <HostPanel address={selected} onChanged={() => void load(search.trim())} />
        ) : (
          <Card title="Preview">
            <p className="text-sm text-slate-600">
              Choose a host to see every service and real server at its address, their state and open connections, before changing anything.
            </p>
          </Card>
        )}
      </div>
    </div>
  );
}
