'use client';
/**
 * After create: apply (the console's ordinary apply route, with the run named in the comment), then the final screen
 * that proves it live: each real server's health from the engine's status and the live feed, a request through each
 * VIP:port sent from this appliance, for DR whether each real server answers ARP for the VIP (asked on the LAN from
 * this appliance), and the ARP scripts again.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, type ApiCallError } from '../api-client';
import { ResultTable } from '../changes-page';
import { useLiveEvents, useWatchServices } from '../live';
import { RealServerHealth, type CheckStatus } from '../real-server-health';
import { useCan } from '../session';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { ErrorBox } from '../ui/card';
import { ArpCheck } from './arp-check';
import { ArpDownloads } from './arp-downloads';
import { CertificateWait } from './csr';
import type { Run, ServiceObject } from './types';

type Vs = Omit<ServiceObject, 'realServers'> & { id: string; realServers: (ServiceObject['realServers'][number] & { id: string })[] };
type Status = {
  engine: {
    status: { services: { name: string; status: string; message: string; realServers: { name: string; health: string; check?: CheckStatus }[] }[] } | null;
  };
};
type ApplyResult = { version: number; results: { name: string; layer: number; status: string; message: string }[] };
type TestResult = { service: string; target: string; outcome: string; message: string };

export function Finish({ run }: { run: Run }) {
  const names = new Set(run.result?.services.map((s) => s.name) ?? []);
  const [services, setServices] = useState<Vs[]>([]);
  const [status, setStatus] = useState<Status | null>(null);
  const [applied, setApplied] = useState<ApplyResult | null>(null);
  const [tests, setTests] = useState<TestResult[] | null>(null);
  const [error, setError] = useState<ApiCallError | null>(null);
  const [isBusy, setBusy] = useState(false);
  const canApply = useCan('config:apply');
  const key = [...names].join(',');

  const load = useCallback(async () => {
    const [vs, st] = await Promise.all([api<{ items: Vs[] }>('GET', '/virtual-services'), api<Status>('GET', '/status')]);
    setServices(vs.items.filter((v) => key.split(',').includes(v.name)));
    setStatus(st);
  }, [key]);
  useEffect(() => void load().catch(setError), [load]);
  useWatchServices([...names]);
  useLiveEvents(['engine'], (e) => {
    // A 'stats' event carries the run's services' state and checks (every 2 s); a health change or an apply reloads.
    if (e.event?.type === 'stats') setStatus({ engine: { status: { services: e.event.services } } });
    else if (e.event?.type === 'health' || e.event?.type === 'applied') void load().catch(() => undefined);
  });

  async function apply() {
    setBusy(true);
    setError(null);
    try {
      setApplied(await api<ApplyResult>('POST', '/apply', { comment: `Setup wizard: ${run.templateTitle}, run ${run.id}` }));
      await load();
    } catch (e) {
      setError(e as ApiCallError);
    } finally {
      setBusy(false);
    }
  }

  async function testRequest() {
    setBusy(true);
    try {
      setTests((await api<{ items: TestResult[] }>('POST', `/wizard/runs/${run.id}/test-request`)).items);
    } catch (e) {
      setError(e as ApiCallError);
    } finally {
      setBusy(false);
    }
  }

  const engineServices = status?.engine.status?.services ?? [];
  // Applied: the engine knows every service of the run; live: it also programmed every one on this machine.
  const isApplied = services.length > 0 && services.every((s) => engineServices.some((x) => x.name === s.name));
  const isLive = isApplied && services.every((s) => engineServices.find((x) => x.name === s.name)?.status === 'programmed');
  return (
    <div className="space-y-5">
      <p className="text-sm">
        Created (staged): {[...names].join(', ')}
        {run.result?.certificate
          ? run.result.certificateRequest
            ? `, and the self-signed placeholder certificate ${run.result.certificate} (until the CA signs its request)`
            : `, and the certificate ${run.result.certificate}`
          : ''}
        . {isLive ? 'They are running.' : isApplied ? 'Applied, but not everything runs on this machine: the engine says why below.' : 'They run once applied.'}
      </p>
      <ErrorBox error={error?.body} />
      {!isApplied && (
        <div className="flex items-center gap-3">
          <Button onClick={apply} disabled={isBusy || !canApply}>
            Apply now
          </Button>
          <span className="text-xs text-slate-600">Applies everything in Pending changes, these objects included.</span>
        </div>
      )}
      {applied && <ResultTable results={applied.results} />}
      <section aria-labelledby="live-title" className="space-y-3">
        <h3 id="live-title" className="text-base font-semibold">
          Live: each real server&apos;s health
        </h3>
        {services.map((vs) => {
          const st = engineServices.find((s) => s.name === vs.name);
          return (
            <div key={vs.id} className="rounded-md border border-slate-200 p-3" data-testid={`live-${vs.name}`}>
              <p className="flex flex-wrap items-center gap-2 text-sm font-medium">
                {vs.name}{' '}
                <span className="font-mono text-xs">
                  {vs.address}:{vs.ports.join(',')}
                </span>
                {st ? (
                  <Badge tone={st.status === 'programmed' ? 'green' : st.status === 'failed' ? 'red' : 'amber'} title={st.message}>
                    {st.status}
                  </Badge>
                ) : (
                  <Badge tone="slate">not applied</Badge>
                )}
              </p>
              {st && st.status !== 'programmed' && <p className="text-xs text-amber-900">{st.message}</p>}
              <table className="mt-2 w-full text-left text-sm">
                <thead className="text-xs uppercase text-slate-500">
                  <tr>
                    <th className="py-1">Real server</th>
                    <th>Address</th>
                    <th>Health</th>
                  </tr>
                </thead>
                <tbody>
                  {vs.realServers.map((rs) => {
                    const r = st?.realServers.find((x) => x.name === rs.name);
                    return (
                      <tr key={rs.id} className="border-t border-slate-100" data-testid={`live-rs-${rs.name}`}>
                        <td className="py-1.5">{rs.name}</td>
                        <td className="font-mono text-xs">
                          {rs.address}
                          {rs.port ? `:${rs.port}` : ''}
                        </td>
                        <td>
                          <RealServerHealth
                            rsId={rs.id}
                            name={rs.name}
                            service={vs.name}
                            health={r?.health}
                            check={r?.check}
                            isCheckOff={vs.healthCheck.type === 'none'}
                          />
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          );
        })}
      </section>
      <section aria-labelledby="test-title" className="space-y-2">
        <h3 id="test-title" className="text-base font-semibold">
          A request through the VIP
        </h3>
        <Button variant="secondary" onClick={testRequest} disabled={isBusy || !isApplied}>
          Send a test request from this appliance
        </Button>
        {tests && (
          <ul className="space-y-1 text-sm" data-testid="test-requests">
            {tests.map((t) => (
              <li key={t.target}>
                <Badge tone={t.outcome === 'reachable' ? 'green' : t.outcome === 'not-probed' ? 'slate' : 'red'}>{t.outcome}</Badge> {t.message}
              </li>
            ))}
          </ul>
        )}
      </section>
      {run.result?.certificateRequest && <CertificateWait name={run.result.certificateRequest} />}
      <ArpCheck runId={run.id} services={services} />
      <ArpDownloads runId={run.id} services={services} />
    </div>
  );
}
