/**
 * The step engine: a template plus a run's answers become the VirtualServices the run will create, and the one config
 * schema judges them together with the configuration already staged (so "name already used" and "another service
 * listens on this VIP:port" come from the same rules as any edit). Each refusal is placed back at the step and field
 * the person typed it in.
 *
 * Steps not yet answered take the template's defaults, so the whole run is checked at every step and a step reports
 * only the issues that belong to it (an empty VIP is not an error on the mode step).
 *
 * Objects by mode:
 *   layer 4 (DR)  one service on every port; real servers without a port (DR cannot translate ports).
 *   layer 7       HTTPS ports: one service terminating TLS with the certificate; plain ports: a second service
 *                 "<name>-http" that redirects to HTTPS (or proxies plainly when the redirect is off); with only
 *                 plain ports, one plain service. Both share the real servers, persistence and check.
 */
import { ConfigSchema, PortSchema, type Config, type VirtualService, type VirtualServiceInput } from '../../engine/config/index.ts';
import type { Answers, StepId, WizardIssue } from './answers.ts';
import type { Template, TemplateMode } from './template.ts';

/** Name of the certificate a self-signed run creates; a placeholder stands in for it until create makes it. */
export const selfSignedName = (service: string) => `${service}-self-signed`.slice(0, 64);
const PLACEHOLDER_CERT = {
  certificatePem: '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n',
  privateKeyPem: '-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n',
};

export function modeOf(template: Template, answers: Answers): TemplateMode | undefined {
  return template.modes.find((m) => m.id === answers.mode?.modeId);
}

/** The answers with the template's defaults for every step not yet answered. */
export function withDefaults(template: Template, mode: TemplateMode, answers: Answers): Required<Omit<Answers, 'review' | 'mode'>> {
  return {
    service: answers.service ?? { name: template.serviceName, address: '', ports: mode.ports.map((p) => ({ ...p })) },
    servers: answers.servers ?? { realServers: [] },
    persistence: answers.persistence ?? {
      type: mode.persistence.type,
      timeoutSeconds: mode.persistence.timeoutSeconds,
      cookieName: mode.persistence.cookieName,
    },
    health: answers.health ?? { ...mode.healthCheck, calledAeTitle: mode.healthCheck.calledAeTitle ?? '' },
    tls: answers.tls ?? { source: 'none', httpsRedirect: mode.layer7?.httpsRedirect ?? true, xForwardedFor: mode.layer7?.xForwardedFor ?? true },
  };
}

/** Empty → the schema's default; a number, or text that is not one, goes to the schema as it is (a number, it is told). */
const opt = (v: number | string | null | undefined) => (v === null || v === undefined ? undefined : (v as number));
const clean = <T extends Record<string, unknown>>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

function persistenceOf(p: NonNullable<Answers['persistence']>): VirtualServiceInput['persistence'] {
  if (p.type === 'source-ip') return clean({ type: 'source-ip' as const, timeoutSeconds: opt(p.timeoutSeconds) });
  if (p.type === 'http-cookie') return clean({ type: 'http-cookie' as const, cookieName: p.cookieName || undefined });
  return { type: 'none' };
}

function healthOf(h: NonNullable<Answers['health']>): VirtualServiceInput['healthCheck'] {
  const isHttp = h.type === 'http' || h.type === 'https';
  return clean({
    type: h.type,
    // With no check, its timing is not asked (the fields are hidden), so none is carried over from another kind.
    port: h.type === 'none' ? undefined : opt(h.port),
    intervalMs: h.type === 'none' ? undefined : opt(h.intervalMs),
    timeoutMs: h.type === 'none' ? undefined : opt(h.timeoutMs),
    http: isHttp ? clean({ path: h.path || '/', expectBody: h.expectText || undefined }) : undefined,
    dicom: h.type === 'dicom-echo' ? clean({ calledAeTitle: h.calledAeTitle ?? '', callingAeTitle: h.callingAeTitle || undefined }) : undefined,
  });
}

/** Where an object's schema path came from: which step and field, given the ports this object took. */
type Origin = { portIndexes: number[] };

function placeIssue(path: readonly PropertyKey[], origin: Origin): { step: StepId; path: string } {
  const [head, ...rest] = path.map(String);
  const sub = rest.join('.');
  switch (head) {
    case 'name':
    case 'address':
    case 'interface':
      return { step: 'service', path: head };
    case 'ports':
      return { step: 'service', path: rest.length ? `ports.${origin.portIndexes[Number(rest[0])] ?? rest[0]}.port` : 'ports' };
    case 'realServers':
      return { step: 'servers', path: `realServers${sub ? `.${sub}` : ''}` };
    case 'persistence':
      return { step: 'persistence', path: rest.at(-1) ?? 'type' };
    case 'healthCheck': {
      const leaf = rest.at(-1) ?? 'type';
      const map: Record<string, string> = {
        path: 'path',
        expectBody: 'expectText',
        calledAeTitle: 'calledAeTitle',
        callingAeTitle: 'callingAeTitle',
        dicom: 'calledAeTitle',
        http: 'path',
      };
      return { step: 'health', path: map[leaf] ?? leaf };
    }
    case 'layer7':
      return { step: 'tls', path: rest.includes('certificate') ? 'certificate' : (rest[0] ?? 'source') };
    default:
      return { step: 'review', path: path.map(String).join('.') };
  }
}

export interface BuiltRun {
  mode: TemplateMode;
  /** The objects as built (inputs to the schema). */
  objects: VirtualServiceInput[];
  origins: Origin[];
  /**
   * Set when the run makes its own self-signed certificate at create (when none of that name exists then): the
   * certificate itself, or the placeholder for a signing request that waits for the hospital CA.
   */
  selfSignedCertificate?: string;
  /** The signing request (made here) whose certificate the run's HTTPS service will use once the CA signs it. */
  certificateRequest?: string;
  /** Refusals of the wizard's own rules (a certificate for an HTTPS port), before the schema's. */
  issues: WizardIssue[];
}

export function buildObjects(template: Template, answers: Answers): BuiltRun | { issues: WizardIssue[] } {
  const mode = modeOf(template, answers);
  if (!mode)
    return {
      issues: [
        {
          step: 'mode',
          path: 'modeId',
          message: answers.mode
            ? `This template has no mode "${answers.mode.modeId}"; choose one of ${template.modes.map((m) => m.label).join(' or ')}.`
            : 'Choose a deployment mode.',
        },
      ],
    };
  const a = withDefaults(template, mode, answers);
  const issues: WizardIssue[] = [];
  const ports = a.service.ports.map((p, i) => ({ ...p, index: i }));
  if (ports.length === 0) issues.push({ step: 'service', path: 'ports', message: 'Give at least one port.' });
  if (answers.servers && a.servers.realServers.length === 0)
    issues.push({ step: 'servers', path: 'realServers', message: 'Give at least one real server: the service needs somewhere to send its clients.' });
  const realServers = a.servers.realServers.map((rs) => clean({ name: rs.name, address: rs.address, port: opt(rs.port), weight: opt(rs.weight) }));
  const common = {
    description: `${template.title} (${mode.label}), made by the setup wizard`,
    address: a.service.address,
    protocol: 'tcp' as const,
    scheduler: mode.scheduler as VirtualServiceInput['scheduler'],
    persistence: persistenceOf(a.persistence),
    healthCheck: healthOf(a.health),
    realServers,
  };
  const name = a.service.name;
  if (mode.layer === 4) {
    const obj: VirtualServiceInput = clean({
      ...common,
      name,
      layer: 4 as const,
      mode: mode.mode,
      ports: ports.map((p) => p.port as number),
      interface: a.service.interface || undefined,
    });
    return { mode, objects: [obj], origins: [{ portIndexes: ports.map((p) => p.index) }], issues };
  }

  const tlsPorts = ports.filter((p) => p.isTls);
  const plainPorts = ports.filter((p) => !p.isTls);
  const objects: VirtualServiceInput[] = [];
  const origins: Origin[] = [];
  let certificate: string | undefined;
  let selfSignedCertificate: string | undefined;
  let certificateRequest: string | undefined;
  if (tlsPorts.length > 0) {
    const which = tlsPorts.map((p) => p.port).join(', ');
    if (a.tls.source === 'self-signed') certificate = selfSignedCertificate = selfSignedName(name || template.serviceName);
    else if (a.tls.source === 'existing' && a.tls.certificate) certificate = a.tls.certificate;
    // The request's name is the certificate's: a placeholder stands under it until the CA's certificate replaces it.
    else if (a.tls.source === 'request' && a.tls.certificate) certificate = selfSignedCertificate = certificateRequest = a.tls.certificate;
    else if (a.tls.source === 'request')
      issues.push({
        step: 'tls',
        path: 'certificate',
        message: `Port ${which} is marked HTTPS: make the key and signing request here first (Make key and request), or choose another certificate.`,
      });
    else {
      issues.push({
        step: 'tls',
        path: a.tls.source === 'existing' ? 'certificate' : 'source',
        message: `Port ${which} is marked HTTPS, so it needs a certificate: choose one uploaded on the Certificates page, make a key and signing request for the hospital's CA, or let this appliance make a self-signed one. Or untick HTTPS on that port.`,
      });
    }
  }
  const xff = a.tls.xForwardedFor;
  if (tlsPorts.length > 0) {
    objects.push({
      ...common,
      name,
      layer: 7,
      mode: mode.mode,
      ports: tlsPorts.map((p) => p.port as number),
      layer7: { xForwardedFor: xff, ...(certificate ? { tls: { certificate } } : {}) },
    });
    origins.push({ portIndexes: tlsPorts.map((p) => p.index) });
  }
  if (plainPorts.length > 0) {
    const isRedirect = tlsPorts.length > 0 && a.tls.httpsRedirect;
    objects.push({
      ...common,
      name: tlsPorts.length > 0 ? `${name}-http` : name,
      layer: 7,
      mode: mode.mode,
      ports: plainPorts.map((p) => p.port as number),
      description: isRedirect ? `${template.title}: sends HTTP clients to HTTPS (made by the setup wizard)` : common.description,
      // To this service's own HTTPS port (the first one marked HTTPS), not always 443: the Location names it.
      layer7: { xForwardedFor: xff, ...(isRedirect ? { httpsRedirect: { status: 301 as const, port: tlsPorts[0].port as number } } : {}) },
    });
    origins.push({ portIndexes: plainPorts.map((p) => p.index) });
  }
  return { mode, objects, origins, selfSignedCertificate, certificateRequest, issues };
}

/**
 * A port entry is a port or a range, so a wrong one fails the schema's union with no sentence of its own; the wizard
 * asks for single ports, so the port schema's own sentence is the one to show.
 */
function portMessage(obj: VirtualServiceInput, rest: PropertyKey[]): string | undefined {
  if (rest[0] !== 'ports' || typeof rest[1] !== 'number' || rest.length !== 2) return undefined;
  const r = PortSchema.safeParse(obj.ports?.[rest[1]]);
  return r.success ? undefined : r.error.issues[0].message;
}

export interface CheckedRun {
  mode?: TemplateMode;
  /** Parsed by the schema; empty when any issue stands. */
  objects: VirtualService[];
  selfSignedCertificate?: string;
  certificateRequest?: string;
  issues: WizardIssue[];
}

/**
 * Builds the run's objects and parses them with ConfigSchema beside `candidate` (what is staged now). Every refusal
 * comes back as a WizardIssue at its step.
 */
export function checkRun(template: Template, answers: Answers, candidate: Config): CheckedRun {
  const built = buildObjects(template, answers);
  if (!('mode' in built)) return { objects: [], issues: built.issues };
  const certificates =
    built.selfSignedCertificate && !candidate.certificates.some((c) => c.name === built.selfSignedCertificate)
      ? [...candidate.certificates, { name: built.selfSignedCertificate, ...PLACEHOLDER_CERT }]
      : candidate.certificates;
  const base = candidate.virtualServices.length;
  const r = ConfigSchema.safeParse({ ...candidate, certificates, virtualServices: [...candidate.virtualServices, ...built.objects] });
  const issues = [...built.issues];
  if (!r.success) {
    for (const i of r.error.issues) {
      const [top, index, ...rest] = i.path;
      const k = top === 'virtualServices' && typeof index === 'number' ? index - base : -1;
      if (k < 0) {
        issues.push({ step: 'review', path: i.path.map(String).join('.'), message: `${i.message} (in what is already staged)` });
        continue;
      }
      const placed = placeIssue(rest, built.origins[k]);
      const keys = (i as { keys?: string[] }).keys;
      issues.push({ ...placed, message: keys ? `Unknown field ${keys.join(', ')}.` : (portMessage(built.objects[k], rest) ?? i.message) });
    }
  }
  const unique = issues.filter((x, n) => issues.findIndex((y) => y.step === x.step && y.path === x.path && y.message === x.message) === n);
  const objects = r.success && unique.length === 0 ? r.data.virtualServices.slice(base) : [];
  return { mode: built.mode, objects, selfSignedCertificate: built.selfSignedCertificate, certificateRequest: built.certificateRequest, issues: unique };
}

/** The issues that a person answering `step` must fix there (a step's own fields; never later steps'). */
export function issuesFor(step: StepId, issues: WizardIssue[]): WizardIssue[] {
  return issues.filter((i) => i.step === step);
}
