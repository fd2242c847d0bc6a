'use client';
/**
 * The graphs of one virtual service, or of one of its real servers: connections, new connections and requests per
 * second, responses per second by class, throughput and mean response time (the last three at layer 7 only), over
 * the last hour, day, week or year, with health transitions marked on the time axis and listed in words below.
 *
 * Read from GET /virtual-services/:id/samples, then kept live: the hour range takes each 'stats' event from the
 * WebSocket feed and turns it into a point with the same function the console's sampler stores with
 * (lib/samples/derive.ts), so the live edge and the stored history agree; longer ranges are read again each minute.
 * Health events add their mark at once.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api, type ApiCallError } from '../api-client';
import { useLiveEvents, useWatchServices } from '../live';
import { ErrorBox } from '../ui/card';
import { derivePoints, viewOf, type Readings, type StatsService } from '@/lib/samples/derive.ts';
import { TimeChart, type ChartMark, type ChartSeries } from './time-chart';
import { formatBytesPerS, formatCount, formatMs } from './format';
import { withPoint, type Range, type Samples } from './samples';

const RANGES: { value: Range; label: string }[] = [
  { value: 'hour', label: 'Last hour' },
  { value: 'day', label: 'Last day' },
  { value: 'week', label: 'Last week' },
  { value: 'year', label: 'Last year' },
];

const SOLID: number[] = [];
const DASH = [8, 4];
const DOT = [2, 3];
const LONG = [14, 4];
const DASH_DOT = [8, 3, 2, 3];
const C = { sky: '#0369a1', amber: '#b45309', violet: '#6d28d9', red: '#b91c1c', emerald: '#047857', slate: '#475569' };

export function ServiceGraphs({
  vsId,
  vsName,
  layer,
  realServers,
}: {
  vsId: string;
  vsName: string;
  layer: number;
  realServers: { id: string; name: string }[];
}) {
  const [range, setRange] = useState<Range>('hour');
  const [serverId, setServerId] = useState('');
  const [samples, setSamples] = useState<Samples | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const readings = useRef<Readings>(new Map());
  const isSeeded = useRef(false);
  const serverName = realServers.find((r) => r.id === serverId)?.name ?? '';

  // Each read is numbered: an answer that arrives after a newer read was started (a person switching range or server
  // quickly) is dropped, so the graphs never show another range than the one pressed.
  const lastRead = useRef(0);
  const load = useCallback(async () => {
    const read = ++lastRead.current;
    try {
      const q = new URLSearchParams({ range, ...(serverId ? { realServer: serverId } : {}) });
      const answer = await api<Samples>('GET', `/virtual-services/${vsId}/samples?${q}`);
      if (read !== lastRead.current) return;
      setSamples(answer);
      setError(null);
    } catch (e) {
      if (read === lastRead.current) setError(e as ApiCallError);
    }
  }, [vsId, range, serverId]);
  useEffect(() => void load(), [load]);
  useEffect(() => {
    if (range === 'hour') return;
    const t = setInterval(() => void load(), 60_000);
    return () => clearInterval(t);
  }, [range, load]);

  useWatchServices([vsName]);
  useLiveEvents(['engine'], (e) => {
    const ev = e.event as {
      type?: string;
      at?: string;
      services?: StatsService[];
      virtualService?: string;
      realServer?: string;
      previous?: string;
      health?: string;
      message?: string;
    };
    if (ev?.type === 'stats' && ev.services && ev.at) {
      const points = derivePoints(readings.current, ev.services, Date.parse(ev.at));
      const wasSeeded = isSeeded.current;
      isSeeded.current = true;
      if (!wasSeeded || range !== 'hour') return; // the first reading only seeds the deltas
      const p = points.find((x) => x.virtualService === vsName && x.realServer === serverName);
      if (p) setSamples((cur) => (cur && cur.range === 'hour' && cur.realServer === (serverName || null) ? withPoint(cur, p.at / 1000, viewOf(p)) : cur));
    } else if (ev?.type === 'health' && ev.virtualService === vsName && (!serverName || ev.realServer === serverName) && ev.at) {
      const t = { at: ev.at, realServer: ev.realServer ?? '', previous: ev.previous ?? '', health: ev.health ?? '', message: ev.message ?? '' };
      setSamples((cur) => (cur ? { ...cur, transitions: [...cur.transitions, t] } : cur));
    }
  });

  const marks: ChartMark[] = useMemo(
    () => (samples?.transitions ?? []).map((t) => ({ t: Date.parse(t.at) / 1000, isDown: t.health === 'down', text: t.realServer })),
    [samples?.transitions],
  );
  const isL7 = layer === 7;
  const charts = useMemo(() => {
    if (!samples) return [];
    const s = samples;
    const list: { id: string; title: string; series: ChartSeries[]; cols: (number | null)[][]; format: (v: number) => string }[] = [
      {
        id: 'connections',
        title: 'Active connections',
        format: formatCount,
        series: [
          { label: 'Active (mean)', dash: SOLID, stroke: C.sky },
          { label: 'Active (peak)', dash: DOT, stroke: C.slate },
        ],
        cols: [s.connections, s.connectionsMax],
      },
      {
        id: 'rates',
        title: isL7 ? 'New connections and requests per second' : 'New connections per second',
        format: formatCount,
        series: [{ label: 'Connections/s', dash: SOLID, stroke: C.sky }, ...(isL7 ? [{ label: 'Requests/s', dash: DASH, stroke: C.violet }] : [])],
        cols: [s.newConnectionsPerS, ...(isL7 ? [s.requestsPerS] : [])],
      },
      {
        id: 'throughput',
        title: 'Throughput',
        format: formatBytesPerS,
        series: [
          { label: 'In (from clients)', dash: SOLID, stroke: C.emerald },
          { label: 'Out (to clients)', dash: DASH, stroke: C.amber },
        ],
        cols: [s.bytesInPerS, s.bytesOutPerS],
      },
    ];
    if (isL7) {
      list.push(
        {
          id: 'responses',
          title: 'Responses per second by class',
          format: formatCount,
          series: [
            { label: '2xx', dash: SOLID, stroke: C.emerald },
            { label: '3xx', dash: DOT, stroke: C.sky },
            { label: '4xx', dash: DASH, stroke: C.amber },
            { label: '5xx', dash: LONG, stroke: C.red },
            { label: 'Other', dash: DASH_DOT, stroke: C.slate },
          ],
          cols: [
            s.responsesPerS['2xx'],
            s.responsesPerS['3xx'],
            s.responsesPerS['4xx'],
            s.responsesPerS['5xx'],
            s.responsesPerS.other.map((v, i) => (v === null ? null : v + (s.responsesPerS['1xx'][i] ?? 0))),
          ],
        },
        {
          id: 'latency',
          title: 'Mean response time (the engine reports no percentiles)',
          format: formatMs,
          series: [{ label: 'Mean', dash: SOLID, stroke: C.violet }],
          cols: [s.latencyMs],
        },
      );
    }
    return list.map((c) => ({ ...c, data: [s.t, ...c.cols] }));
  }, [samples, isL7]);

  return (
    <section aria-label={`Graphs of ${vsName}`} data-testid={`graphs-${vsName}`} className="mt-4 border-t border-slate-200 pt-3">
      <div className="mb-3 flex flex-wrap items-center gap-3">
        <div role="group" aria-label="Range" className="inline-flex overflow-hidden rounded-md border border-slate-300">
          {RANGES.map((r) => (
            <button
              key={r.value}
              type="button"
              aria-pressed={range === r.value}
              onClick={() => setRange(r.value)}
              className={`px-3 py-1.5 text-sm ${range === r.value ? 'bg-sky-700 font-medium text-white' : 'bg-white hover:bg-slate-100'}`}
            >
              {r.label}
            </button>
          ))}
        </div>
        <label className="inline-flex items-center gap-2 text-sm">
          <span className="text-slate-600">Show</span>
          <select value={serverId} onChange={(e) => setServerId(e.target.value)} className="rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm">
            <option value="">The whole service</option>
            {realServers.map((r) => (
              <option key={r.id} value={r.id}>
                Real server {r.name}
              </option>
            ))}
          </select>
        </label>
        {samples && (
          <span className="text-xs text-slate-500">
            {samples.stepS < 60 ? `every ${samples.stepS} s, live` : `${samples.stepS / 60} min steps`} · hover a graph for its numbers
          </span>
        )}
      </div>
      <ErrorBox error={error?.body} />
      {!samples && !error && <p className="text-sm text-slate-500">Loading graphs…</p>}
      <div className="grid gap-x-6 gap-y-4 lg:grid-cols-2">
        {charts.map((c) => (
          <TimeChart
            key={`${c.id}-${samples?.range}`}
            testId={`chart-${c.id}`}
            title={c.title}
            series={c.series}
            data={c.data}
            marks={marks}
            format={c.format}
          />
        ))}
      </div>
      {samples && <Transitions items={samples.transitions} />}
    </section>
  );
}

function Transitions({ items }: { items: Samples['transitions'] }) {
  if (items.length === 0) return <p className="mt-3 text-xs text-slate-500">No health transitions in this range.</p>;
  const newest = [...items].reverse().slice(0, 10);
  return (
    <div className="mt-3">
      <h3 className="text-sm font-medium text-slate-700">Health transitions in this range ({items.length}; marked ▲ up and ▼ down on the graphs)</h3>
      <ul className="mt-1 space-y-0.5 text-xs text-slate-700" data-testid="graph-transitions">
        {newest.map((t) => (
          <li key={`${t.at}-${t.realServer}-${t.health}`}>
            <span className="font-mono">{new Date(t.at).toLocaleString('en-GB')}</span> {t.realServer}: {t.previous} → <strong>{t.health}</strong>
            {t.message ? ` — ${t.message}` : ''}
          </li>
        ))}
      </ul>
    </div>
  );
}
