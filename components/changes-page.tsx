'use client';
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, type ApiCallError } from './api-client';
import { useLiveEvents } from './live';
import { useCan } from './session';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input } from './ui/field';
import { ChangeList, type Change } from './change-list';
import { ConfirmDialog } from './ui/confirm';

type Result = { name: string; layer: number; status: string; message: string; operations?: number; advice?: string | null };
const tone: Record<string, Tone> = { programmed: 'green', 'not-programmed': 'amber', failed: 'red', removed: 'slate' };

export function ResultTable({ results }: { results: Result[] }) {
  return (
    <table className="w-full text-left text-sm" data-testid="apply-results">
      <thead className="text-xs uppercase text-slate-500">
        <tr>
          <th className="py-1">Service</th>
          <th>Layer</th>
          <th>Result</th>
          <th>What to do</th>
        </tr>
      </thead>
      <tbody>
        {results.map((r) => (
          <tr key={r.name} className="border-t border-slate-100 align-top">
            <td className="py-1.5 font-medium">{r.name}</td>
            <td>L{r.layer}</td>
            <td>
              <Badge tone={tone[r.status] ?? 'slate'}>{r.status}</Badge>
            </td>
            <td className="text-slate-800">
              {r.advice ?? (r.status === 'failed' ? r.message : 'Nothing: it runs.')}
              {r.advice && <span className="block text-xs text-slate-500">Engine: {r.message}</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type Pending = {
  count: number;
  offset: number;
  summary: string[];
  changes: Change[];
  candidateHash: string;
  running: { version: number } | null;
  policy: string;
};

/** Objects per page: GET /changes answers one page, each field in words, so its cost follows the page, not the table. */
const PAGE = 50;

/** Previous / next through the server's pages of objects ("Objects 51–100 of 5,000"). */
function Pager({ offset, count, onGo }: { offset: number; count: number; onGo: (offset: number) => void }) {
  if (count <= PAGE) return null;
  const last = Math.floor((count - 1) / PAGE) * PAGE;
  const n = (x: number) => x.toLocaleString('en-GB');
  return (
    <nav className="mt-3 flex flex-wrap items-center gap-2 text-sm" aria-label="Pages of changes">
      <Button size="sm" variant="secondary" disabled={offset === 0} onClick={() => onGo(0)}>
        First
      </Button>
      <Button size="sm" variant="secondary" disabled={offset === 0} onClick={() => onGo(Math.max(0, offset - PAGE))}>
        Previous
      </Button>
      <span data-testid="change-page">
        Objects {n(offset + 1)}–{n(Math.min(count, offset + PAGE))} of {n(count)}
      </span>
      <Button size="sm" variant="secondary" disabled={offset >= last} onClick={() => onGo(offset + PAGE)}>
        Next
      </Button>
      <Button size="sm" variant="secondary" disabled={offset >= last} onClick={() => onGo(last)}>
        Last
      </Button>
    </nav>
  );
}

export function ChangesPage() {
  const [data, setData] = useState<Pending | null>(null);
  const [discarding, setDiscarding] = useState<Change | 'all' | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const canWrite = useCan('config:write');
  const [comment, setComment] = useState('');
  const [error, setError] = useState<ApiCallError | null>(null);
  const [result, setResult] = useState<{ version: number; results: Result[]; advice?: string } | null>(null);
  const [isConfirming, setConfirming] = useState(false);
  const [isBusy, setBusy] = useState(false);
  const canApply = useCan('config:apply');
  const [offset, setOffset] = useState(0);
  // Only the answer to the latest request is shown: pages clicked through quickly may answer out of order.
  const latest = useRef(0);
  const load = useCallback(() => {
    const asked = ++latest.current;
    return api<Pending>('GET', `/changes?offset=${offset}&limit=${PAGE}`)
      .then((d) => {
        if (asked !== latest.current) return;
        // The list got shorter than this page (a discard, someone else's apply): show its last page instead.
        if (d.changes.length === 0 && d.count > 0 && offset > 0) setOffset(Math.floor((d.count - 1) / PAGE) * PAGE);
        else setData(d);
      })
      .catch(setError);
  }, [offset]);
  useEffect(() => void load(), [load]);
  useLiveEvents(['candidate-changed'], () => void load());

  async function discard() {
    if (!discarding || !data) return;
    setBusy(true);
    setError(null);
    try {
      if (discarding === 'all') {
        const r = await api<{ discarded: number; runningVersion: number | null }>('POST', '/changes/discard', { expectedHash: data.candidateHash });
        setNotice(
          `${r.discarded} staged change${r.discarded === 1 ? '' : 's'} discarded: the staged configuration is ${r.runningVersion ? `version ${r.runningVersion}` : 'empty'} again.`,
        );
      } else {
        await api('POST', '/changes/discard', { object: { type: discarding.objectType, name: discarding.name } });
        setNotice(`Discarded: ${discarding.headline ?? discarding.name}.`);
      }
      await load();
    } catch (e) {
      setError(e as ApiCallError);
    } finally {
      setBusy(false);
      setDiscarding(null);
    }
  }

  async function apply() {
    setBusy(true);
    setError(null);
    try {
      const r = await api('POST', '/apply', { comment: comment || undefined, expectedHash: data?.candidateHash });
      setResult(r);
      setNotice(null);
      setComment('');
      await load();
    } catch (e) {
      const ae = e as ApiCallError;
      setError(ae);
      if (ae.body.details?.results)
        setResult({
          version: Number(ae.body.details.version),
          results: ae.body.details.results as Result[],
          advice: ae.body.details.advice as string | undefined,
        });
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  }

  return (
    <div className="space-y-5">
      <PageTitle sub={data?.running ? `Compared with running version ${data.running.version}.` : 'Nothing has been applied yet: everything below is new.'}>
        Pending changes
      </PageTitle>
      {/* A failed apply says what to do (lib/config/outcomes.ts); the engine's own words are in the results. */}
      <ErrorBox error={error && { ...error.body, message: (error.body.details?.advice as string | undefined) ?? error.body.message }} />
      {notice && (
        <p role="status" className="rounded-md border border-emerald-300 bg-emerald-50 px-3 py-2 text-sm text-emerald-900">
          {notice}
        </p>
      )}
      {result && (
        <Card title={`Version ${result.version}: engine result`}>
          {result.advice && <p className="mb-2 text-sm font-medium text-red-900">{result.advice}</p>}
          <ResultTable results={result.results} />
        </Card>
      )}
      <Card
        title={data ? `${data.count} pending change${data.count === 1 ? '' : 's'}` : 'Loading…'}
        actions={
          data && (
            <div className="flex flex-wrap gap-2">
              {canWrite && data.count > 0 && (
                <Button variant="secondary" onClick={() => setDiscarding('all')}>
                  Discard all…
                </Button>
              )}
              {canApply &&
                (data.count > 0 ? (
                  <Button onClick={() => setConfirming(true)}>
                    Apply {data.count} change{data.count === 1 ? '' : 's'}
                  </Button>
                ) : (
                  <Button
                    variant="secondary"
                    onClick={() => setConfirming(true)}
                    title="Send the running configuration to the engine again (after an engine was replaced or lost its state)"
                  >
                    Apply again
                  </Button>
                ))}
            </div>
          )
        }
      >
        {data && data.count > PAGE && (
          <ul className="mb-3 list-inside list-disc text-sm text-slate-800" data-testid="change-summary">
            {data.summary.map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
        )}
        {data && <ChangeList changes={data.changes} onDiscard={canWrite ? (c) => setDiscarding(c) : undefined} />}
        {data && <Pager offset={data.offset} count={data.count} onGo={setOffset} />}
        {canApply && data && data.count > 0 && (
          <div className="mt-4 max-w-xl">
            <Field label="Comment for the record (optional)">
              {(p) => <Input {...p} name="comment" value={comment} onChange={(e) => setComment(e.target.value)} placeholder="e.g. CHG0012345: add sym-app-3" />}
            </Field>
          </div>
        )}
      </Card>
      <ConfirmDialog
        open={isConfirming}
        title="Apply these changes?"
        confirmLabel="Apply now"
        tone="primary"
        onCancel={() => setConfirming(false)}
        onConfirm={apply}
        isBusy={isBusy}
      >
        <p>
          The engine will run the staged configuration ({data?.count} change{data?.count === 1 ? '' : 's'}). If it cannot, the running version stays in place
          and you will see why.
        </p>
        {data?.policy && (
          <p className="mt-2" data-testid="apply-policy">
            <strong>If a service fails:</strong> {data.policy}
          </p>
        )}
      </ConfirmDialog>
      <ConfirmDialog
        open={!!discarding}
        title={discarding === 'all' ? `Discard all ${data?.count} staged changes?` : 'Discard these staged changes?'}
        confirmLabel={discarding === 'all' ? 'Discard all' : 'Discard'}
        tone="danger"
        onCancel={() => setDiscarding(null)}
        onConfirm={discard}
        isBusy={isBusy}
      >
        {discarding === 'all' ? (
          <p>
            The staged configuration goes back to {data?.running ? `running version ${data.running.version}` : 'empty (nothing was applied yet)'}. Real servers
            keep their current online/drain/halt state. This cannot be undone.
          </p>
        ) : (
          <p>
            {discarding?.headline ?? discarding?.name}: back to how {data?.running ? `version ${data.running.version}` : 'the running version'} has it
            {discarding?.kind === 'added' ? ' (it is not there, so it is removed)' : ''}. Other staged changes stay.
          </p>
        )}
      </ConfirmDialog>
    </div>
  );
}
