/** What the wizard's API answers (lib/api/routes/wizard.ts), as the browser sees it. */
import type { Answers, StepId, WizardIssue } from '@/lib/wizard/answers.ts';
import type { Template } from '@/lib/wizard/template.ts';

export type { Answers, StepId, WizardIssue, Template };

export interface Run {
  id: string;
  templateId: string;
  templateTitle: string;
  status: 'open' | 'staged' | 'abandoned';
  step: StepId;
  steps: StepId[];
  modeId: string | null;
  layer: 4 | 7 | null;
  answers: Answers;
  defaults: Required<Omit<Answers, 'review' | 'mode'>> | null;
  result: { services: { id: string; name: string }[]; certificate: string | null; certificateRequest?: string | null } | null;
  updatedAt: string;
}

export interface Review {
  objects: ServiceObject[];
  issues: WizardIssue[];
  changes: { kind: 'added' | 'removed' | 'changed'; objectType: string; name: string; fields: { path: string; before: unknown; after: unknown }[] }[];
  preflight: { checks: { name: string; isOk: boolean; message: string }[]; addressSource: string } | null;
  selfSignedCertificate?: string;
  certificateRequest?: string;
  candidateHash: string;
}

export interface ServiceObject {
  name: string;
  layer: 4 | 7;
  mode: string;
  address: string;
  ports: (number | string)[];
  scheduler: string;
  persistence: { type: string; timeoutSeconds?: number; cookieName?: string };
  healthCheck: { type: string; port?: number; http?: { path: string; expectBody?: string }; dicom?: { calledAeTitle: string } };
  layer7?: { tls?: { certificate: string }; httpsRedirect?: { status: number }; xForwardedFor?: unknown };
  realServers: { name: string; address: string; port?: number; weight: number }[];
}

/** Field errors of one step, keyed by path ("realServers.1.address"). */
export type FieldErrors = Record<string, string>;

export interface StepProps<T> {
  value: T;
  onChange(v: T): void;
  errors: FieldErrors;
  run: Run;
  template: Template;
}
