/**
 * Wizard runs in the database: one person's answers, step by step, kept server-side (WizardRun) so a run survives a
 * logout and resumes in any browser. A run belongs to the user who started it; to anyone else it does not exist.
 *
 * Saving a step stores what was typed (even when refused, so nothing is lost on resume) and moves the run on only
 * when the step has no issue. Create ("stage") checks the whole run again — against the configuration staged at that
 * moment, inside the same transaction — runs the pre-flight checks, writes every object to the candidate and one
 * audit row `wizard.run` naming the run, its template and mode and every object, and marks the run staged. Apply is
 * the console's ordinary apply.
 */
import type { Config, VirtualService } from '../../engine/config/index.ts';
import { db, type Tx } from '../db.ts';
import { ApiError, validationError } from '../errors.ts';
import { mutate } from '../api/mutate.ts';
import type { AuditInput } from '../audit.ts';
import { renderCandidate } from '../config/render.ts';
import { diffConfigs } from '../config/diff.ts';
import { rsColumns, vsColumns } from '../config/store.ts';
import { inspectCertificate } from '../certificates.ts';
import { sealPrivateKey } from '../secrets.ts';
import { configHash } from '../../engine/canonical.ts';
import { STEP_SCHEMAS, stepsFor, type Answers, type StepId, type WizardIssue } from './answers.ts';
import { checkRun, issuesFor, modeOf, withDefaults, type CheckedRun } from './engine.ts';
import { templates, type Template } from './template.ts';
import { hostAddresses, hostListeners, preflight, type HostAddress, type Listener, type PreflightResult } from './preflight.ts';
import { makeSelfSigned } from './certificate.ts';

type Row = {
  id: string;
  userId: string;
  templateId: string;
  step: string;
  answers: string;
  status: string;
  result: string | null;
  createdAt: Date;
  updatedAt: Date;
};
type AuditFor = (input: Omit<AuditInput, 'actor' | 'actorRole' | 'sourceAddress' | 'requestId'>) => AuditInput;

/** Where pre-flight reads this host's network (tests give their own). */
export interface HostView {
  addresses: () => HostAddress[];
  listeners: () => Listener[];
}
export const realHost: HostView = { addresses: hostAddresses, listeners: hostListeners };

export function templateOf(id: string): Template {
  const t = templates().get(id);
  if (!t)
    throw new ApiError(
      'API_VALIDATION',
      { summary: `templateId: There is no wizard template "${id}".` },
      { fields: [{ path: 'templateId', message: `Choose one of ${[...templates().keys()].join(', ')}.` }] },
    );
  return t;
}

export function runView(r: Row) {
  const template = templates().get(r.templateId);
  const answers = JSON.parse(r.answers) as Answers;
  const mode = template && modeOf(template, answers);
  return {
    id: r.id,
    templateId: r.templateId,
    templateTitle: template?.title ?? r.templateId,
    status: r.status,
    step: r.step,
    steps: stepsFor(mode?.layer),
    modeId: mode?.id ?? null,
    layer: mode?.layer ?? null,
    answers,
    /** What each step starts from when not yet answered: the template's defaults for the chosen mode. */
    defaults: template && mode ? withDefaults(template, mode, {}) : null,
    result: r.result ? JSON.parse(r.result) : null,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export async function loadRun(id: string, userId: string | undefined): Promise<Row> {
  const r = await db().wizardRun.findUnique({ where: { id } });
  if (!r || r.userId !== userId) throw new ApiError('API_NOT_FOUND', { what: `Wizard run ${id}` });
  return r;
}

export async function createRun(userId: string, templateId: string): Promise<Row> {
  const t = templateOf(templateId);
  return db().wizardRun.create({ data: { userId, templateId: t.id, step: 'mode', answers: '{}', status: 'open' } });
}

export function openRuns(userId: string) {
  return db().wizardRun.findMany({ where: { userId, status: 'open' }, orderBy: { updatedAt: 'desc' }, take: 20 });
}

/**
 * A run whose certificate waits for the hospital CA needs its signing request here, or, once the CA answered and the
 * request was completed, the certificate of that name (the request is gone then). A discarded request is refused at
 * the certificate step, not discovered at apply.
 */
async function requestIssues(name: string | undefined, tx: Pick<Tx, 'certificate' | 'certificateRequest'> = db()): Promise<WizardIssue[]> {
  if (!name) return [];
  const [request, certificate] = await Promise.all([tx.certificateRequest.findUnique({ where: { name } }), tx.certificate.findUnique({ where: { name } })]);
  if (request || certificate) return [];
  return [
    {
      step: 'tls',
      path: 'certificate',
      message: `There is no signing request or certificate "${name}" on this appliance (was the request discarded?): make the key and request again.`,
    },
  ];
}

const asFields = (issues: WizardIssue[], prefixStep = false) =>
  issues.map((i) => ({ path: (prefixStep ? [i.step, ...i.path.split('.')] : i.path.split('.')).filter(Boolean), message: i.message }));

/**
 * Stores the answer to `step` and, when the run has no issue up to and including it, moves on to the next step.
 * Throws API_VALIDATION with the step's field paths otherwise (the answer is stored all the same).
 */
export async function saveStep(row: Row, step: string, raw: unknown): Promise<Row> {
  if (row.status !== 'open') throw new ApiError('API_CONFLICT', { reason: `This wizard run is ${row.status}; start a new run to change it.` });
  const template = templateOf(row.templateId);
  const answers = JSON.parse(row.answers) as Answers;
  const steps = stepsFor(modeOf(template, answers)?.layer);
  if (!(step in STEP_SCHEMAS) || !steps.includes(step as StepId)) throw new ApiError('API_NOT_FOUND', { what: `Step "${step}" of this wizard run` });
  const id = step as StepId;
  const shaped = STEP_SCHEMAS[id].safeParse(raw ?? {});
  if (!shaped.success) throw validationError(shaped.error.issues);
  const next: Answers = { ...answers, [id]: shaped.data };
  // A change of mode starts the later steps again from the new mode's defaults (a DR answer is no L7 answer).
  if (id === 'mode' && answers.mode?.modeId !== next.mode?.modeId) for (const k of ['persistence', 'health', 'tls'] as const) delete next[k];
  const run = checkRun(template, next, await renderCandidate());
  const checked = { ...run, issues: [...run.issues, ...(await requestIssues(run.certificateRequest))] };
  const nextSteps = stepsFor(modeOf(template, next)?.layer);
  const upTo = nextSteps.slice(0, nextSteps.indexOf(id) + 1);
  const standing = checked.issues.filter((i) => upTo.includes(i.step) && i.step !== 'review');
  // Onwards to the first later step not yet answered or with an issue (an earlier step edited from the review goes
  // straight back to the review when everything after it still holds).
  const later = nextSteps.slice(nextSteps.indexOf(id) + 1);
  const isNewMode = id === 'mode' && answers.mode?.modeId !== next.mode?.modeId;
  const after = isNewMode ? 'service' : (later.find((s) => s === 'review' || !next[s] || checked.issues.some((i) => i.step === s)) ?? 'review');
  const saved = await db().wizardRun.update({ where: { id: row.id }, data: { answers: JSON.stringify(next), step: standing.length ? id : after } });
  if (standing.length) {
    // Issues of this step at its fields; one of an earlier step (an edit elsewhere made it wrong) with its step.
    const own = issuesFor(id, standing);
    throw validationError(own.length ? asFields(own) : asFields(standing, true));
  }
  return saved;
}

export interface Review extends Omit<CheckedRun, 'mode'> {
  changes: ReturnType<typeof diffConfigs>;
  preflight: PreflightResult | null;
  candidateHash: string;
}

function portIndexer(answers: Answers) {
  return (port: number) => {
    const i = answers.service?.ports.findIndex((p) => p.port === port) ?? -1;
    return i >= 0 ? i : undefined;
  };
}

function withObjects(candidate: Config, objects: VirtualService[], certificateName?: string): Config {
  const certificates =
    certificateName && !candidate.certificates.some((c) => c.name === certificateName)
      ? [...candidate.certificates, { name: certificateName, certificatePem: '(made at create)', privateKeyPem: '(made at create)' }]
      : candidate.certificates;
  return { ...candidate, certificates, virtualServices: [...candidate.virtualServices, ...objects] };
}

/** Everything the run would create, the difference it makes to what is staged, and the pre-flight results. */
export async function reviewRun(row: Row, host: HostView = realHost): Promise<Review> {
  const template = templateOf(row.templateId);
  const answers = JSON.parse(row.answers) as Answers;
  const candidate = await renderCandidate();
  const { mode: _m, ...run } = checkRun(template, answers, candidate);
  // A certificate of that name already here (the CA answered a request before create) is used, not made again.
  const isMade = run.selfSignedCertificate && !candidate.certificates.some((c) => c.name === run.selfSignedCertificate);
  const checked = {
    ...run,
    selfSignedCertificate: isMade ? run.selfSignedCertificate : undefined,
    issues: [...run.issues, ...(await requestIssues(run.certificateRequest))],
  };
  const pf = checked.objects.length ? preflight(checked.objects, { addresses: host.addresses(), listeners: host.listeners() }, portIndexer(answers)) : null;
  const changes = diffConfigs(candidate, withObjects(candidate, checked.objects, checked.selfSignedCertificate));
  return { ...checked, issues: [...checked.issues, ...(pf?.issues ?? [])], changes, preflight: pf, candidateHash: configHash(candidate) };
}

/** Creates the run's objects in the candidate (staged, not applied) with one audit row for the run. */
export async function stageRun(row: Row, audit: AuditFor, host: HostView = realHost) {
  if (row.status !== 'open') throw new ApiError('API_CONFLICT', { reason: `This wizard run is already ${row.status}; its objects are in Pending changes.` });
  const review = await reviewRun(row, host);
  if (review.issues.length) throw validationError(asFields(review.issues, true));
  const template = templateOf(row.templateId);
  const answers = JSON.parse(row.answers) as Answers;
  const mode = modeOf(template, answers)!;
  const certName = review.selfSignedCertificate;
  const hasCert = certName ? !!(await db().certificate.findUnique({ where: { name: certName } })) : true;
  const request = review.certificateRequest ? await db().certificateRequest.findUnique({ where: { name: review.certificateRequest } }) : null;
  // openssl runs before the transaction opens: nothing slow is held inside it. A request's placeholder carries the
  // request's names, so the service can be tried by its host name while the CA signs.
  const cert = !hasCert
    ? request
      ? makeSelfSigned(request.subject.replace(/^CN=/, ''), review.objects[0].address, {
          altNames: JSON.parse(request.altNames),
          organization: 'Fulcrum placeholder until the CA signs',
        })
      : makeSelfSigned(certName!, review.objects[0].address)
    : undefined;
  const result = await mutate(
    async (tx: Tx) => {
      // Checked again inside the transaction, against what is staged now: an edit since the review counts.
      const checked = checkRun(template, answers, await renderCandidate(tx));
      const now = { ...checked, issues: [...checked.issues, ...(await requestIssues(checked.certificateRequest, tx))] };
      if (now.issues.length) throw validationError(asFields(now.issues, true));
      if (cert && certName) {
        await tx.certificate.create({
          data: {
            name: certName,
            certificatePem: cert.certificatePem,
            privateKeyPem: sealPrivateKey(certName, cert.privateKeyPem),
            ...inspectCertificate(cert.certificatePem, cert.privateKeyPem),
          },
        });
      }
      let position = await tx.virtualService.count();
      const created: { id: string; name: string }[] = [];
      for (const vs of now.objects) {
        const v = await tx.virtualService.create({ data: { ...vsColumns(vs), position: position++ } });
        for (const rs of vs.realServers) await tx.realServer.create({ data: { ...rsColumns(rs), state: rs.state, virtualServiceId: v.id } });
        created.push({ id: v.id, name: v.name });
      }
      // The request still waiting for its CA, if any: the final screen says what happens when it is completed.
      const pending = request ? request.name : null;
      const summary = { services: created, certificate: cert ? (certName ?? null) : null, certificateRequest: pending, objects: now.objects };
      await tx.wizardRun.update({
        where: { id: row.id },
        data: {
          status: 'staged',
          step: 'review',
          result: JSON.stringify({ services: created, certificate: summary.certificate, certificateRequest: pending }),
        },
      });
      return summary;
    },
    (r) =>
      audit({
        action: 'wizard.run',
        objectType: 'wizard-run',
        objectId: row.id,
        outcome: 'success',
        after: {
          run: row.id,
          template: template.id,
          mode: mode.id,
          services: r.services.map((s) => s.name),
          certificate: r.certificate,
          certificateRequest: r.certificateRequest,
          objects: r.objects,
        },
        message: `Setup wizard "${template.title}" (${mode.label}) staged ${r.services.length} virtual service${r.services.length === 1 ? '' : 's'}: ${r.services.map((s) => s.name).join(', ')}${certificateWords(r)}.`,
      }),
  );
  return { services: result.services, certificate: result.certificate, certificateRequest: result.certificateRequest, changes: review.changes };
}

function certificateWords(r: { certificate: string | null; certificateRequest: string | null }): string {
  if (r.certificate && r.certificateRequest) return `, and the self-signed placeholder ${r.certificate} until the CA signs request ${r.certificateRequest}`;
  if (r.certificate) return `, and the self-signed certificate ${r.certificate}`;
  if (r.certificateRequest) return `; its certificate ${r.certificateRequest} waits for the CA to sign the request`;
  return '';
}

export async function abandonRun(row: Row): Promise<Row> {
  if (row.status !== 'open') throw new ApiError('API_CONFLICT', { reason: `This wizard run is ${row.status}; only an open run can be abandoned.` });
  return db().wizardRun.update({ where: { id: row.id }, data: { status: 'abandoned' } });
}
