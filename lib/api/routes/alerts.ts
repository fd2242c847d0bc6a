/**
 * Alerts (lib/alerts/): admins only (config:write). The settings are answered without their secrets (the SMTP
 * password and the webhook's signing secret say only whether they are set); a change that leaves a secret out keeps
 * the stored one. Changes are audited (the audit trail redacts `password` and `secret` itself) and take effect at once.
 */
import { z } from 'zod';
import { defineRoute } from '../route.ts';
import { writeAuditAlone } from '../../audit.ts';
import { consoleEnv } from '../../env.ts';
import { AlertSettingsSchema, mergeSecrets, publicView, readAlertSettings, writeAlertSettings } from '../../alerts/settings.ts';
import { runningAlerts } from '../../alerts/index.ts';

const tag = 'alerts';
const view = () => ({ settings: publicView(readAlertSettings(consoleEnv().dataDir)), status: runningAlerts()?.status() ?? { isEnabled: false, targets: [] } });

export const alertRoutes = [
  defineRoute({
    method: 'GET',
    path: '/alerts',
    permission: 'config:write',
    tag,
    action: 'alerts.read',
    objectType: 'alerts',
    summary: 'Read the alert settings (without secrets) and what each target has sent',
    async handler() {
      return { body: view() };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/alerts',
    permission: 'config:write',
    tag,
    action: 'alerts.update',
    objectType: 'alerts',
    summary: 'Change who is alerted (e-mail, webhook) and how often at most',
    body: AlertSettingsSchema,
    async handler(ctx) {
      const dataDir = consoleEnv().dataDir;
      const before = readAlertSettings(dataDir);
      const next = mergeSecrets(ctx.body, before);
      writeAlertSettings(dataDir, next);
      await writeAuditAlone(
        ctx.audit({ action: 'alerts.update', objectType: 'alerts', outcome: 'success', before: publicView(before), after: publicView(next) }),
      );
      runningAlerts()?.reconfigure(next);
      return { body: view() };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/alerts/test',
    permission: 'config:write',
    tag,
    action: 'alerts.test',
    objectType: 'alerts',
    summary: 'Send a test alert to every enabled target now (past the rate limit)',
    body: z.strictObject({}),
    async handler(ctx) {
      const svc = runningAlerts();
      await writeAuditAlone(
        ctx.audit({
          action: 'alerts.test',
          objectType: 'alerts',
          outcome: svc ? 'success' : 'failed',
          message: svc ? null : 'the alert service is not running',
        }),
      );
      svc?.sendTest(ctx.actor.name);
      return { status: 202, body: view() };
    },
  }),
];
