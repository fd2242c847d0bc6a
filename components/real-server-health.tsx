'use client';
/**
 * A real server's health as the overview shows it: the health in colour and words, the last check's sentence (its
 * status code on hover), since when (relative, the exact time on hover) and how long the check took; and the
 * server's history of transitions one click away, in a dialog.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { useModalDialog } from './ui/modal';
import { api, type ApiCallError } from './api-client';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';
import { ErrorBox } from './ui/card';

/** engine/dataplane.ts ServerCheckStatus, as the status and 'stats' events carry it. */
export type CheckStatus = {
  type: string;
  target: string;
  health: string;
  since: string;
  code?: string;
  message?: string;
  durationMs?: number;
  lastCheckAt?: string;
  agent?: { weightPercent?: number; admin?: string; health?: string; message: string; at: string };
};

type Transition = {
  id: number;
  at: string;
  previous: string;
  health: string;
  code: string;
  message: string;
  durationMs: number;
  check: string;
  target: string;
};

const HEALTH_TONE: Record<string, Tone> = { up: 'green', down: 'red', unknown: 'slate' };

/** "up", "down", "unknown", or "checking off" when the service runs no check. */
export function healthWord(health: string | undefined, isCheckOff: boolean): string {
  return isCheckOff ? 'checking off' : (health ?? 'unknown');
}

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function relativeTime(iso: string, now: number): string {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  const d = Math.floor(s / 86_400);
  return `${d} day${d === 1 ? '' : 's'} ago`;
}

const absolute = (iso: string) => new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });

/** Re-renders every `ms`, so relative times stay true. */
function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function When({ iso, now, prefix = '' }: { iso: string; now: number; prefix?: string }) {
  return (
    <time dateTime={iso} title={absolute(iso)}>
      {prefix}
      {relativeTime(iso, now)}
    </time>
  );
}

/** The health cell of one real server. `check` is unset until the engine has reported on it. */
export function RealServerHealth({
  rsId,
  name,
  service,
  health,
  check,
  isCheckOff,
}: {
  rsId: string;
  name: string;
  service: string;
  health?: string;
  check?: CheckStatus;
  isCheckOff: boolean;
}) {
  const now = useNow(10_000);
  const [isOpen, setOpen] = useState(false);
  const opener = useRef<HTMLButtonElement>(null);
  // The dialog is unmounted on close, not closed, so focus goes back to its button by hand.
  const close = () => {
    setOpen(false);
    opener.current?.focus();
  };
  const off = isCheckOff || check?.type === 'none';
  const word = healthWord(check?.health ?? health, off);
  return (
    <div className="flex min-w-[14rem] max-w-[26rem] flex-col gap-0.5 py-1" data-testid={`health-${name}`}>
      <div className="flex flex-wrap items-center gap-2">
        <Badge tone={off ? 'slate' : (HEALTH_TONE[word] ?? 'slate')}>
          <span data-testid="health-word">{word}</span>
        </Badge>
        {check && !off && (
          <span className="text-xs text-slate-600">
            <When iso={check.since} now={now} prefix="since " />
          </span>
        )}
        {check?.durationMs !== undefined && !off && (
          <span className="text-xs text-slate-600" title="How long the last check took">
            · check <span className="font-mono">{formatDuration(check.durationMs)}</span>
          </span>
        )}
        <Button
          size="sm"
          variant="secondary"
          className="focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-700"
          aria-label={`Health history of ${name} in ${service}`}
          onClick={(e) => {
            opener.current = e.currentTarget;
            setOpen(true);
          }}
        >
          History
        </Button>
      </div>
      {check?.message && !off && (
        <p className={`text-xs ${word === 'down' ? 'text-red-800' : 'text-slate-600'}`} data-testid="health-message">
          <span title={check.code ? `Check status ${check.code}${check.lastCheckAt ? `, checked ${absolute(check.lastCheckAt)}` : ''}` : undefined}>
            {check.message}
          </span>
        </p>
      )}
      {check?.agent && !off && (
        <p className="text-xs text-slate-500">
          Agent: {check.agent.message}
          {check.agent.weightPercent !== undefined ? ` (${check.agent.weightPercent} %)` : ''}
        </p>
      )}
      {/* Mounted only while open: a hidden dialog per server (4,000 at hospital scale) costs the overview seconds. */}
      {isOpen && <HealthHistoryDialog open rsId={rsId} name={name} refreshKey={check?.since} onClose={close} />}
    </div>
  );
}

/** The last transitions of one real server, newest first; refetched while open when the server changes again. */
export function HealthHistoryDialog({
  open,
  rsId,
  name,
  refreshKey,
  onClose,
}: {
  open: boolean;
  rsId: string;
  name: string;
  refreshKey?: string;
  onClose: () => void;
}) {
  const ref = useModalDialog(open);
  const titleId = useId();
  const [items, setItems] = useState<Transition[] | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const now = useNow(10_000);
  // biome-ignore lint/correctness/useExhaustiveDependencies: refreshKey is the parent's request to read the history again
  useEffect(() => {
    if (!open) return;
    let isCurrent = true;
    api<{ items: Transition[] }>('GET', `/real-servers/${encodeURIComponent(rsId)}/health-history?limit=50`)
      .then((r) => isCurrent && (setItems(r.items), setError(null)))
      .catch((e) => isCurrent && setError(e as ApiCallError));
    return () => {
      isCurrent = false;
    };
  }, [open, rsId, refreshKey]);
  return (
    <dialog
      ref={ref}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      aria-labelledby={titleId}
      className="m-auto w-[min(56rem,94vw)] rounded-lg p-0 shadow-xl"
    >
      <div className="flex items-center justify-between border-b border-slate-200 px-5 py-3">
        <h2 id={titleId} className="text-lg font-semibold">
          Health history of {name}
        </h2>
        <Button variant="secondary" size="sm" onClick={onClose}>
          Close
        </Button>
      </div>
      <div className="max-h-[70vh] overflow-auto px-5 py-3">
        <ErrorBox error={error?.body} />
        {!items && !error && (
          <p className="text-sm text-slate-600" role="status">
            Loading…
          </p>
        )}
        {items?.length === 0 && <p className="text-sm text-slate-600">No health transitions recorded yet.</p>}
        {items && items.length > 0 && (
          <table className="w-full text-left text-sm" data-testid="health-history">
            <caption className="sr-only">
              Last {items.length} health transitions of {name}, newest first
            </caption>
            <thead className="text-xs uppercase text-slate-500">
              <tr>
                <th className="py-1.5 pr-3">Time</th>
                <th className="pr-3">Change</th>
                <th className="pr-3">Code</th>
                <th className="pr-3">Result</th>
                <th className="text-right">Duration</th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id} className="border-t border-slate-100 align-top">
                  <td className="whitespace-nowrap py-1.5 pr-3">
                    <time dateTime={t.at} title={relativeTime(t.at, now)}>
                      {absolute(t.at)}
                    </time>
                  </td>
                  <td className="whitespace-nowrap pr-3">
                    <Badge tone={HEALTH_TONE[t.previous] ?? 'slate'}>{t.previous}</Badge> <span aria-hidden="true">→</span>
                    <span className="sr-only">to</span> <Badge tone={HEALTH_TONE[t.health] ?? 'slate'}>{t.health}</Badge>
                  </td>
                  <td className="pr-3 font-mono text-xs">{t.code}</td>
                  <td className="pr-3">
                    {t.message}
                    <span className="block text-xs text-slate-500">
                      {t.check} {t.target}
                    </span>
                  </td>
                  <td className="whitespace-nowrap text-right font-mono text-xs">{formatDuration(t.durationMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </dialog>
  );
}
