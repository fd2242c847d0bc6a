'use client';
/**
 * Create or edit a virtual service. The form parses with the same schema as the API and the engine
 * (engine/config), so a mistake is shown at its field before anything is sent; rules that need the rest of the
 * configuration (a VIP:port already used, an L4 SNAT / L7 clash) come back from the API with the same paths and
 * land at the same fields. A role that may not change services sees the form disabled, with the reason, rather
 * than a form refused at the end.
 */
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { VirtualServiceSchema } from '@/engine/config/schema.ts';
import { api, type ApiCallError } from '../api-client';
import { useCan, useSession } from '../session';
import { ErrorBox, PageTitle } from '../ui/card';
import { healthControlPath, healthFieldOf, type HealthCheckForm } from '../health-check-fields';
import { FOCUS } from './controls';
import { controlPathOf, issueMap, placeIssues, sectionOf, SECTIONS, type SectionId } from './errors';
import { FormBody } from './form-body';
import { blockDefaults, emptyState, setIn, stateFromService, toDraft, toInput, type Draft, type FormState } from './model';
import type { OtherService } from './real-servers';
import { ProblemSummary, type Problem } from './section';

const OPEN_AT_START: SectionId[] = ['basics', 'realServers', 'health'];

export function ServiceForm({ id }: { id?: string }) {
  const router = useRouter();
  const { role } = useSession();
  const canWrite = useCan('config:write');
  const [state, setState] = useState<FormState>(emptyState);
  const [existing, setExisting] = useState<Record<string, any> | null>(null);
  const [raw, setRaw] = useState<Record<string, string>>({});
  const [problems, setProblems] = useState<Problem[]>([]);
  const [attempt, setAttempt] = useState(0);
  const [apiError, setApiError] = useState<ApiCallError | null>(null);
  const [certificates, setCertificates] = useState<string[]>([]);
  const [others, setOthers] = useState<OtherService[]>([]);
  const [open, setOpen] = useState(() => Object.fromEntries(SECTIONS.map((s) => [s, OPEN_AT_START.includes(s)])) as Record<SectionId, boolean>);
  const [isBusy, setBusy] = useState(false);

  useEffect(() => {
    api<{ items: { name: string }[] }>('GET', '/certificates')
      .then((r) => setCertificates(r.items.map((c) => c.name)))
      .catch(() => undefined);
    api<{ items: OtherService[] }>('GET', '/virtual-services')
      .then((r) => setOthers(r.items.filter((v) => v.id !== id)))
      .catch(() => undefined);
    if (id)
      api('GET', `/virtual-services/${id}`)
        .then((vs) => {
          setExisting(vs);
          setState(stateFromService(vs));
        })
        .catch((e) => setApiError(e));
  }, [id]);

  const set = useCallback((path: string, value: unknown) => setState((s) => ({ ...s, draft: setIn(s.draft, path, value) })), []);
  const setHc = useCallback((patch: Partial<HealthCheckForm>) => setState((s) => ({ ...s, hc: { ...s.hc, ...patch } })), []);
  const onLayer = (layer: '4' | '7') =>
    setState((s) => {
      const isL4 = layer === '4';
      const draft: Draft = { ...s.draft, layer, mode: isL4 ? 'dr' : 'http', scheduler: isL4 ? 'wlc' : 'wrr', protocol: 'tcp', persistence: { type: 'none' } };
      if (!isL4 && !draft.layer7) draft.layer7 = toDraft(blockDefaults.layer7(), 'layer7');
      if (draft.fallback?.type === 'maintenance-page' && isL4) delete draft.fallback;
      return { ...s, draft };
    });

  function showProblems(issues: Record<string, string>) {
    setRaw(issues);
    const list = Object.entries(issues).map(([path, message]) => ({
      path: placedPath(path, state.hc),
      message,
      section: sectionOf(path),
      label: labelOf(placedPath(path, state.hc), path),
    }));
    setProblems(list);
    setAttempt((n) => n + 1);
    setOpen((o) => ({ ...o, ...Object.fromEntries(list.map((p) => [p.section, true])) }));
    for (const p of list) {
      const m = /^realServers\.(\d+)\.(?!name|address|port|weight|isBackup)/.exec(p.path);
      if (m) set(`realServers.${m[1]}._open`, true);
    }
    requestAnimationFrame(() => {
      const box = document.getElementById('problem-summary');
      box?.scrollIntoView({ block: 'start' });
      box?.focus({ preventScroll: true });
    });
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!canWrite) return;
    setApiError(null);
    const input = toInput(state);
    const local = VirtualServiceSchema.safeParse(input);
    if (!local.success) return showProblems(issueMap(local.error.issues));
    setRaw({});
    setProblems([]);
    setBusy(true);
    try {
      if (id) await api('PUT', `/virtual-services/${id}`, input, { ifMatch: existing!.version });
      else await api('POST', '/virtual-services', input);
      router.push('/');
      router.refresh();
    } catch (err) {
      const ae = err as ApiCallError;
      if (Object.keys(ae.fields ?? {}).length > 0) showProblems(ae.fields);
      setApiError(ae);
      setBusy(false);
    }
  }

  function go(p: Problem) {
    setOpen((o) => ({ ...o, [p.section]: true }));
    requestAnimationFrame(() => (document.querySelector(`[data-schema-path="${CSS.escape(p.path)}"]`) as HTMLElement | null)?.focus());
  }

  if (id && !existing)
    return apiError ? (
      <ErrorBox error={apiError.body} />
    ) : (
      <p className="text-sm text-slate-600" role="status">
        Loading the virtual service…
      </p>
    );
  const errors = placeIssues(raw);
  return (
    <form method="post" onSubmit={submit} noValidate className="space-y-4" aria-describedby={canWrite ? undefined : 'read-only-reason'}>
      <PageTitle sub="Changes are staged: nothing reaches the engine until you review and apply them.">
        {id ? `Edit ${existing?.name ?? ''}` : 'New virtual service'}
      </PageTitle>
      {!canWrite && (
        <p
          id="read-only-reason"
          role="status"
          className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950"
          data-testid="read-only-reason"
        >
          <strong>Viewing only.</strong> You are signed in as {role}; creating or changing a virtual service needs the admin role. Ask an administrator to make
          this change.
        </p>
      )}
      {apiError && !problems.length && <ErrorBox error={apiError.body} />}
      <div id="problem-summary" tabIndex={-1} className="scroll-mt-4">
        <ProblemSummary problems={problems} onGo={go} />
      </div>
      <FormBody
        state={state}
        set={set}
        setHc={setHc}
        onLayer={onLayer}
        errors={errors}
        rawErrors={raw}
        isReadOnly={!canWrite}
        open={open}
        toggle={(s) => setOpen((o) => ({ ...o, [s]: !o[s] }))}
        certificates={certificates}
        others={others}
        attempt={attempt}
      />
      <div className="sticky bottom-0 flex flex-wrap items-center gap-3 border-t border-slate-200 bg-slate-50/95 py-3">
        <button
          type="submit"
          disabled={isBusy || !canWrite}
          aria-describedby={canWrite ? undefined : 'read-only-reason'}
          className={`rounded-md bg-sky-800 px-4 py-2 text-sm font-medium text-white hover:bg-sky-900 disabled:cursor-not-allowed disabled:bg-slate-400 ${FOCUS}`}
        >
          {isBusy ? 'Saving…' : id ? 'Save (staged)' : 'Create (staged)'}
        </button>
        <button
          type="button"
          onClick={() => router.push('/')}
          className={`rounded-md border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-800 hover:bg-slate-100 ${FOCUS}`}
        >
          {canWrite ? 'Cancel' : 'Back to the overview'}
        </button>
        {!canWrite && <span className="text-sm text-slate-700">Saving needs the admin role.</span>}
      </div>
    </form>
  );
}

/** The control that shows an issue: health check paths through their group's own mapping. */
function placedPath(path: string, hc: HealthCheckForm): string {
  const key = healthFieldOf(path);
  if (key) return healthControlPath(key, hc) ?? 'healthCheck.type';
  return controlPathOf(path);
}

/** The visible label of the control at `path`, else the path in words ("real server 13: port"). */
function labelOf(path: string, rawPath: string): string {
  const el = typeof document !== 'undefined' ? (document.querySelector(`[data-schema-path="${CSS.escape(path)}"]`) as HTMLInputElement | null) : null;
  const text = el?.labels?.[0]?.textContent?.trim();
  if (text) return text;
  const m = /^realServers\.(\d+)\.?(.*)$/.exec(rawPath);
  if (m) return `Real server ${Number(m[1]) + 1}${m[2] ? `: ${m[2]}` : ''}`;
  return rawPath || 'This service';
}
