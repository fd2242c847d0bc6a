'use client';
import { Fragment, useCallback, useEffect, useState } from 'react';
import { api, type ApiCallError } from './api-client';
import { useLiveEvents } from './live';
import { useCan } from './session';
import { Badge } from './ui/badge';
import { Button } from './ui/button';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { ChangeList, type Change } from './change-list';
import { ConfirmDialog } from './ui/confirm';

type Reason = { reason: string; detail: string; services: { name: string; advice: string }[] };
type Version = {
  id: number;
  hash: string;
  author: string;
  comment: string | null;
  status: string;
  rollbackOf: number | null;
  createdAt: string;
  reason: Reason | null;
};

/** Why a version failed, as kept on it: what to do, then each failed service. */
function FailedReason({ reason }: { reason: Reason }) {
  return (
    <div className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-900" data-testid="version-reason">
      <p>{reason.reason}</p>
      {reason.services.length > 0 && (
        <ul className="mt-1 list-disc pl-5">
          {reason.services.map((s) => (
            <li key={s.name}>
              <span className="font-medium">{s.name}</span>: {s.advice}
            </li>
          ))}
        </ul>
      )}
      {reason.detail && <p className="mt-1 text-xs text-red-800">Engine: {reason.detail}</p>}
    </div>
  );
}

export function HistoryPage() {
  const [data, setData] = useState<{ items: Version[]; runningVersion: number | null } | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [diff, setDiff] = useState<{ against: number | null; changes: Change[] } | null>(null);
  const [rollback, setRollback] = useState<Version | null>(null);
  const [preview, setPreview] = useState<{ changes: Change[]; staged: number } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [isBusy, setBusy] = useState(false);
  const canApply = useCan('config:apply');
  const load = useCallback(() => api('GET', '/config-versions').then(setData).catch(setError), []);
  useEffect(() => void load(), [load]);
  useLiveEvents(['engine'], (e) => e.event?.type === 'applied' && void load());

  async function show(id: number) {
    if (open === id) return setOpen(null);
    setOpen(id);
    setDiff(null);
    setDiff(await api('GET', `/config-versions/${id}/diff`));
  }
  /** What the rollback would change in what runs, and how many staged changes it would replace. */
  async function askRollback(v: Version) {
    setRollback(v);
    setPreview(null);
    try {
      const against = data?.runningVersion ? `?against=${data.runningVersion}` : '';
      const [d, pending] = await Promise.all([
        api<{ changes: Change[] }>('GET', `/config-versions/${v.id}/diff${against}`),
        api<{ count: number }>('GET', '/changes'),
      ]);
      setPreview({ changes: d.changes, staged: pending.count });
    } catch (e) {
      setError(e as ApiCallError);
    }
  }
  async function doRollback() {
    if (!rollback) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const r = await api<{ message: string }>('POST', `/config-versions/${rollback.id}/rollback`);
      setNotice(r.message);
      await load();
    } catch (e) {
      setError(e as ApiCallError);
    } finally {
      setBusy(false);
      setRollback(null);
    }
  }
  return (
    <div className="space-y-5">
      <PageTitle sub="Every configuration sent to the engine, who sent it, and what changed.">History</PageTitle>
      {/* A failed apply says what to do (lib/config/outcomes.ts); the engine's own words are in the results. */}
      <ErrorBox error={error && { ...error.body, message: (error.body.details?.advice as string | undefined) ?? error.body.message }} />
      {notice && (
        <p role="status" className="rounded-md border border-emerald-300 bg-emerald-50 px-3 py-2 text-sm text-emerald-900">
          {notice}
        </p>
      )}
      <Card>
        <table className="w-full text-left text-sm">
          <thead className="text-xs uppercase text-slate-500">
            <tr>
              <th className="py-1">Version</th>
              <th>When</th>
              <th>Who</th>
              <th>Result</th>
              <th>Comment</th>
              <th className="text-right">Actions</th>
            </tr>
          </thead>
          <tbody>
            {data?.items.map((v) => (
              <Fragment key={v.id}>
                <tr className="border-t border-slate-100">
                  <td className="py-2 font-medium">
                    {v.id}
                    {data.runningVersion === v.id && (
                      <span className="ml-2">
                        <Badge tone="green">running</Badge>
                      </span>
                    )}
                  </td>
                  <td>{new Date(v.createdAt).toLocaleString('en-GB')}</td>
                  <td>{v.author}</td>
                  <td>
                    <Badge tone={v.status === 'applied' ? 'green' : v.status === 'failed' ? 'red' : 'slate'}>{v.status}</Badge>
                  </td>
                  <td className="text-slate-700">{v.comment}</td>
                  <td className="space-x-1 text-right whitespace-nowrap">
                    <Button size="sm" variant="secondary" onClick={() => show(v.id)} aria-expanded={open === v.id}>
                      {open === v.id ? 'Hide changes' : 'Show changes'}
                    </Button>
                    {canApply && v.status === 'applied' && data.runningVersion !== v.id && (
                      <Button size="sm" variant="warning" onClick={() => askRollback(v)}>
                        Roll back to this…
                      </Button>
                    )}
                  </td>
                </tr>
                {v.status === 'failed' && v.reason && (
                  <tr>
                    <td colSpan={6} className="pb-2">
                      <FailedReason reason={v.reason} />
                    </td>
                  </tr>
                )}
                {open === v.id && (
                  <tr>
                    <td colSpan={6} className="pb-3">
                      {diff ? (
                        <>
                          <p className="mb-2 text-xs text-slate-600">{diff.against ? `Against version ${diff.against}` : 'First version'}</p>
                          <ChangeList changes={diff.changes} />
                        </>
                      ) : (
                        'Loading…'
                      )}
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
            {data?.items.length === 0 && (
              <tr>
                <td colSpan={6} className="py-2 text-slate-600">
                  Nothing applied yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </Card>
      <ConfirmDialog
        open={!!rollback}
        title={`Roll back to version ${rollback?.id}?`}
        confirmLabel={`Roll back to version ${rollback?.id}`}
        tone="warning"
        onCancel={() => setRollback(null)}
        onConfirm={doRollback}
        isBusy={isBusy}
      >
        <p>
          The staged configuration becomes version {rollback?.id}&apos;s and is applied at once as a new version. Real servers keep their current
          online/drain/halt state.
        </p>
        {preview && preview.staged > 0 && (
          <p className="mt-2 font-medium text-amber-900">
            {preview.staged} staged change{preview.staged === 1 ? '' : 's'} not yet applied will be replaced.
          </p>
        )}
        <p className="mt-2 font-medium">What changes in what runs{data?.runningVersion ? ` (against running version ${data.runningVersion})` : ''}:</p>
        <div className="mt-1 max-h-[50vh] overflow-auto" data-testid="rollback-preview">
          {preview ? <ChangeList changes={preview.changes} /> : 'Loading…'}
        </div>
      </ConfirmDialog>
    </div>
  );
}
