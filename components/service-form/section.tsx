'use client';
/**
 * A collapsible group of the form (a disclosure: a heading whose button says whether it is expanded), and the
 * summary of problems at the top of the form, each a button that opens its group and moves focus to its field.
 * Collapsed groups stay in the page (hidden), so what they hold is still sent and still checked.
 */
import { useId, type ReactNode } from 'react';
import { FOCUS } from './controls';
import type { SectionId } from './errors';

export function Section({
  id,
  title,
  summary,
  isOpen,
  onToggle,
  problems,
  children,
}: {
  id: SectionId;
  title: string;
  summary?: ReactNode;
  isOpen: boolean;
  onToggle: () => void;
  problems: number;
  children: ReactNode;
}) {
  const uid = useId();
  return (
    <section aria-labelledby={`${uid}-h`} data-section={id} className="rounded-lg border border-slate-200 bg-white shadow-sm">
      <h2 id={`${uid}-h`} className="text-base font-semibold">
        <button
          type="button"
          aria-expanded={isOpen}
          aria-controls={`${uid}-body`}
          onClick={onToggle}
          className={`flex w-full flex-wrap items-center gap-x-3 gap-y-1 rounded-lg px-4 py-3 text-left hover:bg-slate-50 ${FOCUS}`}
        >
          <span aria-hidden className={`inline-block w-3 text-slate-500 transition-transform ${isOpen ? 'rotate-90' : ''}`}>
            ▶
          </span>
          <span>{title}</span>
          {problems > 0 && (
            <span className="rounded-full bg-red-100 px-2 py-0.5 text-xs font-medium text-red-900 ring-1 ring-red-600/30">
              {problems} problem{problems === 1 ? '' : 's'}
            </span>
          )}
          {summary && <span className="ml-auto text-sm font-normal text-slate-600">{summary}</span>}
        </button>
      </h2>
      <div id={`${uid}-body`} hidden={!isOpen} className="border-t border-slate-200 p-4">
        {children}
      </div>
    </section>
  );
}

export interface Problem {
  path: string;
  message: string;
  section: SectionId;
  label: string;
}

/** Every problem of the last attempt, in words, with a way to its field (GOV.UK's error summary pattern). */
export function ProblemSummary({ problems, onGo }: { problems: Problem[]; onGo: (p: Problem) => void }) {
  if (problems.length === 0) return null;
  return (
    <div role="alert" aria-labelledby="problem-summary-title" className="rounded-md border-2 border-red-700 bg-red-50 p-4" data-testid="problem-summary">
      <h2 id="problem-summary-title" className="text-base font-semibold text-red-900">
        {problems.length === 1 ? 'There is a problem' : `There are ${problems.length} problems`}; nothing was saved.
      </h2>
      <ul className="mt-2 space-y-1 text-sm">
        {problems.slice(0, 20).map((p) => (
          <li key={p.path}>
            <button type="button" onClick={() => onGo(p)} className={`text-left text-red-900 underline ${FOCUS}`}>
              <span className="font-medium">{p.label}</span>: {p.message}
            </button>
          </li>
        ))}
        {problems.length > 20 && <li className="text-red-900">…and {problems.length - 20} more, shown at their fields.</li>}
      </ul>
    </div>
  );
}
