'use client';
/**
 * The certificate step's third way: a key and a signing request (CSR) made on this appliance for the hospital's CA,
 * with the Certificates page's own form and request card (components/certificates/requests.tsx, over the same
 * POST /certificate-requests: the key is made and sealed there, never in the wizard).
 *
 * What happens while the CA signs (often days): the run goes on. Create makes a self-signed placeholder under the
 * request's name, so the service can be applied and tried now; the CA's certificate, pasted here or on the
 * Certificates page, completes the request and replaces the placeholder in place (same name: the services keep
 * pointing at it), staged like any change until the next apply. A CA that answered before create spares the
 * placeholder: the run then uses the CA's certificate itself.
 */
import { useCallback, useEffect, useState } from 'react';
import { api } from '../api-client';
import { PendingRequest, RequestForm, type CertRequest } from '../certificates/requests';
import { useCan } from '../session';
import { Button } from '../ui/button';

function useRequests() {
  const [requests, setRequests] = useState<CertRequest[] | null>(null);
  const [certificates, setCertificates] = useState<string[] | null>(null);
  const load = useCallback(async () => {
    const [r, c] = await Promise.all([
      api<{ items: CertRequest[] }>('GET', '/certificate-requests'),
      api<{ items: { name: string }[] }>('GET', '/certificates'),
    ]);
    setRequests(r.items);
    setCertificates(c.items.map((x) => x.name));
  }, []);
  useEffect(() => void load().catch(() => setRequests([])), [load]);
  return { requests, certificates, load };
}

/** What happens next, in words, for a request `name` still waiting for its CA (`isStaged`: the run was created). */
function NextSteps({ name, isStaged }: { name: string; isStaged: boolean }) {
  return (
    <div className="rounded-md border border-sky-200 bg-sky-50 p-3 text-sm text-slate-800" data-testid="csr-next">
      <p className="font-medium">What happens next</p>
      <ol className="ml-5 list-decimal space-y-1">
        <li>Download or copy the request below and send it to the hospital&apos;s certificate authority (CA). The private key stays on this appliance.</li>
        {isStaged ? (
          <li>
            Until the CA answers, the HTTPS service uses the self-signed placeholder <strong>{name}</strong>: browsers warn, but the service runs and can be
            tested.
          </li>
        ) : (
          <li>
            You need not wait: carry on with the wizard. At create this appliance makes a self-signed placeholder named <strong>{name}</strong> with the
            request&apos;s names, so the service can be applied and tested tonight (browsers warn until the CA&apos;s certificate is in).
          </li>
        )}
        <li>
          When the CA sends the signed certificate, paste it in the box below, or later on the{' '}
          <a className="underline" href="/certificates">
            Certificates
          </a>{' '}
          page under the request <strong>{name}</strong>. It {isStaged ? 'replaces the placeholder' : 'takes the name'} <strong>{name}</strong> in place, and
          the services using it pick it up at the next apply.
        </li>
      </ol>
    </div>
  );
}

/** In the certificate step: make the request (or take one already made), then show its CSR and what happens next. */
export function CsrPart({
  name,
  serviceName,
  vip,
  onChoose,
}: {
  name: string | undefined;
  serviceName: string;
  vip: string;
  onChoose: (name: string | undefined) => void;
}) {
  const { requests, certificates, load } = useRequests();
  const canWrite = useCan('config:write');
  const request = requests?.find((r) => r.name === name);
  const others = (requests ?? []).filter((r) => r.name !== name);
  if (requests === null) return <p className="text-sm text-slate-600">Loading the signing requests…</p>;
  if (name && request)
    return (
      <div className="space-y-3">
        <NextSteps name={name} isStaged={false} />
        <PendingRequest r={request} canWrite={canWrite} onDone={() => void load()} />
        <Button variant="secondary" size="sm" onClick={() => onChoose(undefined)}>
          Use another request
        </Button>
      </div>
    );
  if (name && certificates?.includes(name))
    return (
      <p className="rounded-md border border-green-200 bg-green-50 p-3 text-sm" role="status" data-testid="csr-done">
        The CA&apos;s certificate <strong>{name}</strong> is on this appliance: the HTTPS service uses it, no placeholder is needed.
      </p>
    );
  return (
    <div className="space-y-3">
      {!canWrite && (
        <p className="text-sm text-amber-900">
          Making a key writes configuration, which is for an admin: ask one to make the request on the Certificates page, then choose it here.
        </p>
      )}
      {others.length > 0 && (
        <fieldset className="space-y-1">
          <legend className="text-sm font-medium text-slate-700">Requests already made here, waiting for their CA</legend>
          {others.map((r) => (
            <Button key={r.id} size="sm" variant="secondary" onClick={() => onChoose(r.name)} aria-label={`Use the request ${r.name} (${r.subject})`}>
              Use {r.name} ({r.subject})
            </Button>
          ))}
        </fieldset>
      )}
      {canWrite && (
        <RequestForm
          title="Make a key and a signing request for the hospital's CA"
          initial={{ name: serviceName, altNames: vip ? `IP:${vip}` : '' }}
          onMade={(r) => {
            onChoose(r.name);
            void load();
          }}
        />
      )}
    </div>
  );
}

/** On the final screen: the request the run's certificate waits for, still open, or done. */
export function CertificateWait({ name }: { name: string }) {
  const { requests, certificates, load } = useRequests();
  const canWrite = useCan('config:write');
  const request = requests?.find((r) => r.name === name);
  return (
    <section aria-labelledby="csr-title" className="space-y-2">
      <h3 id="csr-title" className="text-base font-semibold">
        Certificate: {request ? "waiting for the hospital's CA" : 'from the CA'}
      </h3>
      {requests === null ? (
        <p className="text-sm text-slate-600">Loading…</p>
      ) : request ? (
        <>
          <NextSteps name={name} isStaged />
          <PendingRequest r={request} canWrite={canWrite} onDone={() => void load()} />
        </>
      ) : (
        <p className="text-sm" role="status" data-testid="csr-done">
          {certificates?.includes(name)
            ? `The CA's certificate is in under the name ${name}: apply to put it live (Pending changes shows the replacement).`
            : `The request ${name} was discarded; upload a certificate named ${name} on the Certificates page.`}
        </p>
      )}
    </section>
  );
}
