'use client';
/**
 * One time-series chart on uPlot (canvas; about 50 kB). Every series has a text label and its own dash pattern, so
 * no line is told apart by colour alone; the legend under the chart prints each series' value at the cursor (the
 * newest values when the cursor is away). Health transitions are vertical lines on the time axis: solid and marked
 * "▲ name" for a server coming up, dashed and marked "▼ name" for one going down. The chart follows its container's
 * width (a ResizeObserver), so it reads at laptop and tablet widths alike.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  /** Canvas dash pattern; [] for a solid line. */
  dash: number[];
  stroke: string;
}

export interface ChartMark {
  /** Seconds since the epoch. */
  t: number;
  isDown: boolean;
  /** Drawn beside the line after ▼ (down) or ▲ (up): the real server's name. */
  text: string;
}

export interface TimeChartProps {
  title: string;
  /** [t (s), ...one array per series]. */
  data: (number | null)[][];
  series: ChartSeries[];
  marks: ChartMark[];
  format: (v: number) => string;
  height?: number;
  testId?: string;
}

/** The CSS border style the legend's marker uses for a dash pattern, so the legend shows the line's pattern too. */
const markerStyle = (dash: number[]) => (dash.length === 0 ? 'solid' : dash[0] <= 2 ? 'dotted' : 'dashed');

/** The index of the newest slot holding any value (uPlot's data: [t, ...series]). */
function lastIndex(data: (number | null)[][]): number | undefined {
  for (let i = (data[0]?.length ?? 0) - 1; i >= 0; i--) if (data.slice(1).some((col) => col[i] !== null && col[i] !== undefined)) return i;
  return undefined;
}

/** With the cursor away, the legend shows the newest values instead of dashes (and keeps doing so as points arrive). */
function showLatest(u: uPlot): void {
  if (u.cursor.idx !== null && u.cursor.idx !== undefined) return;
  const i = lastIndex(u.data as (number | null)[][]);
  if (i !== undefined) u.setLegend({ idx: i }, false);
}

function marksPlugin(get: () => ChartMark[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u) => {
        const ctx = u.ctx;
        const { top, height, left, width } = u.bbox;
        ctx.save();
        ctx.font = `${Math.round(11 * devicePixelRatio)}px system-ui, sans-serif`;
        ctx.textBaseline = 'top';
        // Labels of marks close together are stacked (up to four rows), and drawn left of their line at the right edge.
        const row = 13 * devicePixelRatio;
        const placed: { x: number; y: number }[] = [];
        for (const m of [...get()].sort((a, b) => a.t - b.t)) {
          const x = Math.round(u.valToPos(m.t, 'x', true));
          if (x < left || x > left + width) continue;
          const text = `${m.isDown ? '▼' : '▲'} ${m.text}`;
          const w = ctx.measureText(text).width;
          let y = top + 2 * devicePixelRatio;
          for (let k = 0; k < 4 && placed.some((p) => Math.abs(p.x - x) < w + 8 * devicePixelRatio && p.y === y); k++) y += row;
          placed.push({ x, y });
          ctx.strokeStyle = m.isDown ? '#b91c1c' : '#15803d';
          ctx.fillStyle = ctx.strokeStyle;
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash(m.isDown ? [5 * devicePixelRatio, 4 * devicePixelRatio] : []);
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          const tx = x + 3 * devicePixelRatio + w > left + width ? x - 3 * devicePixelRatio - w : x + 3 * devicePixelRatio;
          ctx.fillText(text, tx, y);
        }
        ctx.restore();
      },
    },
  };
}

/** The newest time at which any series has a value (tests watch it move as live points arrive). */
function lastT(data: (number | null)[][]): number | undefined {
  const i = lastIndex(data);
  return i === undefined ? undefined : (data[0][i] ?? undefined);
}

export function TimeChart({ title, data, series, marks, format, height = 180, testId }: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const marksRef = useRef(marks);
  marksRef.current = marks;
  const shape = series.map((s) => s.label).join('|');

  // biome-ignore lint/correctness/useExhaustiveDependencies: the chart is rebuilt only when its series change; data and marks flow in through the effects below
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fmt = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : format(v));
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      series: [
        { label: 'Time', value: (_u, v) => (v === null ? '–' : new Date(v * 1000).toLocaleString('en-GB')) },
        ...series.map((s) => ({ label: s.label, stroke: s.stroke, dash: s.dash, width: 1.75, spanGaps: false, value: fmt, points: { show: false } })),
      ],
      axes: [{}, { values: (_u, vals) => vals.map((v) => format(v)), size: 64 }],
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { markers: { dash: (_u, i) => (i === 0 ? 'solid' : markerStyle(series[i - 1].dash)), width: 3 } },
      cursor: { drag: { x: false, y: false } },
      plugins: [marksPlugin(() => marksRef.current)],
      hooks: { setCursor: [showLatest], ready: [showLatest] },
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change; data and marks flow in below.
  }, [shape, height]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(data as uPlot.AlignedData);
    showLatest(u);
  }, [data]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: marks are read through marksRef; a change of marks is what must redraw
  useEffect(() => {
    plot.current?.redraw(false);
  }, [marks]);

  const last = (arr: (number | null)[]) => {
    for (let i = arr.length - 1; i >= 0; i--) if (arr[i] !== null) return arr[i];
    return null;
  };
  const summary = series
    .map((s, i) => {
      const v = last(data[i + 1] ?? []);
      return `${s.label}: latest ${v === null ? 'none' : format(v)}`;
    })
    .join('; ');
  return (
    <figure className="min-w-0" data-testid={testId} data-last-t={lastT(data) ?? ''}>
      <figcaption className="mb-1 text-sm font-medium text-slate-700">{title}</figcaption>
      <div ref={box} className="w-full" aria-hidden="true" />
      <p className="sr-only" data-testid={testId ? `${testId}-summary` : undefined}>
        {summary}
        {marks.length ? `; ${marks.length} health transitions marked` : ''}
      </p>
    </figure>
  );
}
