/**
 * The shapes of a wizard run's answers, step by step. These check structure only (which keys, strings or lists);
 * every value is judged by the one config schema once the step engine (engine.ts) has put it into the objects it
 * builds, so a refusal carries the schema's own sentence, placed back at the wizard's field. No Node imports: the
 * browser uses the same step list.
 */
import { z } from 'zod';

export const STEP_IDS = ['mode', 'service', 'servers', 'persistence', 'health', 'tls', 'review'] as const;
export type StepId = (typeof STEP_IDS)[number];

export const STEP_TITLES: Record<StepId, string> = {
  mode: 'Deployment mode',
  service: 'Virtual IP and ports',
  servers: 'Real servers',
  persistence: 'Persistence',
  health: 'Health check',
  tls: 'Certificate and HTTPS',
  review: 'Review and create',
};

/** The steps of a run in `layer`: the certificate step belongs to layer 7 only. */
export function stepsFor(layer: 4 | 7 | undefined): StepId[] {
  return STEP_IDS.filter((s) => s !== 'tls' || layer === 7);
}

/**
 * A number field: a number, null/absent when left empty, or the text typed when it is not a number (the config
 * schema then says, at the field, what it wants: "Give the persistence timeout in seconds.").
 */
const num = z.union([z.number(), z.string().max(32), z.null()]).optional();
const text = (max = 1024) => z.string().max(max, `Use at most ${max} characters.`);

export const ModeAnswer = z.strictObject({ modeId: z.string({ error: 'Choose a deployment mode.' }).min(1, 'Choose a deployment mode.') });

export const ServiceAnswer = z.strictObject({
  name: text(64),
  address: text(64),
  ports: z.array(z.strictObject({ port: num, label: text(40), isTls: z.boolean().default(false) })).max(8, 'Give at most 8 ports.'),
  interface: text(15).optional(),
});

export const ServersAnswer = z.strictObject({
  realServers: z
    .array(z.strictObject({ name: text(64), address: text(64), port: num, weight: num }))
    .max(64, 'Give at most 64 real servers here; add more on the service afterwards.'),
});

export const PersistenceAnswer = z.strictObject({
  type: z.enum(['none', 'source-ip', 'http-cookie'], { error: 'Choose persistence.' }),
  timeoutSeconds: num,
  cookieName: text(64).optional(),
});

export const HealthAnswer = z.strictObject({
  type: z.enum(['http', 'https', 'connect', 'dicom-echo', 'none'], { error: 'Choose a health check.' }),
  path: text(2048).optional(),
  expectText: text().optional(),
  port: num,
  intervalMs: num,
  timeoutMs: num,
  calledAeTitle: text(64).optional(),
  callingAeTitle: text(64).optional(),
});

export const TlsAnswer = z.strictObject({
  /**
   * existing: a certificate already uploaded (Certificates page: PEM or PFX); self-signed: made by this appliance at
   * create; request: a key and signing request made here (POST /certificate-requests) whose name is `certificate`:
   * until the hospital CA's certificate completes it, create makes a self-signed placeholder of that name, which the
   * completed request then replaces in place (a renewal), so the services never change their certificate's name.
   */
  source: z.enum(['existing', 'self-signed', 'request', 'none'], { error: 'Choose where the certificate comes from.' }),
  certificate: text(64).optional(),
  httpsRedirect: z.boolean().default(true),
  xForwardedFor: z.boolean().default(true),
});

export const ReviewAnswer = z.strictObject({});

export const STEP_SCHEMAS = {
  mode: ModeAnswer,
  service: ServiceAnswer,
  servers: ServersAnswer,
  persistence: PersistenceAnswer,
  health: HealthAnswer,
  tls: TlsAnswer,
  review: ReviewAnswer,
} as const satisfies Record<StepId, z.ZodType>;

export type Answers = {
  mode?: z.infer<typeof ModeAnswer>;
  service?: z.infer<typeof ServiceAnswer>;
  servers?: z.infer<typeof ServersAnswer>;
  persistence?: z.infer<typeof PersistenceAnswer>;
  health?: z.infer<typeof HealthAnswer>;
  tls?: z.infer<typeof TlsAnswer>;
  review?: z.infer<typeof ReviewAnswer>;
};

/** A refusal placed at a wizard field: `path` is relative to the step ("realServers.1.address"). */
export interface WizardIssue {
  step: StepId;
  path: string;
  message: string;
}
