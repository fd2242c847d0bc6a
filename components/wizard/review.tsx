'use client';
/**
 * The review step: every object the run will create, the difference it makes to what is staged, the pre-flight
 * checks against this appliance's network (each failure with what to change, and a link to its step), the ARP
 * scripts for DR, and Create (staged). Creating needs config:write (an admin); an operator sees the button disabled, why,
 * and what to do instead (a run is its owner's alone, so an admin runs the wizard to create it).
 */
import { ChangeList } from '../change-list';
import { useWhyNot } from '../session';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { ArpDownloads } from './arp-downloads';
import type { Review, Run, ServiceObject, StepId } from './types';
import { STEP_TITLES } from '@/lib/wizard/answers.ts';

function ObjectCard({ vs }: { vs: ServiceObject }) {
  const hc = vs.healthCheck;
  return (
    <li className="rounded-md border border-slate-200 p-3 text-sm" data-testid={`object-${vs.name}`}>
      <p className="flex flex-wrap items-center gap-2">
        <strong>Virtual service {vs.name}</strong>{' '}
        <Badge tone="sky">
          L{vs.layer} {vs.mode.toUpperCase()}
        </Badge>
        <span className="font-mono text-xs">
          {vs.address}:{vs.ports.join(',')}
        </span>
      </p>
      <p className="mt-1 text-slate-700">
        Scheduler {vs.scheduler} · persistence {vs.persistence.type}
        {vs.persistence.timeoutSeconds ? ` (${vs.persistence.timeoutSeconds} s)` : ''}
        {vs.persistence.cookieName ? ` (cookie ${vs.persistence.cookieName})` : ''} · health check {hc.type}
        {hc.http ? ` ${hc.http.path}${hc.http.expectBody ? ` expecting “${hc.http.expectBody}”` : ''}` : ''}
        {hc.dicom ? ` to AE ${hc.dicom.calledAeTitle}` : ''}
        {vs.layer7?.tls ? ` · TLS with certificate ${vs.layer7.tls.certificate}` : ''}
        {vs.layer7?.httpsRedirect ? ' · redirects to HTTPS' : ''}
        {vs.layer7?.xForwardedFor ? ' · X-Forwarded-For' : ''}
      </p>
      <ul className="mt-1 list-inside list-disc text-slate-700">
        {vs.realServers.map((rs) => (
          <li key={rs.name}>
            Real server {rs.name}{' '}
            <span className="font-mono text-xs">
              {rs.address}
              {rs.port ? `:${rs.port}` : ''}
            </span>
            , weight {rs.weight}
          </li>
        ))}
      </ul>
    </li>
  );
}

export function ReviewStep({
  run,
  review,
  onGoTo,
  onCreate,
  onRecheck,
  isBusy,
}: {
  run: Run;
  review: Review | null;
  onGoTo(step: StepId): void;
  onCreate(): void;
  onRecheck(): void;
  isBusy: boolean;
}) {
  // The route's own permission (POST /wizard/runs/:id/stage is config:write): the same table the API enforces.
  const whyNotCreate = useWhyNot('config:write');
  const canCreate = !whyNotCreate;
  if (!review)
    return (
      <p role="status" className="text-sm text-slate-600">
        Checking the run and this appliance's network…
      </p>
    );
  const hasIssues = review.issues.length > 0;
  return (
    <div className="space-y-5">
      {hasIssues && (
        <div role="alert" className="rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-900" data-testid="review-issues">
          <p className="font-medium">This run cannot be created yet:</p>
          <ul className="mt-1 space-y-1">
            {review.issues.map((i) => (
              <li key={`${i.step}.${i.path}.${i.message}`}>
                <button type="button" className="font-medium underline" onClick={() => onGoTo(i.step)}>
                  {STEP_TITLES[i.step]}
                </button>
                : {i.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {review.objects.length > 0 && (
        <section aria-labelledby="objects-title">
          <h3 id="objects-title" className="mb-2 text-base font-semibold">
            What will be created
          </h3>
          <ul className="space-y-2">
            {review.objects.map((vs) => (
              <ObjectCard key={vs.name} vs={vs} />
            ))}
            {review.selfSignedCertificate && (
              <li className="rounded-md border border-slate-200 p-3 text-sm">
                <strong>Certificate {review.selfSignedCertificate}</strong>:{' '}
                {review.certificateRequest
                  ? "a self-signed placeholder made at create, with the signing request's names; the CA's certificate replaces it in place when the request is completed."
                  : 'self-signed, made by this appliance at create.'}
              </li>
            )}
          </ul>
        </section>
      )}
      {review.preflight && (
        <section aria-labelledby="preflight-title">
          <h3 id="preflight-title" className="mb-1 text-base font-semibold">
            Pre-flight checks on this appliance
          </h3>
          <p className="mb-2 text-xs text-slate-500">Read from {review.preflight.addressSource}.</p>
          <ul className="space-y-1 text-sm" data-testid="preflight">
            {review.preflight.checks.map((c) => (
              <li key={c.name} className="flex gap-2">
                <Badge tone={c.isOk ? 'green' : 'red'}>{c.isOk ? 'pass' : 'fail'}</Badge>
                <span>
                  <span className="font-medium">{c.name}</span>: {c.message}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {review.changes.length > 0 && (
        <section aria-labelledby="diff-title">
          <h3 id="diff-title" className="mb-2 text-base font-semibold">
            The difference from what is staged now
          </h3>
          <ChangeList changes={review.changes} />
        </section>
      )}
      {review.objects.length > 0 && <ArpDownloads runId={run.id} services={review.objects} />}
      <div className="flex flex-wrap items-center gap-3">
        <Button onClick={onCreate} disabled={isBusy || hasIssues || !canCreate}>
          Create (staged)
        </Button>
        <Button variant="secondary" onClick={onRecheck} disabled={isBusy}>
          Check again
        </Button>
        {whyNotCreate && (
          <p className="text-sm text-amber-900" data-testid="create-why-not">
            {whyNotCreate} Creating writes configuration. A run is seen only by whoever started it, so an admin creates these objects by running the wizard
            themselves, with the answers, pre-flight results and ARP scripts you have here; once they have, you may apply them from Pending changes.
          </p>
        )}
        <p className="text-xs text-slate-600">Create stages the objects in Pending changes; nothing runs until you apply.</p>
      </div>
    </div>
  );
}
