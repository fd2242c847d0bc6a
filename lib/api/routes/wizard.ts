/**
 * The setup wizard (lib/wizard/): templates, runs kept per user, a step at a time, review with pre-flight checks,
 * create (staged), a reachability probe, the ARP scripts of a DR run, and a test request through the VIP.
 *
 * Roles, by the table in lib/auth/roles.ts: preparing a run (answers, probes, review, scripts) is for those who may
 * put configuration live, admins and operators (config:apply); creating its objects writes configuration, which is
 * config:write (admins); apply is the ordinary apply route (config:apply).
 */
import { z } from 'zod';
import { IpAddressSchema, PortSchema, expandPorts } from '../../../engine/config/index.ts';
import { ApiError } from '../../errors.ts';
import { defineRoute } from '../route.ts';
import { templates } from '../../wizard/template.ts';
import { abandonRun, createRun, loadRun, openRuns, reviewRun, runView, saveStep, stageRun } from '../../wizard/runs.ts';
import { probeTcp, testRequest } from '../../wizard/probe.ts';
import { InterfaceNamesSchema, linuxInstructions, linuxScript, windowsInstructions, windowsScript, type ArpTarget } from '../../wizard/arp-scripts.ts';
import { checkRun } from '../../wizard/engine.ts';
import { checkArp } from '../../wizard/arp-check.ts';
import { checkVipAnswers } from '../../wizard/vip-check.ts';
import { engine } from '../../engine.ts';
import { hostAddresses } from '../../wizard/preflight.ts';
import { renderCandidate } from '../../config/render.ts';
import type { Answers } from '../../wizard/answers.ts';

const tag = 'wizard';
const objectType = 'wizard-run';

/** The DR services a run builds (staged or not), for its ARP scripts. */
async function arpTargets(row: Awaited<ReturnType<typeof loadRun>>): Promise<ArpTarget[]> {
  const template = templates().get(row.templateId)!;
  const answers = JSON.parse(row.answers) as Answers;
  const candidate = await renderCandidate();
  // A staged run's objects are in the candidate already: build them against a candidate without them.
  const own = new Set(((row.result ? JSON.parse(row.result) : {}).services ?? []).map((s: { name: string }) => s.name));
  const checked = checkRun(template, answers, { ...candidate, virtualServices: candidate.virtualServices.filter((v) => !own.has(v.name)) });
  return checked.objects
    .filter((vs) => vs.layer === 4 && (vs.mode === 'dr' || vs.mode === 'tun'))
    .flatMap((vs) => vs.realServers.map((rs) => ({ service: vs.name, vip: vs.address, ports: vs.ports, realServer: { name: rs.name, address: rs.address } })));
}

export const wizardRoutes = [
  defineRoute({
    method: 'GET',
    path: '/wizard/templates',
    permission: 'config:apply',
    tag,
    action: 'wizard.templates',
    objectType,
    summary: 'Wizard templates (one per application), with their modes and trade-offs',
    async handler() {
      return { body: { items: [...templates().values()] } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/wizard/runs',
    permission: 'config:apply',
    tag,
    action: 'wizard.list',
    objectType,
    summary: 'Your open wizard runs, newest first (to resume one)',
    async handler(ctx) {
      return { body: { items: (await openRuns(ctx.actor.userId ?? '')).map(runView) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/wizard/runs',
    permission: 'config:apply',
    tag,
    action: 'wizard.start',
    objectType,
    summary: 'Start a wizard run from a template',
    body: z.strictObject({ templateId: z.string({ error: 'Choose a template.' }).min(1, 'Choose a template.').max(48) }),
    async handler(ctx) {
      return { status: 201, body: runView(await createRun(ctx.actor.userId ?? '', ctx.body.templateId)) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/wizard/runs/:id',
    permission: 'config:apply',
    tag,
    action: 'wizard.read',
    objectType,
    summary: 'Read one of your wizard runs',
    async handler(ctx) {
      return { body: runView(await loadRun(ctx.params.id, ctx.actor.userId)) };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/wizard/runs/:id/steps/:step',
    permission: 'config:apply',
    tag,
    action: 'wizard.step',
    objectType,
    summary: 'Answer one step (stored; the run moves on when the step has no issue)',
    body: z.unknown() as z.ZodType<unknown>,
    async handler(ctx) {
      const row = await loadRun(ctx.params.id, ctx.actor.userId);
      return { body: runView(await saveStep(row, ctx.params.step, ctx.body)) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/wizard/runs/:id/review',
    permission: 'config:apply',
    tag,
    action: 'wizard.review',
    objectType,
    summary: 'Every object the run will create, the difference from what is staged, and the pre-flight checks',
    async handler(ctx) {
      const row = await loadRun(ctx.params.id, ctx.actor.userId);
      return { body: await reviewRun(row) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/wizard/runs/:id/stage',
    permission: 'config:write',
    tag,
    action: 'wizard.run',
    objectType,
    summary: "Create the run's objects (staged until applied), audited as one wizard run",
    async handler(ctx) {
      const row = await loadRun(ctx.params.id, ctx.actor.userId);
      return { body: await stageRun(row, ctx.audit) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/wizard/runs/:id',
    permission: 'config:apply',
    tag,
    action: 'wizard.abandon',
    objectType,
    summary: 'Abandon an open wizard run',
    async handler(ctx) {
      await abandonRun(await loadRun(ctx.params.id, ctx.actor.userId));
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/wizard/probe',
    permission: 'config:apply',
    tag,
    action: 'wizard.probe',
    objectType,
    summary: 'Can this appliance reach a real server? (a TCP connect)',
    body: z.strictObject({ address: IpAddressSchema, port: PortSchema }),
    async handler(ctx) {
      return { body: await probeTcp(ctx.body.address, ctx.body.port) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/wizard/runs/:id/test-request',
    permission: 'config:apply',
    tag,
    action: 'wizard.test-request',
    objectType,
    summary: 'A request through each VIP:port of a staged run, sent from this appliance',
    async handler(ctx) {
      const row = await loadRun(ctx.params.id, ctx.actor.userId);
      if (row.status !== 'staged')
        throw new ApiError('API_CONFLICT', { reason: 'Create and apply the run first; there is nothing to send a request through yet.' });
      const names = new Set(((row.result ? JSON.parse(row.result) : {}).services ?? []).map((s: { name: string }) => s.name));
      const services = (await renderCandidate()).virtualServices.filter((v) => names.has(v.name));
      const results = [];
      for (const vs of services) {
        for (const port of expandPorts(vs.ports).slice(0, 4)) {
          const isTls = vs.layer === 7 ? !!vs.layer7?.tls : port === 443;
          results.push({ service: vs.name, ...(await testRequest(vs.address, port, isTls)) });
        }
      }
      return { body: { items: results } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/wizard/runs/:id/arp-check',
    permission: 'config:apply',
    tag,
    action: 'wizard.arp-check',
    objectType,
    summary:
      "Ask the LAN from this appliance whether each real server of the run's DR services answers ARP for the VIP (it must not), then have the engine send a SYN for the VIP to each server's MAC (it must answer)",
    async handler(ctx) {
      const row = await loadRun(ctx.params.id, ctx.actor.userId);
      const [targets, host] = [await arpTargets(row), hostAddresses()];
      const arp = await checkArp(targets, host);
      return { body: { items: await checkVipAnswers(arp, targets, host, (r) => engine().probeVipAnswer(r)) } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/wizard/runs/:id/arp/:realServer',
    permission: 'config:apply',
    tag,
    action: 'wizard.arp',
    objectType,
    summary: 'Download the ARP-problem script or instructions for one real server of a DR run',
    query: InterfaceNamesSchema.extend({
      os: z.enum(['linux', 'windows'], { error: 'Choose linux or windows.' }),
      format: z.enum(['script', 'instructions']).default('script'),
    }),
    async handler(ctx) {
      const row = await loadRun(ctx.params.id, ctx.actor.userId);
      const target = (await arpTargets(row)).find((t) => t.realServer.name === ctx.params.realServer);
      if (!target) throw new ApiError('API_NOT_FOUND', { what: `Real server "${ctx.params.realServer}" of a DR service in this run` });
      const q = ctx.query;
      const isScript = q.format === 'script';
      const text =
        q.os === 'linux'
          ? isScript
            ? linuxScript(target, q)
            : linuxInstructions(target, q)
          : isScript
            ? windowsScript(target, q)
            : windowsInstructions(target, q);
      const ext = isScript ? (q.os === 'linux' ? 'sh' : 'ps1') : 'txt';
      const file = `fulcrum-arp-${target.realServer.name}${isScript ? '' : `-${q.os}`}.${ext}`;
      return new Response(text, {
        status: 200,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'content-disposition': `attachment; filename="${file}"`, 'cache-control': 'no-store' },
      });
    },
  }),
];
