/** Staged or historical changes, object by object, with each field's before (red, −) and after (green, +). */
import { Badge, type Tone } from './ui/badge';

export type Change = { kind: 'added' | 'removed' | 'changed'; objectType: string; name: string; fields: { path: string; before: unknown; after: unknown }[] };

const kindTone: Record<Change['kind'], Tone> = { added: 'green', removed: 'red', changed: 'amber' };
const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

export function ChangeList({ changes }: { changes: Change[] }) {
  if (changes.length === 0) return <p className="text-sm text-slate-600">No differences.</p>;
  return (
    <ul className="space-y-3" data-testid="change-list">
      {changes.map((c) => (
        <li key={`${c.objectType}:${c.name}`} className="rounded-md border border-slate-200">
          <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-slate-50 px-3 py-2 text-sm">
            <Badge tone={kindTone[c.kind]}>{c.kind}</Badge>
            <span className="text-slate-600">{c.objectType}</span>
            <span className="font-medium">{c.name}</span>
          </div>
          <table className="w-full font-mono text-xs">
            <tbody>
              {c.fields.map((f) => (
                <tr key={f.path} className="border-t border-slate-100 align-top">
                  <td className="w-1/4 px-3 py-1 text-slate-600">{f.path || '(whole)'}</td>
                  <td className="px-3 py-1">
                    {c.kind !== 'added' && <div className="break-all text-red-800"><span aria-label="before">− </span>{show(f.before)}</div>}
                    {c.kind !== 'removed' && <div className="break-all text-emerald-800"><span aria-label="after">+ </span>{show(f.after)}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </li>
      ))}
    </ul>
  );
}
