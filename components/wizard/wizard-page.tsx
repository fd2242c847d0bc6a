'use client';
/**
 * The setup wizard: choose an application (a template), then one step at a time. Every step is a form (Enter goes
 * on), the steps reached so far are links in the step list, focus moves to each step's heading, and a refused step
 * keeps its answers and puts each error at its field (the first one focused). The run is stored on the appliance at
 * every step, so it resumes after a logout or in another browser; "?run=<id>" opens a created run's final screen.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { STEP_TITLES } from '@/lib/wizard/answers.ts';
import { api, type ApiCallError } from '../api-client';
import { Button } from '../ui/button';
import { Card, ErrorBox, PageTitle } from '../ui/card';
import { Finish } from './finish';
import { ReviewStep } from './review';
import { ModeStep, ServersStep, ServiceStep } from './steps';
import { HealthStep, PersistenceStep, TlsStep } from './steps-more';
import { CsrPart } from './csr';
import { useWhyNot } from '../session';
import type { Answers, FieldErrors, Review, Run, StepId, Template } from './types';

type Drafts = Partial<Record<StepId, unknown>>;
type TlsDraft = NonNullable<Answers['tls']>;

function draftsOf(run: Run): Drafts {
  return {
    mode: run.answers.mode ?? { modeId: '' },
    service: run.answers.service ?? run.defaults?.service,
    servers: run.answers.servers ?? run.defaults?.servers,
    persistence: run.answers.persistence ?? run.defaults?.persistence,
    health: run.answers.health ?? run.defaults?.health,
    tls: run.answers.tls ?? run.defaults?.tls,
  };
}

export function WizardPage() {
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [openRuns, setOpenRuns] = useState<Run[]>([]);
  const [run, setRun] = useState<Run | null>(null);
  const [view, setView] = useState<StepId>('mode');
  const [drafts, setDrafts] = useState<Drafts>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const [error, setError] = useState<ApiCallError | null>(null);
  const [review, setReview] = useState<Review | null>(null);
  const [isBusy, setBusy] = useState(false);
  // An operator may prepare a run (the policy's "use the wizard") but not create it ("stage changes": config:write).
  const whyNotCreate = useWhyNot('config:write');
  const heading = useRef<HTMLHeadingElement>(null);
  const form = useRef<HTMLFormElement>(null);

  const open = useCallback((r: Run) => {
    setRun(r);
    setView(r.step);
    setDrafts(draftsOf(r));
    setErrors({});
    setError(null);
    const url = new URL(window.location.href);
    url.searchParams.set('run', r.id);
    window.history.replaceState(null, '', url);
  }, []);

  useEffect(() => {
    void (async () => {
      try {
        const [t, runs] = await Promise.all([api<{ items: Template[] }>('GET', '/wizard/templates'), api<{ items: Run[] }>('GET', '/wizard/runs')]);
        setTemplates(t.items);
        setOpenRuns(runs.items);
        const id = new URL(window.location.href).searchParams.get('run');
        if (id) open(await api<Run>('GET', `/wizard/runs/${encodeURIComponent(id)}`));
      } catch (e) {
        setError(e as ApiCallError);
      }
    })();
  }, [open]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: focus moves to the heading when the step or the run changes
  useEffect(() => heading.current?.focus(), [view, run?.id, run?.status]);
  // After a refused step has rendered its errors: focus the first field in error; a refusal no field on this screen
  // shows (another step's, or a hidden field's) is said at the top instead.
  const [refusal, setRefusal] = useState<{ n: number; error: ApiCallError | null }>({ n: 0, error: null });
  useEffect(() => {
    if (!refusal.error) return;
    const invalid = form.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    else if (!form.current?.querySelector('[data-field-error]')) setError(refusal.error);
  }, [refusal]);
  const loadReview = useCallback((id: string) => {
    setReview(null);
    api<Review>('GET', `/wizard/runs/${id}/review`).then(setReview, setError);
  }, []);
  useEffect(() => {
    if (run && view === 'review' && run.status === 'open') loadReview(run.id);
  }, [run, view, loadReview]);

  async function start(templateId: string) {
    setBusy(true);
    try {
      open(await api<Run>('POST', '/wizard/runs', { templateId }));
    } catch (e) {
      setError(e as ApiCallError);
    } finally {
      setBusy(false);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!run || view === 'review') return;
    setBusy(true);
    setError(null);
    try {
      const next = await api<Run>('PUT', `/wizard/runs/${run.id}/steps/${view}`, drafts[view]);
      setRun(next);
      setErrors({});
      // A new mode brings new defaults for the later steps.
      setDrafts((d) => ({ ...draftsOf(next), ...(view === 'mode' ? {} : d), [view]: drafts[view] }));
      setView(next.step);
    } catch (err) {
      const ae = err as ApiCallError;
      setErrors(ae.fields ?? {});
      setError(Object.keys(ae.fields ?? {}).length ? null : ae);
      setRefusal((r) => ({ n: r.n + 1, error: ae }));
    } finally {
      setBusy(false);
    }
  }

  async function create() {
    if (!run) return;
    setBusy(true);
    setError(null);
    try {
      await api('POST', `/wizard/runs/${run.id}/stage`);
      open(await api<Run>('GET', `/wizard/runs/${run.id}`));
    } catch (e) {
      setError(e as ApiCallError);
      loadReview(run.id);
    } finally {
      setBusy(false);
    }
  }

  async function abandon() {
    if (!run) return;
    await api('DELETE', `/wizard/runs/${run.id}`).catch(() => undefined);
    window.location.href = '/wizard';
  }

  const template = templates?.find((t) => t.id === run?.templateId);
  if (!run || !template) {
    return (
      <div className="space-y-5">
        <PageTitle sub="Puts an application behind a virtual IP, one step at a time. Your answers are kept on the appliance: you can log out and carry on later.">
          Setup wizard
        </PageTitle>
        <ErrorBox error={error?.body} />
        {whyNotCreate && (
          <p className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900" data-testid="wizard-role-note">
            You may prepare a run — its answers, the pre-flight checks and the ARP scripts — but not create its objects: {whyNotCreate} A run is seen only by
            whoever started it, so an admin runs the wizard to create them.
          </p>
        )}
        {openRuns.length > 0 && (
          <Card title="Carry on where you stopped">
            <ul className="space-y-2">
              {openRuns.map((r) => (
                <li key={r.id} className="flex flex-wrap items-center gap-3 text-sm">
                  <Button variant="secondary" onClick={() => open(r)}>
                    Resume {r.templateTitle}
                  </Button>
                  <span>
                    at “{STEP_TITLES[r.step]}”, last saved {new Date(r.updatedAt).toLocaleString('en-GB')}
                  </span>
                </li>
              ))}
            </ul>
          </Card>
        )}
        <Card title="Start a new run">
          <ul className="grid gap-3 md:grid-cols-2">
            {templates?.map((t) => (
              <li key={t.id} className="rounded-md border border-slate-200 p-3">
                <h3 className="font-semibold">{t.title}</h3>
                <p className="mt-1 text-sm text-slate-700">{t.description}</p>
                <Button className="mt-3" onClick={() => start(t.id)} disabled={isBusy}>
                  Start {t.title}
                </Button>
              </li>
            ))}
          </ul>
        </Card>
      </div>
    );
  }

  const reached = run.steps.indexOf(run.step);
  const at = run.steps.indexOf(view);
  const stepProps = { errors, run, template };
  const bind = <T,>(step: StepId) => ({ ...stepProps, value: drafts[step] as T, onChange: (v: T) => setDrafts((d) => ({ ...d, [step]: v })) });
  return (
    <div className="space-y-5">
      <PageTitle
        sub={`${template.title}${run.modeId ? ` — ${template.modes.find((m) => m.id === run.modeId)?.label}` : ''}. Saved on the appliance at every step.`}
      >
        Setup wizard
      </PageTitle>
      <div className="grid gap-5 md:grid-cols-[14rem_1fr]">
        <nav aria-label="Wizard steps">
          <ol className="space-y-1">
            {run.steps.map((s, i) => (
              <li key={s}>
                <button
                  type="button"
                  disabled={run.status !== 'open' || i > reached}
                  onClick={() => {
                    setView(s);
                    setErrors({});
                  }}
                  aria-current={s === view ? 'step' : undefined}
                  className={`w-full rounded-md px-3 py-2 text-left text-sm ${s === view ? 'bg-sky-700 text-white' : i <= reached ? 'bg-white hover:bg-slate-100' : 'text-slate-400'}`}
                >
                  {i + 1}. {STEP_TITLES[s]}
                </button>
              </li>
            ))}
          </ol>
          {run.status === 'open' && (
            <Button variant="ghost" size="sm" className="mt-3" onClick={abandon}>
              Abandon this run
            </Button>
          )}
        </nav>
        <section className="rounded-lg border border-slate-200 bg-white p-5 shadow-sm">
          <h2 ref={heading} tabIndex={-1} className="mb-4 text-lg font-semibold outline-none" data-testid="step-title">
            {run.status === 'staged' ? 'Apply and check it live' : `Step ${at + 1} of ${run.steps.length}: ${STEP_TITLES[view]}`}
          </h2>
          <ErrorBox error={error?.body} />
          {run.status === 'staged' ? (
            <Finish run={run} />
          ) : view === 'review' ? (
            <ReviewStep run={run} review={review} onGoTo={(s) => setView(s)} onCreate={create} onRecheck={() => loadReview(run.id)} isBusy={isBusy} />
          ) : (
            <div className="space-y-5">
              {/* The buttons sit outside the step's form (tied to it by id) so the CSR part, a form of its own, is never nested in it. */}
              <form id="wizard-step" ref={form} onSubmit={submit} noValidate className="space-y-5" aria-label={STEP_TITLES[view]}>
                {view === 'mode' && <ModeStep {...bind<NonNullable<Answers['mode']>>('mode')} />}
                {view === 'service' && <ServiceStep {...bind<NonNullable<Answers['service']>>('service')} />}
                {view === 'servers' && <ServersStep {...bind<NonNullable<Answers['servers']>>('servers')} />}
                {view === 'persistence' && <PersistenceStep {...bind<NonNullable<Answers['persistence']>>('persistence')} />}
                {view === 'health' && <HealthStep {...bind<NonNullable<Answers['health']>>('health')} />}
                {view === 'tls' && <TlsStep {...bind<NonNullable<Answers['tls']>>('tls')} />}
              </form>
              {view === 'tls' && (drafts.tls as TlsDraft | undefined)?.source === 'request' && (
                <CsrPart
                  name={(drafts.tls as TlsDraft).certificate}
                  serviceName={run.answers.service?.name ?? template.serviceName}
                  vip={run.answers.service?.address ?? ''}
                  onChoose={(name) => {
                    setDrafts((d) => ({ ...d, tls: { ...(d.tls as TlsDraft), certificate: name } }));
                    // The refusal for a missing request no longer holds once one is chosen; saving judges anew.
                    setErrors(({ certificate: _gone, ...rest }) => rest);
                  }}
                />
              )}
              <div className="flex gap-3 border-t border-slate-100 pt-4">
                {at > 0 && (
                  <Button
                    variant="secondary"
                    onClick={() => {
                      setView(run.steps[at - 1]);
                      setErrors({});
                    }}
                  >
                    Back
                  </Button>
                )}
                <Button type="submit" form="wizard-step" disabled={isBusy}>
                  Save and continue
                </Button>
              </div>
            </div>
          )}
        </section>
      </div>
    </div>
  );
}
