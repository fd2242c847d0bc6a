/**
 * The channels against real servers on loopback: e-mail to Debian's aiosmtpd (python3-aiosmtpd, a real SMTP server
 * run unprivileged in the foreground, storing what it receives in a Maildir), plain and with STARTTLS required and
 * its certificate checked against a throwaway CA; the webhook to a real HTTP server that checks the signature.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { emailChannel, signWebhook, webhookChannel } from './channels.ts';
import { EmailSettingsSchema } from './settings.ts';
import { messageOf, type Alert } from './types.ts';

let tmp: string;
const children: ChildProcess[] = [];
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-alerts-'));
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: tmp, stdio: 'pipe' });
  ossl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Fulcrum alerts test CA',
  );
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'smtp.key', '-out', 'smtp.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(path.join(tmp, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ossl('x509', '-req', '-in', 'smtp.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'smtp.pem', '-days', '2', '-extfile', 'san.ext');
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM'), await once(c, 'exit');
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

/** aiosmtpd on a loopback port, delivering into `<dir>/maildir`; resolves when it accepts connections. */
async function smtpServer(name: string, tlsArgs: string[] = []): Promise<{ port: number; maildir: string }> {
  const port = await freePort();
  const maildir = path.join(tmp, name, 'maildir');
  fs.mkdirSync(path.dirname(maildir), { recursive: true });
  const child = spawn('/usr/bin/python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, ...tlsArgs, '-c', 'aiosmtpd.handlers.Mailbox', maildir], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`aiosmtpd exited: ${stderr}`);
    const isUp = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (isUp) return { port, maildir };
    if (i > 400) throw new Error(`aiosmtpd not listening: ${stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const delivered = (maildir: string) => {
  const dir = path.join(maildir, 'new');
  return fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')) : [];
};

const alert: Alert = {
  kind: 'server-down',
  at: '2026-12-01T19:30:00.000Z',
  subject: 'symphony-web/sym-app-1',
  severity: 'warning',
  title: 'Real server sym-app-1 of symphony-web is down',
  text: 'The health check of sym-app-1 (127.0.0.1:8081) failed: connection refused.',
};

test('e-mail over plain SMTP reaches the mailbox with the alert as subject and body', async () => {
  const { port, maildir } = await smtpServer('plain');
  const ch = emailChannel(
    EmailSettingsSchema.parse({
      host: '127.0.0.1',
      port,
      security: 'none',
      from: 'fulcrum@lb1.example.nhs.uk',
      to: ['oncall@example.nhs.uk', 'noc@example.nhs.uk'],
    }),
  );
  await ch.send(messageOf([alert]));
  const mails = delivered(maildir);
  assert.equal(mails.length, 1);
  assert.match(mails[0], /^Subject: \[Fulcrum\] Real server sym-app-1 of symphony-web is down$/m);
  assert.match(mails[0], /^To: oncall@example\.nhs\.uk, noc@example\.nhs\.uk$/m);
  assert.match(mails[0], /connection refused/);
});

test("e-mail with STARTTLS required: the server's certificate is checked against the configured CA", async () => {
  const { port, maildir } = await smtpServer('starttls', ['--tlscert', path.join(tmp, 'smtp.pem'), '--tlskey', path.join(tmp, 'smtp.key')]);
  const base = { host: 'localhost', port, security: 'starttls', from: 'fulcrum@lb1.example.nhs.uk', to: ['oncall@example.nhs.uk'] };
  await emailChannel(EmailSettingsSchema.parse({ ...base, caPem: fs.readFileSync(path.join(tmp, 'ca.pem'), 'utf8') })).send(messageOf([alert]));
  assert.equal(delivered(maildir).length, 1);
  // Without that CA the certificate is not trusted: nothing is sent in the clear instead.
  await assert.rejects(emailChannel(EmailSettingsSchema.parse(base)).send(messageOf([alert])), /certificate|self-signed|unable to verify/i);
  assert.equal(delivered(maildir).length, 1);
});

test('webhook: JSON POST whose signature the receiver can check; a non-2xx answer is a failure', async () => {
  const got: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  let status = 204;
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    got.push({ headers: req.headers, body });
    res.writeHead(status).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hooks/fulcrum`;
  const secret = 'a-long-shared-secret-for-tests';
  await webhookChannel({ isEnabled: true, url, secret }).send(
    messageOf([alert, { ...alert, kind: 'server-up', title: 'Real server sym-app-1 of symphony-web is up again' }]),
  );
  assert.equal(got.length, 1);
  const { headers, body } = got[0];
  assert.equal(headers['content-type'], 'application/json');
  // What a receiver does: HMAC over "timestamp.body" with the shared secret, compared in constant time.
  const expected = 'sha256=' + createHmac('sha256', secret).update(`${headers['x-fulcrum-timestamp']}.${body}`).digest('hex');
  assert.ok(timingSafeEqual(Buffer.from(String(headers['x-fulcrum-signature'])), Buffer.from(expected)));
  assert.notEqual(signWebhook('another-secret-entirely', String(headers['x-fulcrum-timestamp']), body), headers['x-fulcrum-signature']);
  const json = JSON.parse(body);
  assert.equal(json.alerts.length, 2);
  assert.match(json.subject, /2 alerts/);
  status = 500;
  await assert.rejects(webhookChannel({ isEnabled: true, url, secret }).send(messageOf([alert])), /HTTP 500/);
  server.close();
});
