'use client';
/** What a host operation did, server by server: which the engine changed now, and which not and why. */
import { Badge, type Tone } from '../ui/badge';

type Outcome = 'taken' | 'not-programmed' | 'not-running' | 'not-taken';
export type HostStateResult = {
  address: string;
  state: string;
  isComplete: boolean;
  summary: string;
  changed: { id: string; virtualService: string; realServer: string; before: string; state: string; outcome: Outcome; message: string }[];
  unchanged: { id: string; virtualService: string; realServer: string }[];
};

const OUTCOME: Record<Outcome, { words: string; tone: Tone }> = {
  taken: { words: 'changed now', tone: 'green' },
  'not-programmed': { words: 'not programmed here', tone: 'amber' },
  'not-running': { words: 'stored, next apply', tone: 'slate' },
  'not-taken': { words: 'not changed yet', tone: 'red' },
};

export function HostResult({ result }: { result: HostStateResult }) {
  return (
    <div
      role="status"
      data-testid="host-result"
      className={`mt-4 rounded-md border px-3 py-2 text-sm ${result.isComplete ? 'border-emerald-300 bg-emerald-50' : 'border-amber-300 bg-amber-50'}`}
    >
      <p className="font-medium">{result.summary}</p>
      {result.changed.length > 0 && (
        <ul className="mt-2 space-y-1">
          {result.changed.map((c) => (
            <li key={c.id} data-testid={`host-result-${c.virtualService}-${c.realServer}`}>
              <Badge tone={OUTCOME[c.outcome].tone}>{OUTCOME[c.outcome].words}</Badge> <strong>{c.realServer}</strong> in {c.virtualService}: {c.before} →{' '}
              {c.state}. <span className="text-slate-700">{c.message}</span>
            </li>
          ))}
        </ul>
      )}
      {result.unchanged.length > 0 && (
        <p className="mt-2 text-xs text-slate-700">
          Already {result.state}: {result.unchanged.map((u) => `${u.realServer} in ${u.virtualService}`).join(', ')}.
        </p>
      )}
    </div>
  );
}
