'use client';
/**
 * Backup and restore (admins; lib/backup): download the whole staged configuration (private keys left out, or
 * encrypted with a passphrase); restore a file — uploaded, or one the schedule wrote — only after a preview that says
 * in words what it would change, and a confirmation; the restore stages, and nothing runs until applied. The
 * scheduled backups are listed with the schedule's settings (or how to turn it on).
 */
import { useCallback, useEffect, useState } from 'react';
import Link from 'next/link';
import { api, ApiCallError } from '../api-client';
import { ChangeList, type Change } from '../change-list';
import { Button } from '../ui/button';
import { Card, ErrorBox, PageTitle } from '../ui/card';
import { ConfirmDialog } from '../ui/confirm';
import { Field, Input } from '../ui/field';
import { TableScroll } from '../ui/table';

interface Preview {
  createdAt: string;
  createdBy: string;
  contentHash: string;
  secrets: string;
  configHash: string;
  candidateHash: string;
  changes: Change[];
}
interface Scheduled {
  isEnabled: boolean;
  error?: string;
  dir?: string;
  everyHours?: number;
  keep?: number;
  isEncrypted?: boolean;
  files: { name: string; bytes: number; writtenAt: string }[];
}
type Err = { code?: string; message: string } | null;

const asErr = (e: unknown): Err => (e instanceof ApiCallError ? e.body : { message: (e as Error).message });
const fieldsOf = (e: unknown) => (e instanceof ApiCallError ? e.fields : {});

function ExportCard() {
  const [passphrase, setPassphrase] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<Err>(null);
  const [done, setDone] = useState('');
  const download = async () => {
    setError(null);
    setFields({});
    setDone('');
    try {
      const file = await api<{ createdAt: string; secrets: { mode: string } }>('POST', '/backup/export', passphrase ? { passphrase } : {});
      const url = URL.createObjectURL(new Blob([JSON.stringify(file, null, 2)], { type: 'application/json' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `fulcrum-backup-${file.createdAt.replace(/[:.]/g, '-')}.json`;
      a.click();
      URL.revokeObjectURL(url);
      setDone(
        file.secrets.mode === 'encrypted'
          ? 'Downloaded, private keys encrypted with the passphrase. Keep the passphrase apart from the file.'
          : 'Downloaded, without private keys (give a passphrase to include them encrypted).',
      );
    } catch (e) {
      setFields(fieldsOf(e));
      setError(Object.keys(fieldsOf(e)).length ? null : asErr(e));
    }
  };
  return (
    <Card title="Export a backup">
      <p className="mb-3 text-sm text-slate-600">
        The whole staged configuration as versioned JSON with a content hash: services, real servers, certificates, floating IPs.
      </p>
      <div className="grid max-w-md gap-3">
        <Field
          label="Passphrase (optional, 12 characters or more)"
          error={fields.passphrase}
          hint="With one, private keys are included, encrypted (scrypt + AES-256-GCM). Without, they are left out."
        >
          {(p) => <Input {...p} type="password" autoComplete="new-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />}
        </Field>
        <div>
          <Button onClick={() => void download()}>Download backup</Button>
        </div>
        {done && (
          <p role="status" className="text-sm text-emerald-800">
            {done}
          </p>
        )}
        <ErrorBox error={error} />
      </div>
    </Card>
  );
}

function RestoreCard({ picked }: { picked: { name: string; file: unknown } | null }) {
  const [source, setSource] = useState<{ name: string; file: unknown } | null>(null);
  const [passphrase, setPassphrase] = useState('');
  const [preview, setPreview] = useState<Preview | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<Err>(null);
  const [isConfirming, setConfirming] = useState(false);
  const [isBusy, setBusy] = useState(false);
  const [restored, setRestored] = useState<number | null>(null);
  const reset = () => {
    setPreview(null);
    setFields({});
    setError(null);
    setRestored(null);
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: a newly picked file starts a fresh restore; reset is rebuilt each render and must not re-run it
  useEffect(() => {
    if (picked) {
      setSource(picked);
      reset();
    }
  }, [picked]);

  const choose = async (f: File | undefined) => {
    reset();
    if (!f) return setSource(null);
    try {
      setSource({ name: f.name, file: JSON.parse(await f.text()) });
    } catch {
      setSource(null);
      setFields({ file: `${f.name} is not JSON: choose a backup file this appliance (or its schedule) wrote.` });
    }
  };
  const body = () => ({ file: source?.file, ...(passphrase ? { passphrase } : {}) });
  const doPreview = async () => {
    reset();
    if (!source) return setFields({ file: 'Choose the backup file.' });
    try {
      setPreview(await api<Preview>('POST', '/backup/preview', body()));
    } catch (e) {
      setFields(fieldsOf(e));
      setError(asErr(e));
    }
  };
  const doRestore = async () => {
    setBusy(true);
    try {
      const r = await api<{ changes: number }>('POST', '/backup/restore', { ...body(), expectedCandidateHash: preview!.candidateHash });
      setRestored(r.changes);
      setPreview(null);
    } catch (e) {
      setError(asErr(e));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  return (
    <Card title="Restore a backup">
      <p className="mb-3 text-sm text-slate-600">
        Restoring stages the file's configuration in place of the staged one. Nothing changes before you confirm, and nothing runs until you apply.
      </p>
      <div className="grid max-w-md gap-3">
        <Field
          label="Backup file"
          error={fields.file}
          hint={source ? `Chosen: ${source.name}` : 'A .json file from Export, or Preview on a scheduled backup below.'}
        >
          {(p) => <Input {...p} type="file" accept="application/json,.json" onChange={(e) => void choose(e.target.files?.[0])} />}
        </Field>
        <Field label="Passphrase (if it was exported with one)" error={fields.passphrase}>
          {(p) => <Input {...p} type="password" autoComplete="off" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />}
        </Field>
        <div>
          <Button variant="secondary" onClick={() => void doPreview()}>
            Preview restore
          </Button>
        </div>
      </div>
      <div className="mt-3 space-y-3">
        {!Object.keys(fields).length && <ErrorBox error={error} />}
        {restored !== null && (
          <p role="status" className="text-sm text-emerald-800">
            Restored: {restored} change{restored === 1 ? '' : 's'} staged.{' '}
            <Link href="/changes" className="font-medium underline">
              Review and apply
            </Link>{' '}
            to run it.
          </p>
        )}
        {preview && (
          <div data-testid="restore-preview" className="space-y-3">
            <p className="text-sm">
              Made {new Date(preview.createdAt).toLocaleString()} by <strong>{preview.createdBy}</strong>, private keys{' '}
              {preview.secrets === 'encrypted' ? 'included (encrypted)' : 'left out'}. Restoring it makes{' '}
              <strong>
                {preview.changes.length} change{preview.changes.length === 1 ? '' : 's'}
              </strong>{' '}
              to the staged configuration:
            </p>
            <ChangeList changes={preview.changes} />
            <Button variant="danger" onClick={() => setConfirming(true)} disabled={preview.changes.length === 0}>
              Restore this backup…
            </Button>
          </div>
        )}
      </div>
      <ConfirmDialog
        open={isConfirming}
        title="Restore this backup?"
        confirmLabel="Stage the backup's configuration"
        tone="danger"
        isBusy={isBusy}
        onCancel={() => setConfirming(false)}
        onConfirm={() => void doRestore()}
      >
        The staged configuration is replaced by the backup's ({preview?.changes.length ?? 0} changes, listed on the page). What runs is unchanged until you
        apply.
      </ConfirmDialog>
    </Card>
  );
}

function ScheduledCard({ onPick }: { onPick: (p: { name: string; file: unknown }) => void }) {
  const [data, setData] = useState<Scheduled | null>(null);
  const [error, setError] = useState<Err>(null);
  const load = useCallback(async () => {
    try {
      setData(await api<Scheduled>('GET', '/backup/scheduled'));
    } catch (e) {
      setError(asErr(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);
  const pick = async (name: string) => {
    try {
      onPick({ name, file: await api('GET', `/backup/scheduled/${encodeURIComponent(name)}`) });
    } catch (e) {
      setError(asErr(e));
    }
  };
  return (
    <Card title="Scheduled backups">
      <ErrorBox error={error} />
      {data && !data.isEnabled && (
        <div data-testid="schedule-off" className="text-sm text-slate-700">
          {data.error ? (
            <ErrorBox error={{ message: `The schedule's settings are wrong, so no backup is made: ${data.error}` }} />
          ) : (
            <p>Scheduled backups are off.</p>
          )}
          <p className="mt-1">
            Set <code>FULCRUM_BACKUP_DIR</code> (best another disk) and restart the console; <code>FULCRUM_BACKUP_HOURS</code> (default 24),{' '}
            <code>FULCRUM_BACKUP_KEEP</code> (default 14) and <code>FULCRUM_BACKUP_PASSPHRASE_FILE</code> (to include private keys, encrypted) tune it.
          </p>
        </div>
      )}
      {data?.isEnabled && (
        <div className="space-y-3 text-sm">
          <p data-testid="schedule-on">
            Every {data.everyHours} h to <code>{data.dir}</code>, keeping the newest {data.keep}; private keys{' '}
            {data.isEncrypted ? 'included, encrypted' : 'left out'}.
          </p>
          {data.files.length === 0 ? (
            <p>No scheduled backup yet (the first is made a minute after the console starts).</p>
          ) : (
            <TableScroll label="Scheduled backup files" minWidth="32rem">
              <table data-testid="scheduled-files" className="w-full text-left text-xs">
                <thead className="uppercase text-slate-500">
                  <tr>
                    <th className="py-1">File</th>
                    <th>Written</th>
                    <th className="text-right">Size</th>
                    <th>
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.files.map((f) => (
                    <tr key={f.name} className="border-t border-slate-100">
                      <td className="py-1 font-mono">{f.name}</td>
                      <td>{new Date(f.writtenAt).toLocaleString()}</td>
                      <td className="text-right">{(f.bytes / 1024).toFixed(1)} KiB</td>
                      <td className="text-right">
                        <Button size="sm" variant="secondary" onClick={() => void pick(f.name)} aria-label={`Preview restoring ${f.name}`}>
                          Preview restore
                        </Button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          )}
        </div>
      )}
    </Card>
  );
}

export function BackupPage() {
  const [picked, setPicked] = useState<{ name: string; file: unknown } | null>(null);
  return (
    <div className="space-y-5">
      <PageTitle sub="Export and restore the whole configuration; every export and restore is in the audit log.">Backup and restore</PageTitle>
      <div className="grid gap-5 lg:grid-cols-2">
        <ExportCard />
        <RestoreCard picked={picked} />
      </div>
      <ScheduledCard onPick={setPicked} />
    </div>
  );
}
