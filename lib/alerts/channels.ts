/**
 * The two ways an alert leaves the appliance.
 *
 * E-mail: SMTP through nodemailer; `security` none | starttls (required, not opportunistic) | tls (SMTPS), the
 * server's certificate checked against the system's CAs or the configured one.
 *
 * Webhook: POST of the message as JSON. The receiver checks it came from this console:
 *
 *   X-Fulcrum-Timestamp: 1796239200                       (seconds; reject one far from your clock: a replay)
 *   X-Fulcrum-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 *
 * Any answer but 2xx, or none within 10 s, is a failure (the caller logs it and counts it).
 */
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { AlertSettings } from './settings.ts';
import type { AlertMessage } from './types.ts';

const TIMEOUT_MS = 10_000; // a receiver that hangs must not hold alerts back for long

export interface Channel {
  name: 'email' | 'webhook';
  send(m: AlertMessage): Promise<void>;
}

export function emailChannel(s: NonNullable<AlertSettings['email']>): Channel {
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.security === 'tls',
    requireTLS: s.security === 'starttls',
    ignoreTLS: s.security === 'none',
    auth: s.username ? { user: s.username, pass: s.password ?? '' } : undefined,
    tls: s.caPem ? { ca: s.caPem } : undefined,
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
  });
  return {
    name: 'email',
    async send(m) {
      await transport.sendMail({ from: s.from, to: s.to, subject: m.subject, text: m.text });
    },
  };
}

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function webhookChannel(s: NonNullable<AlertSettings['webhook']>): Channel {
  return {
    name: 'webhook',
    async send(m) {
      const body = JSON.stringify({ subject: m.subject, text: m.text, alerts: m.alerts, omitted: m.omitted });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'fulcrum-alerts', 'x-fulcrum-timestamp': timestamp };
      if (s.secret) headers['x-fulcrum-signature'] = signWebhook(s.secret, timestamp, body);
      const r = await fetch(s.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'manual' });
      await r.arrayBuffer().catch(() => undefined);
      if (r.status < 200 || r.status > 299) throw Object.assign(new Error(`the webhook answered HTTP ${r.status}`), { code: 'ALERT_WEBHOOK_STATUS' });
    },
  };
}
