/**
 * Syslog out (lib/syslog/): admins only (config:write), since the settings decide where the audit trail goes.
 * Reading shows the settings and the forwarder's state (queued, dropped, sent, the last error); a change is audited
 * with before and after and takes effect at once; a test message goes through the same queue as everything else.
 */
import { z } from 'zod';
import { defineRoute } from '../route.ts';
import { writeAuditAlone } from '../../audit.ts';
import { consoleEnv } from '../../env.ts';
import { readSyslogSettings, SyslogSettingsSchema, writeSyslogSettings } from '../../syslog/settings.ts';
import { runningSyslog } from '../../syslog/index.ts';

const tag = 'syslog';
const notRunning = {
  isEnabled: false,
  queued: 0,
  dropped: 0,
  sent: 0,
  isConnected: false,
  lastError: 'the forwarder is not running in this process',
  lastErrorAt: null,
};
const view = () => ({ settings: readSyslogSettings(consoleEnv().dataDir), status: runningSyslog()?.status() ?? notRunning });

export const syslogRoutes = [
  defineRoute({
    method: 'GET',
    path: '/syslog',
    permission: 'config:write',
    tag,
    action: 'syslog.read',
    objectType: 'syslog',
    summary: 'Read the syslog-out settings and what the forwarder is doing',
    async handler() {
      return { body: view() };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/syslog',
    permission: 'config:write',
    tag,
    action: 'syslog.update',
    objectType: 'syslog',
    summary: 'Change where audit events and health transitions are sent as syslog (RFC 5424 over UDP, TCP or TLS)',
    body: SyslogSettingsSchema,
    async handler(ctx) {
      const dataDir = consoleEnv().dataDir;
      const before = readSyslogSettings(dataDir);
      writeSyslogSettings(dataDir, ctx.body);
      await writeAuditAlone(ctx.audit({ action: 'syslog.update', objectType: 'syslog', outcome: 'success', before, after: ctx.body }));
      runningSyslog()?.reconfigure(ctx.body);
      return { body: view() };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/syslog/test',
    permission: 'config:write',
    tag,
    action: 'syslog.test',
    objectType: 'syslog',
    summary: 'Queue a test message to the syslog server',
    body: z.strictObject({}),
    async handler(ctx) {
      const fwd = runningSyslog();
      await writeAuditAlone(
        ctx.audit({ action: 'syslog.test', objectType: 'syslog', outcome: fwd ? 'success' : 'failed', message: fwd ? null : 'the forwarder is not running' }),
      );
      fwd?.sendTest(ctx.actor.name);
      return { status: 202, body: view() };
    },
  }),
];
