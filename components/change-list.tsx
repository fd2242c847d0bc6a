'use client';
/**
 * Staged or historical changes, object by object, each field as a sentence ("weight of sym-app-1 in symphony-web:
 * 100 → 50"). Objects are named by name, with their id on hover; long lists are paged, long objects folded.
 */
import { useState } from 'react';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';

export type Change = {
  kind: 'added' | 'removed' | 'changed';
  objectType: string;
  name: string;
  headline?: string;
  id?: string;
  fields: { path: string; before: unknown; after: unknown; text?: string }[];
};

const kindTone: Record<Change['kind'], Tone> = { added: 'green', removed: 'red', changed: 'amber' };
const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
const PAGE = 50;
const FOLD = 6;

function FieldLines({ change }: { change: Change }) {
  const [isOpen, setOpen] = useState(false);
  const shown = isOpen ? change.fields : change.fields.slice(0, FOLD);
  return (
    <ul className="divide-y divide-slate-100 text-sm">
      {shown.map((f) => (
        <li key={f.path} className="px-3 py-1 text-slate-800" title={f.path || undefined}>
          {f.text ?? (
            <span className="font-mono text-xs">
              {f.path}: {show(f.before)} → {show(f.after)}
            </span>
          )}
        </li>
      ))}
      {change.fields.length > FOLD && (
        <li className="px-3 py-1">
          <Button size="sm" variant="ghost" aria-expanded={isOpen} onClick={() => setOpen(!isOpen)}>
            {isOpen ? 'Show fewer fields' : `Show ${change.fields.length - FOLD} more field${change.fields.length - FOLD === 1 ? '' : 's'}`}
          </Button>
        </li>
      )}
    </ul>
  );
}

export function ChangeList({ changes, onDiscard }: { changes: Change[]; onDiscard?: (c: Change) => void }) {
  const [page, setPage] = useState(0);
  if (changes.length === 0) return <p className="text-sm text-slate-600">No differences.</p>;
  const pages = Math.ceil(changes.length / PAGE);
  const at = Math.min(page, pages - 1);
  return (
    <div className="space-y-3">
      <ul className="space-y-3" data-testid="change-list">
        {changes.slice(at * PAGE, at * PAGE + PAGE).map((c) => (
          <li key={`${c.objectType}:${c.name}`} className="rounded-md border border-slate-200">
            <div className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-slate-50 px-3 py-2 text-sm">
              <Badge tone={kindTone[c.kind]}>{c.kind}</Badge>
              <span className="font-medium" title={c.id ? `id ${c.id}` : 'not stored (removed from the staged configuration)'}>
                {c.headline ?? `${c.objectType} ${c.name}`}
              </span>
              {onDiscard && (
                <span className="ml-auto">
                  <Button size="sm" variant="secondary" onClick={() => onDiscard(c)} aria-label={`Discard the staged changes of ${c.objectType} ${c.name}`}>
                    Discard
                  </Button>
                </span>
              )}
            </div>
            <FieldLines change={c} />
          </li>
        ))}
      </ul>
      {pages > 1 && (
        <nav className="flex items-center gap-2 text-sm" aria-label="Pages of changes">
          <Button size="sm" variant="secondary" disabled={at === 0} onClick={() => setPage(at - 1)}>
            Previous
          </Button>
          <span>
            Objects {at * PAGE + 1}–{Math.min(changes.length, at * PAGE + PAGE)} of {changes.length}
          </span>
          <Button size="sm" variant="secondary" disabled={at === pages - 1} onClick={() => setPage(at + 1)}>
            Next
          </Button>
        </nav>
      )}
    </div>
  );
}
