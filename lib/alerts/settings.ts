/**
 * Alert settings: one JSON file in the data directory (alerts.json, 0600: it holds the SMTP password and the
 * webhook's signing secret), read and written only through this schema. Off until an admin turns it on.
 *
 * Secrets are never answered back: `publicView` says only whether each is set. A change that leaves a secret out
 * keeps the one stored (`mergeSecrets`), so a form that never saw it cannot erase it by accident.
 */
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';

const pem = z
  .string()
  .max(64 * 1024)
  .refine((v) => {
    try {
      new X509Certificate(v);
      return true;
    } catch {
      return false;
    }
  }, 'This is not a PEM certificate.');

export const EmailSettingsSchema = z.strictObject({
  isEnabled: z.boolean().default(true),
  host: z.string().trim().min(1, 'Enter the SMTP server.').max(253),
  port: z.number().int().min(1).max(65535).default(587),
  /** none: plain SMTP (a relay on the appliance's own network); starttls: upgrade, required; tls: SMTPS (465). */
  security: z.enum(['none', 'starttls', 'tls']).default('starttls'),
  username: z.string().max(256).optional(),
  password: z.string().max(1024).optional(),
  caPem: pem.optional(),
  from: z.email('Enter the address alerts come from.'),
  to: z.array(z.email('Enter an e-mail address.')).min(1, 'Name at least one recipient.').max(20),
});

export const WebhookSettingsSchema = z.strictObject({
  isEnabled: z.boolean().default(true),
  url: z.url({ protocol: /^https?$/, error: 'Enter an http:// or https:// address.' }).max(2048),
  /** The key of the HMAC-SHA256 in X-Fulcrum-Signature. */
  secret: z.string().min(16, 'Use a secret of at least 16 characters.').max(256).optional(),
});

export const AlertSettingsSchema = z.strictObject({
  isEnabled: z.boolean().default(false),
  /** At most one message per target per this many minutes; later alerts are summarised in the next. */
  minIntervalMinutes: z.number().int().min(1).max(1440).default(15),
  certificateWarnDays: z.number().int().min(1).max(365).default(30),
  chainCheckMinutes: z.number().int().min(5).max(1440).default(60),
  email: EmailSettingsSchema.optional(),
  webhook: WebhookSettingsSchema.optional(),
});
export type AlertSettings = z.infer<typeof AlertSettingsSchema>;

export const alertSettingsPath = (dataDir: string) => path.join(dataDir, 'alerts.json');

export function readAlertSettings(dataDir: string): AlertSettings {
  const file = alertSettingsPath(dataDir);
  if (!fs.existsSync(file)) return AlertSettingsSchema.parse({});
  const parsed = AlertSettingsSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : AlertSettingsSchema.parse({});
}

export function writeAlertSettings(dataDir: string, s: AlertSettings): void {
  const file = alertSettingsPath(dataDir);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2), { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
}

/** Secrets left out of a change are kept from the stored settings. */
export function mergeSecrets(next: AlertSettings, stored: AlertSettings): AlertSettings {
  return {
    ...next,
    email: next.email && { ...next.email, password: next.email.password ?? stored.email?.password },
    webhook: next.webhook && { ...next.webhook, secret: next.webhook.secret ?? stored.webhook?.secret },
  };
}

/** What the API answers: the settings without their secrets. */
export function publicView(s: AlertSettings) {
  const { password, ...email } = s.email ?? ({} as NonNullable<AlertSettings['email']>);
  const { secret, ...webhook } = s.webhook ?? ({} as NonNullable<AlertSettings['webhook']>);
  return {
    ...s,
    email: s.email ? { ...email, hasPassword: !!password } : undefined,
    webhook: s.webhook ? { ...webhook, hasSecret: !!secret } : undefined,
  };
}
