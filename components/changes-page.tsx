'use client';
import { useCallback, useEffect, useState } from 'react';
import { api, ApiCallError } from './api-client';
import { useLiveEvents } from './live';
import { useCan } from './session';
import { Badge, type Tone } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { Field, Input } from './ui/field';
import { ChangeList, type Change } from './change-list';
import { ConfirmDialog } from './ui/confirm';

type Result = { name: string; layer: number; status: string; message: string; operations?: number };
const tone: Record<string, Tone> = { programmed: 'green', 'not-programmed': 'amber', failed: 'red', removed: 'slate' };

export function ResultTable({ results }: { results: Result[] }) {
  return (
    <table className="w-full text-left text-sm" data-testid="apply-results">
      <thead className="text-xs uppercase text-slate-500"><tr><th className="py-1">Service</th><th>Layer</th><th>Result</th><th>Detail</th></tr></thead>
      <tbody>{results.map((r) => (
        <tr key={r.name} className="border-t border-slate-100 align-top"><td className="py-1.5 font-medium">{r.name}</td><td>L{r.layer}</td><td><Badge tone={tone[r.status] ?? 'slate'}>{r.status}</Badge></td><td className="text-slate-700">{r.message}</td></tr>
      ))}</tbody>
    </table>
  );
}

export function ChangesPage() {
  const [data, setData] = useState<{ count: number; changes: Change[]; candidateHash: string; running: { version: number } | null } | null>(null);
  const [comment, setComment] = useState('');
  const [error, setError] = useState<ApiCallError | null>(null);
  const [result, setResult] = useState<{ version: number; results: Result[] } | null>(null);
  const [isConfirming, setConfirming] = useState(false);
  const [isBusy, setBusy] = useState(false);
  const canApply = useCan('config:apply');
  const load = useCallback(() => api('GET', '/changes').then(setData).catch(setError), []);
  useEffect(() => void load(), [load]);
  useLiveEvents(['candidate-changed'], () => void load());

  async function apply() {
    setBusy(true);
    setError(null);
    try {
      const r = await api('POST', '/apply', { comment: comment || undefined, expectedHash: data?.candidateHash });
      setResult(r);
      setComment('');
      await load();
    } catch (e) {
      const ae = e as ApiCallError;
      setError(ae);
      if (ae.body.details?.results) setResult({ version: Number(ae.body.details.version), results: ae.body.details.results as Result[] });
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  }

  return (
    <div className="space-y-5">
      <PageTitle sub={data?.running ? `Compared with running version ${data.running.version}.` : 'Nothing has been applied yet: everything below is new.'}>Pending changes</PageTitle>
      <ErrorBox error={error?.body} />
      {result && (
        <Card title={`Version ${result.version}: engine result`}>
          <ResultTable results={result.results} />
        </Card>
      )}
      <Card title={data ? `${data.count} pending change${data.count === 1 ? '' : 's'}` : 'Loading…'}
        actions={canApply && data && (data.count > 0
          ? <Button onClick={() => setConfirming(true)}>Apply {data.count} change{data.count === 1 ? '' : 's'}</Button>
          : <Button variant="secondary" onClick={() => setConfirming(true)} title="Send the running configuration to the engine again (after an engine was replaced or lost its state)">Apply again</Button>)}>
        {data && <ChangeList changes={data.changes} />}
        {canApply && data && data.count > 0 && (
          <div className="mt-4 max-w-xl">
            <Field label="Comment for the record (optional)">{(p) => <Input {...p} name="comment" value={comment} onChange={(e) => setComment(e.target.value)} placeholder="e.g. CHG0012345: add sym-app-3" />}</Field>
          </div>
        )}
      </Card>
      <ConfirmDialog open={isConfirming} title="Apply these changes?" confirmLabel="Apply now" tone="primary" onCancel={() => setConfirming(false)} onConfirm={apply} isBusy={isBusy}>
        <p>The engine will run the staged configuration ({data?.count} change{data?.count === 1 ? '' : 's'}). If it cannot, the running version stays in place and you will see why.</p>
      </ConfirmDialog>
    </div>
  );
}
