/** How the graphs print numbers: on their axes, in their legends at the cursor, and in their text summaries. */

export function formatCount(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)} M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(a >= 1e5 ? 0 : 1)} k`;
  return v.toLocaleString('en-GB', { maximumFractionDigits: a < 10 ? 2 : a < 100 ? 1 : 0 });
}

const UNITS = ['B/s', 'kB/s', 'MB/s', 'GB/s'];

export function formatBytesPerS(v: number): string {
  if (!Number.isFinite(v)) return '–';
  let x = v;
  let u = 0;
  while (Math.abs(x) >= 1000 && u < UNITS.length - 1) {
    x /= 1000;
    u++;
  }
  return `${x.toLocaleString('en-GB', { maximumFractionDigits: Math.abs(x) < 10 ? 1 : 0 })} ${UNITS[u]}`;
}

export function formatMs(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v >= 1000
    ? `${(v / 1000).toLocaleString('en-GB', { maximumFractionDigits: 2 })} s`
    : `${v.toLocaleString('en-GB', { maximumFractionDigits: v < 10 ? 2 : 0 })} ms`;
}
