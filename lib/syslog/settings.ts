/**
 * Syslog-out settings: one JSON file in the data directory (syslog.json, 0600), like the other files the console
 * keeps there, read and written only through this schema. Changed by an admin over the API (lib/api/routes/syslog.ts).
 * Off until someone turns it on; access logs are off even then unless asked for (they are many).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { FACILITIES, type Facility } from './format.ts';

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const SyslogSettingsSchema = z
  .strictObject({
    isEnabled: z.boolean().default(false),
    transport: z.enum(['udp', 'tcp', 'tls']).default('tcp'),
    host: z
      .string()
      .trim()
      .max(253)
      .refine((h) => h === '' || net.isIP(h) !== 0 || HOSTNAME.test(h), 'Enter a host name or an IP address.')
      .default(''),
    port: z.number().int('The port is a whole number.').min(1).max(65535).default(514),
    /** PEM of the CA that signed the syslog server's certificate (TLS only). */
    caPem: z
      .string()
      .max(64 * 1024)
      .optional(),
    /** The name the server's certificate must carry; default the host. */
    serverName: z.string().trim().max(253).optional(),
    facility: z.enum(Object.keys(FACILITIES) as [Facility, ...Facility[]]).default('local0'),
    sendAuditEvents: z.boolean().default(true),
    sendHealthTransitions: z.boolean().default(true),
    sendAccessLogs: z.boolean().default(false),
    queueMaxMessages: z.number().int().min(100).max(1_000_000).default(100_000),
  })
  .superRefine((s, ctx) => {
    if (s.isEnabled && !s.host) ctx.addIssue({ code: 'custom', path: ['host'], message: 'Enter the syslog server to send to.' });
    if (s.transport === 'tls' && s.isEnabled && !s.caPem)
      ctx.addIssue({ code: 'custom', path: ['caPem'], message: "TLS needs the CA certificate (PEM) that signed the syslog server's certificate." });
    if (s.caPem) {
      try {
        new X509Certificate(s.caPem);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['caPem'], message: 'This is not a PEM certificate.' });
      }
    }
  });
export type SyslogSettings = z.infer<typeof SyslogSettingsSchema>;

export const settingsPath = (dataDir: string) => path.join(dataDir, 'syslog.json');

export function readSyslogSettings(dataDir: string): SyslogSettings {
  const file = settingsPath(dataDir);
  if (!fs.existsSync(file)) return SyslogSettingsSchema.parse({});
  const parsed = SyslogSettingsSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  // A file someone edited by hand into something invalid turns syslog off rather than stopping the console.
  return parsed.success ? parsed.data : SyslogSettingsSchema.parse({});
}

export function writeSyslogSettings(dataDir: string, s: SyslogSettings): void {
  const file = settingsPath(dataDir);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
}
