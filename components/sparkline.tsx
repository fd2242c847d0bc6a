/** A tiny line graph of recent values; the latest value is printed beside it so the graph is never the only cue. */
export function Sparkline({ values, label, width = 120, height = 28 }: { values: number[]; label: string; width?: number; height?: number }) {
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * width},${height - (v / max) * (height - 2) - 1}`).join(' ');
  const last = values.at(-1) ?? 0;
  return (
    <span className="inline-flex items-center gap-2" title={`${label}: ${last}`}>
      <svg width={width} height={height} role="img" aria-label={`${label}, latest ${last}`} className="text-sky-600">
        <polyline fill="none" stroke="currentColor" strokeWidth="1.5" points={pts || `0,${height - 1} ${width},${height - 1}`} />
      </svg>
      <span className="font-mono text-xs tabular-nums text-slate-700">{last}</span>
    </span>
  );
}
