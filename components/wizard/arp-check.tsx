'use client';
/**
 * The final screen's ARP check (lib/wizard/arp-check.ts, vip-check.ts): per real server of a DR service, whether it
 * answers ARP for the VIP (it must not), asked on the LAN from this appliance, and whether it takes a packet for the
 * VIP sent to its MAC (it must), in words with what to change.
 */
import { useState } from 'react';
import { api, type ApiCallError } from '../api-client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { ErrorBox } from '../ui/card';
import type { ServiceObject } from './types';

type VipCheck = { outcome: string; port: number | null; message: string };
type Result = { service: string; realServer: string; address: string; outcome: string; mac: string | null; message: string; vipCheck: VipCheck };

const TONE: Record<string, 'green' | 'red' | 'amber' | 'slate'> = {
  ok: 'green',
  'answers-arp': 'red',
  'no-answer': 'amber',
  'no-interface': 'red',
  error: 'red',
};
const WORD: Record<string, string> = {
  ok: 'quiet for the VIP',
  'answers-arp': 'answers ARP for the VIP',
  'no-answer': 'no ARP answer',
  'no-interface': 'not on a local subnet',
  'not-probed': 'not probed',
  error: 'probe failed',
};
const VIP_TONE: Record<string, 'green' | 'red' | 'amber' | 'slate'> = { accepts: 'green', 'not-listening': 'amber', 'no-answer': 'red', error: 'red' };
const VIP_WORD: Record<string, string> = {
  accepts: 'takes the VIP',
  'not-listening': 'takes the VIP, port closed',
  'no-answer': 'does not take the VIP',
  'not-checked': 'VIP not checked',
  error: 'VIP check failed',
};

export function ArpCheck({ runId, services }: { runId: string; services: ServiceObject[] }) {
  const [results, setResults] = useState<Result[] | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [isBusy, setBusy] = useState(false);
  if (!services.some((s) => s.layer === 4 && (s.mode === 'dr' || s.mode === 'tun'))) return null;
  async function check() {
    setBusy(true);
    setError(null);
    try {
      setResults((await api<{ items: Result[] }>('POST', `/wizard/runs/${runId}/arp-check`)).items);
    } catch (e) {
      setError(e as ApiCallError);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section aria-labelledby="arp-check-title" className="space-y-2">
      <h3 id="arp-check-title" className="text-base font-semibold">
        The ARP problem: does each real server stay quiet for the VIP, and take packets for it?
      </h3>
      <p className="text-sm text-slate-700">
        This appliance asks the LAN who has the VIP, as a router would. Only this appliance may answer; a real server that answers takes clients away from it.
        Then it sends each server a connection request for the VIP at the server&apos;s own network address, as it forwards clients in DR: a server without the
        VIP on its loopback drops it. This takes a few seconds per server.
      </p>
      <Button variant="secondary" onClick={check} disabled={isBusy}>
        {isBusy ? 'Checking…' : 'Check ARP and the VIP from this appliance'}
      </Button>
      <ErrorBox error={error?.body} />
      {results && (
        <ul className="space-y-1 text-sm" data-testid="arp-check">
          {results.map((r) => (
            <li key={`${r.service}/${r.realServer}`} data-testid={`arp-check-${r.realServer}`}>
              <p>
                <Badge tone={TONE[r.outcome] ?? 'slate'}>{WORD[r.outcome] ?? r.outcome}</Badge> {r.message}
              </p>
              <p data-testid={`vip-check-${r.realServer}`}>
                <Badge tone={VIP_TONE[r.vipCheck.outcome] ?? 'slate'}>{VIP_WORD[r.vipCheck.outcome] ?? r.vipCheck.outcome}</Badge> {r.vipCheck.message}
              </p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
