/** Status shown with colour and text together, never colour alone. */
const tones = {
  green: 'bg-emerald-100 text-emerald-900 ring-emerald-600/30',
  amber: 'bg-amber-100 text-amber-900 ring-amber-600/30',
  red: 'bg-red-100 text-red-900 ring-red-600/30',
  slate: 'bg-slate-100 text-slate-800 ring-slate-500/30',
  sky: 'bg-sky-100 text-sky-900 ring-sky-600/30',
} as const;

export type Tone = keyof typeof tones;

export function Badge({ tone = 'slate', children, title }: { tone?: Tone; children: React.ReactNode; title?: string }) {
  return (
    <span title={title} className={`inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${tones[tone]}`}>
      <span aria-hidden className="text-[0.6rem]">
        ●
      </span>
      {children}
    </span>
  );
}
