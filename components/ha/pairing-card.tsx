'use client';
/**
 * Pairing, from either side: the primary shows a one-time code (with its certificate's fingerprint, to compare on
 * the other screen), the secondary enters the primary's peer address and that code. Once paired: who the peer is,
 * its pinned fingerprint, and unpairing (confirmed).
 */
import { useState, type FormEvent } from 'react';
import { api, type ApiCallError } from '../api-client';
import { useHaWhyNot as useWhyNot } from './why-not';
import { Button } from '../ui/button';
import { Card, ErrorBox } from '../ui/card';
import { ConfirmDialog } from '../ui/confirm';
import { Field, Input } from '../ui/field';
import { when, type HaView } from './types';

export function PairingCard({ view, onChange }: { view: HaView; onChange: () => void }) {
  const whyNot = useWhyNot('config:write');
  const [code, setCode] = useState<{ code: string; expiresAt: string; fingerprint: string } | null>(null);
  const [url, setUrl] = useState('');
  const [typed, setTyped] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiCallError | null>(null);
  const [isBusy, setBusy] = useState(false);
  const [isUnpairing, setUnpairing] = useState(false);

  async function run(fn: () => Promise<void>) {
    setBusy(true);
    setError(null);
    setFields({});
    try {
      await fn();
      onChange();
    } catch (e) {
      const ae = e as ApiCallError;
      setFields(ae.fields ?? {});
      if (!Object.keys(ae.fields ?? {}).length) setError(ae);
    } finally {
      setBusy(false);
    }
  }
  const showCode = () => run(async () => setCode(await api('POST', '/ha/pairing-code')));
  const pair = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await api('POST', '/ha/pair', { url, code: typed });
    });
  };
  const unpair = () =>
    run(async () => {
      await api('POST', '/ha/unpair', { confirm: true });
      setUnpairing(false);
    });

  if (view.pair) {
    const p = view.pair;
    return (
      <Card
        title="Pairing"
        actions={
          !whyNot && (
            <Button size="sm" variant="danger" onClick={() => setUnpairing(true)}>
              Unpair…
            </Button>
          )
        }
      >
        <ErrorBox error={error?.body} />
        <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
          <dt className="text-slate-500">Paired with</dt>
          <dd>
            {p.peerName}, this node is the <strong>{p.role}</strong>
          </dd>
          <dt className="text-slate-500">Peer link</dt>
          <dd className="font-mono text-xs">{p.peerUrl}</dd>
          <dt className="text-slate-500">Peer console</dt>
          <dd>
            <a className="text-sky-800 underline" href={p.peerConsoleUrl}>
              {p.peerConsoleUrl}
            </a>
          </dd>
          <dt className="text-slate-500">Pinned certificate</dt>
          <dd className="break-all font-mono text-[0.7rem]">{p.peerFingerprint}</dd>
          <dt className="text-slate-500">This node&apos;s certificate</dt>
          <dd className="break-all font-mono text-[0.7rem]">{view.local.fingerprint}</dd>
          <dt className="text-slate-500">Paired at</dt>
          <dd>{when(p.pairedAt)}</dd>
        </dl>
        <ConfirmDialog
          open={isUnpairing}
          title={`Unpair from ${p.peerName}?`}
          confirmLabel="Unpair both nodes"
          isBusy={isBusy}
          onCancel={() => setUnpairing(false)}
          onConfirm={unpair}
        >
          <p>
            Configuration stops being copied between the nodes, and{' '}
            {p.role === 'secondary' ? 'this node accepts edits of its own again' : `${p.peerName} accepts edits of its own`}. keepalived keeps running as
            configured. Pairing again needs a new code.
          </p>
        </ConfirmDialog>
      </Card>
    );
  }
  return (
    <Card title="Pair with the other node">
      <ErrorBox error={error?.body} />
      {whyNot && <p className="text-sm text-slate-600">{whyNot}</p>}
      <div className="grid gap-6 md:grid-cols-2">
        <section aria-labelledby="primary-side" className="space-y-2">
          <h3 id="primary-side" className="font-medium">
            On the primary
          </h3>
          <p className="text-sm text-slate-600">
            Show a one-time code here and type it on the other node. It is good once, for {view.pairingCodeMinutes} minutes. This node becomes the primary: the
            one where changes are made.
          </p>
          {code ? (
            <div className="rounded-md border border-sky-300 bg-sky-50 p-3">
              <p className="text-xs text-slate-600">Pairing code</p>
              <p data-testid="pairing-code" className="font-mono text-2xl font-semibold tracking-widest">
                {code.code}
              </p>
              <p className="mt-1 text-xs text-slate-600">
                Expires {when(code.expiresAt)}. The other node will show this node&apos;s certificate fingerprint after pairing:{' '}
                <span className="break-all font-mono">{code.fingerprint}</span>
              </p>
            </div>
          ) : null}
          <Button onClick={showCode} disabled={isBusy || !!whyNot}>
            {code ? 'Show a new code' : 'Show a pairing code'}
          </Button>
        </section>
        <form method="post" onSubmit={pair} noValidate aria-labelledby="secondary-side" className="space-y-3">
          <h3 id="secondary-side" className="font-medium">
            On the secondary
          </h3>
          <p className="text-sm text-slate-600">
            Enter the primary&apos;s peer address and the code it shows. This node then takes the primary&apos;s configuration, certificates and users (its own
            users are replaced: log in here with the primary&apos;s), and refuses edits of its own.
          </p>
          <Field label="Primary's peer address" error={fields.url} hint="https://host:9444 — the peer link, not the browser port.">
            {(p) => <Input {...p} name="peer-url" placeholder="https://fulcrum-a:9444" value={url} onChange={(e) => setUrl(e.target.value)} />}
          </Field>
          <Field label="Pairing code" error={fields.code}>
            {(p) => (
              <Input
                {...p}
                name="pairing-code"
                autoComplete="off"
                placeholder="XXXX-XXXX-XXXX"
                className="font-mono uppercase"
                value={typed}
                onChange={(e) => setTyped(e.target.value)}
              />
            )}
          </Field>
          <Button type="submit" disabled={isBusy || !!whyNot}>
            {isBusy ? 'Pairing…' : 'Pair as the secondary'}
          </Button>
        </form>
      </div>
    </Card>
  );
}
