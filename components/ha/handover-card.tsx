'use client';
/**
 * "Move the service to the peer": confirmed, with a reason that goes in the audit trail on both nodes. While it
 * runs, what the last look found (this node's addresses, the peer's VRRP state), live; then "End standby".
 */
import { useState } from 'react';
import { api, type ApiCallError } from '../api-client';
import { useHaWhyNot as useWhyNot } from './why-not';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, ErrorBox } from '../ui/card';
import { ConfirmDialog } from '../ui/confirm';
import { Field, Input } from '../ui/field';
import { when, type HaView } from './types';

const STATE_TONE = { 'handing-over': 'amber', done: 'green', 'timed-out': 'red', ended: 'slate' } as const;
const STATE_TEXT = { 'handing-over': 'Handing over…', done: 'Peer holds the service', 'timed-out': 'Not confirmed', ended: 'Standby ended' } as const;

export function HandoverCard({ view, onChange }: { view: HaView; onChange: () => void }) {
  const whyNot = useWhyNot('config:apply');
  const [isAsking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiCallError | null>(null);
  const [isBusy, setBusy] = useState(false);
  const ha = view.local.engine.ha;
  const peerName = view.pair?.peerName ?? view.peer?.status?.name ?? 'the peer';
  const standby = ha?.standby ?? null;
  const h = view.handover;

  async function run(fn: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    setFields({});
    try {
      await fn();
      setAsking(false);
      onChange();
    } catch (e) {
      const ae = e as ApiCallError;
      setFields(ae.fields ?? {});
      if (!Object.keys(ae.fields ?? {}).length) {
        setError(ae);
        setAsking(false);
      }
    } finally {
      setBusy(false);
    }
  }
  const handOver = () => run(() => api('POST', '/ha/handover', { confirm: true, reason }));
  const endStandby = () => run(() => api('POST', '/ha/handover/end'));

  return (
    <Card
      title="Move the service to the peer"
      actions={
        standby ? (
          <Button size="sm" variant="secondary" disabled={isBusy || !!whyNot} title={whyNot ?? undefined} onClick={endStandby}>
            End standby
          </Button>
        ) : (
          <Button
            size="sm"
            variant="warning"
            disabled={isBusy || !!whyNot || !ha}
            title={whyNot ?? (!ha ? 'keepalived does not run here' : undefined)}
            onClick={() => setAsking(true)}
          >
            Move the service to {peerName}…
          </Button>
        )
      }
    >
      <ErrorBox error={error?.body} />
      {!ha && (
        <p className="text-sm text-slate-600">
          The running configuration has no HA block, so keepalived does not run on this node and there is nothing to hand over.
        </p>
      )}
      {ha && !standby && !h && (
        <p className="text-sm text-slate-600">
          For maintenance of this node: it gives up its virtual IPs, {peerName} takes them (layer 4 connections carry over through connection sync), and this
          node stands by until you end standby.
        </p>
      )}
      {standby && (
        <p className="text-sm">
          <Badge tone="amber">Standing by</Badge> since {when(standby.since)}, by {standby.by}: {standby.reason}
        </p>
      )}
      {h && (
        <div aria-live="polite" data-testid="handover-progress" className="mt-2 text-sm">
          <Badge tone={STATE_TONE[h.state]}>{STATE_TEXT[h.state]}</Badge> <span className="text-slate-700">{h.progress}</span>
          <p className="text-xs text-slate-500">
            Started {when(h.startedAt)} by {h.by}
            {h.doneAt ? `; ${h.state === 'ended' ? 'ended' : 'done'} ${when(h.doneAt)}` : ''}.
          </p>
        </div>
      )}
      {!whyNot ? null : <p className="mt-2 text-xs text-slate-500">{whyNot}</p>}
      <ConfirmDialog
        open={isAsking}
        tone="warning"
        title={`Move the service to ${peerName}?`}
        confirmLabel={`Move to ${peerName}`}
        isBusy={isBusy}
        onCancel={() => setAsking(false)}
        onConfirm={handOver}
      >
        <p className="mb-3">
          This node gives up {ha?.instances.flatMap((i) => i.addresses.filter((a) => a.isHeld).map((a) => a.address)).join(', ') || 'its virtual IPs'} now.
          Clients see a moment of loss (about two seconds); layer 7 connections through this node end. It stands by until you end standby.
        </p>
        <Field label="Reason (audited on both nodes)" error={fields.reason}>
          {(p) => <Input {...p} name="handover-reason" placeholder="Patching fulcrum-a" value={reason} onChange={(e) => setReason(e.target.value)} />}
        </Field>
      </ConfirmDialog>
    </Card>
  );
}
