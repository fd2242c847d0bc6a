'use client';
/**
 * The log viewer: the layer 7 access log (a line per request) or the engine log, newest first, filtered by level,
 * service, server, status class and text (GET /api/v1/logs, which asks the engine). Live tail asks every 2 s for the
 * lines after the newest one shown and puts them on top (at most MAX_SHOWN kept on the page).
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, type ApiCallError } from './api-client';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input, Select } from './ui/field';

type Line = { time: string; level: string; msg: string; [k: string]: unknown };
type Timings = { requestMs: number; queueMs: number; connectMs: number; responseMs: number; totalMs: number };
const MAX_SHOWN = 500;
const TAIL_MS = 2000;

/** HAProxy's termination state in words: what ended the exchange, then the step it was in. */
const CAUSE: Record<string, string> = {
  '-': 'normal end',
  C: 'the client closed',
  S: 'the server closed or refused',
  P: 'the proxy refused',
  L: 'answered by the proxy',
  c: 'client timeout',
  s: 'server timeout',
  R: 'a resource limit',
  I: 'an internal error',
};
const STEP: Record<string, string> = {
  R: 'waiting for the request',
  Q: 'queued for a server',
  C: 'connecting to the server',
  H: 'waiting for the response head',
  D: 'passing the body',
  L: 'the proxy sent the last bytes',
  '-': 'finished',
};
const terminationWords = (t: string) => (t === '--' ? 'normal end' : `${CAUSE[t[0]] ?? t[0]}, ${STEP[t[1]] ?? t[1]}`);
const statusTone = (s: number): Tone => (s >= 500 || s < 0 ? 'red' : s >= 400 ? 'amber' : s >= 300 ? 'slate' : 'green');
const levelTone: Record<string, Tone> = { info: 'slate', warn: 'amber', error: 'red' };
const fmtMs = (v: number) => (v < 0 ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(0));

const EMPTY = { kind: 'access', level: '', service: '', server: '', status: '', text: '' };

function AccessRow({ l }: { l: Line }) {
  const t = l.timings as Timings | undefined;
  const status = Number(l.status);
  const term = String(l.termination ?? '');
  return (
    <tr className="border-t border-slate-100 align-top" data-testid="log-row">
      <td className="whitespace-nowrap py-1 font-mono text-xs">
        {new Date(l.time).toLocaleTimeString('en-GB', { hour12: false })}.{l.time.slice(20, 23)}
      </td>
      <td className="font-mono text-xs">{String(l.client)}</td>
      <td>
        {String(l.service)}
        <span className="block text-xs text-slate-600">{String(l.server)}</span>
      </td>
      <td className="max-w-xs break-all font-mono text-xs">
        {String(l.method)} {String(l.path)}
      </td>
      <td>
        <Badge tone={statusTone(status)}>{status < 0 ? 'no answer' : status}</Badge>
      </td>
      <td>
        <span className="font-mono" title={terminationWords(term)}>
          {term}
        </span>
        <span className="block text-xs text-slate-600">{terminationWords(term)}</span>
      </td>
      <td className="whitespace-nowrap font-mono text-xs">
        {t ? `${fmtMs(t.queueMs)} / ${fmtMs(t.connectMs)} / ${fmtMs(t.responseMs)} / ${fmtMs(t.totalMs)}` : ''}
      </td>
      <td className="whitespace-nowrap text-right font-mono text-xs">
        {String(l.bytesIn)} / {String(l.bytesOut)}
      </td>
    </tr>
  );
}

function EngineRow({ l }: { l: Line }) {
  const { time, level, msg, src: _src, ...fields } = l;
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('  ');
  return (
    <tr className="border-t border-slate-100 align-top" data-testid="log-row">
      <td className="whitespace-nowrap py-1 font-mono text-xs">{new Date(time).toLocaleString('en-GB', { hour12: false })}</td>
      <td>
        <Badge tone={levelTone[level] ?? 'slate'}>{level}</Badge>
      </td>
      <td className="break-words">
        {msg}
        {rest && <span className="block break-all font-mono text-xs text-slate-600">{rest}</span>}
      </td>
    </tr>
  );
}

export function LogsPage() {
  const [filters, setFilters] = useState(EMPTY);
  const [applied, setApplied] = useState(EMPTY);
  const [lines, setLines] = useState<Line[]>([]);
  const [isTruncated, setIsTruncated] = useState(false);
  const [isTailing, setIsTailing] = useState(false);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const newest = useRef<string | null>(null);

  const query = useCallback(
    (extra: Record<string, string>) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(applied)) if (v) q.set(k, v);
      for (const [k, v] of Object.entries(extra)) q.set(k, v);
      return q.toString();
    },
    [applied],
  );

  const load = useCallback(async () => {
    try {
      const r = await api<{ lines: Line[]; isTruncated: boolean; problem?: string }>('GET', `/logs?${query({ limit: '200' })}`);
      setProblem(r.problem ?? null);
      setLines(r.lines);
      setIsTruncated(r.isTruncated);
      newest.current = r.lines[0]?.time ?? null;
      setError(null);
    } catch (e) {
      setError(e as ApiCallError);
    }
  }, [query]);
  useEffect(() => void load(), [load]);

  useEffect(() => {
    if (!isTailing) return;
    const timer = setInterval(async () => {
      try {
        const r = await api<{ lines: Line[] }>('GET', `/logs?${query(newest.current ? { after: newest.current, limit: '200' } : { limit: '200' })}`);
        if (r.lines.length === 0) return;
        newest.current = r.lines[0].time;
        setLines((old) => [...r.lines, ...old].slice(0, MAX_SHOWN));
        setError(null);
      } catch (e) {
        setError(e as ApiCallError);
      }
    }, TAIL_MS);
    return () => clearInterval(timer);
  }, [isTailing, query]);

  function submit(e: FormEvent) {
    e.preventDefault();
    setApplied(filters);
  }
  const set = (k: keyof typeof filters, v: string) => setFilters((f) => ({ ...f, [k]: v }));
  const isAccess = applied.kind === 'access';
  return (
    <div className="space-y-5">
      <PageTitle sub="The layer 7 access log (a line per request, with HAProxy's fields and termination codes; a service's sample rate may leave out some normal requests, never an error) the engine's own log and the console's. All are rotated by size in the data directory's logs/.">
        Logs
      </PageTitle>
      <ErrorBox error={error?.body} />
      {problem && (
        <p role="alert" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900">
          No lines: {problem}
        </p>
      )}
      <Card title="Filter">
        <form onSubmit={submit} className="grid gap-3 md:grid-cols-3 lg:grid-cols-6" aria-label="Log filter">
          <Field label="Log">
            {(p) => (
              <Select {...p} name="kind" value={filters.kind} onChange={(e) => set('kind', e.target.value)}>
                <option value="access">Access (layer 7)</option>
                <option value="engine">Engine</option>
                <option value="console">Console</option>
              </Select>
            )}
          </Field>
          <Field label="Least level">
            {(p) => (
              <Select {...p} name="level" value={filters.level} onChange={(e) => set('level', e.target.value)}>
                <option value="">any</option>
                <option>info</option>
                <option>warn</option>
                <option>error</option>
              </Select>
            )}
          </Field>
          <Field label="Service">
            {(p) => <Input {...p} name="service" value={filters.service} onChange={(e) => set('service', e.target.value)} placeholder="symphony-web" />}
          </Field>
          <Field label="Real server">{(p) => <Input {...p} name="server" value={filters.server} onChange={(e) => set('server', e.target.value)} />}</Field>
          <Field label="Status">
            {(p) => (
              <Select {...p} name="status" value={filters.status} onChange={(e) => set('status', e.target.value)}>
                <option value="">any</option>
                {['2xx', '3xx', '4xx', '5xx'].map((c) => (
                  <option key={c}>{c}</option>
                ))}
                <option value="none">no answer</option>
              </Select>
            )}
          </Field>
          <Field label="Text">
            {(p) => <Input {...p} name="text" value={filters.text} onChange={(e) => set('text', e.target.value)} placeholder="/ed/triage" />}
          </Field>
          <div className="flex flex-wrap items-center gap-3 md:col-span-3 lg:col-span-6">
            <Button type="submit">Filter</Button>
            <Button type="button" variant="secondary" onClick={() => void load()}>
              Refresh
            </Button>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="tail" checked={isTailing} onChange={(e) => setIsTailing(e.target.checked)} /> Live tail{' '}
              {isTailing && <Badge tone="green">following</Badge>}
            </label>
          </div>
        </form>
      </Card>
      <Card>
        {/* Wider than a narrow window: the region scrolls, so it takes focus (arrow keys scroll it) and has a name. */}
        <div role="region" aria-label="Log lines" tabIndex={0} className="overflow-x-auto">
          <table className="w-full min-w-[52rem] text-left text-sm [&_td]:px-2 [&_th]:px-2" data-testid="log-table">
            <thead className="text-xs uppercase text-slate-500">
              {isAccess ? (
                <tr>
                  <th className="py-1">Time</th>
                  <th>Client</th>
                  <th>Service / server</th>
                  <th>Request</th>
                  <th>Status</th>
                  <th>Termination</th>
                  <th title="queue / connect / response / total">Times (ms) Q/C/R/T</th>
                  <th className="text-right">Bytes in/out</th>
                </tr>
              ) : (
                <tr>
                  <th className="py-1">Time</th>
                  <th>Level</th>
                  <th>Event</th>
                </tr>
              )}
            </thead>
            <tbody>
              {lines.map((l, i) => (isAccess ? <AccessRow key={`${l.time}-${i}`} l={l} /> : <EngineRow key={`${l.time}-${i}`} l={l} />))}
              {lines.length === 0 && (
                <tr>
                  <td colSpan={8} className="py-2 text-slate-600">
                    No lines match.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        {isTruncated && <p className="mt-2 text-xs text-slate-600">The newest 200 matching lines are shown; narrow the filter to see older ones.</p>}
      </Card>
    </div>
  );
}
