/**
 * The syslog and alert settings in a real browser: an admin turns syslog on without a server and is told at the
 * field; with a real TCP listener on loopback as the syslog server the test message arrives; a webhook to a real
 * HTTP server on loopback receives the signed test alert; the status lines say what was sent. Screenshots at 1366
 * and 820 px. Every address is loopback.
 */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { test, expect } from '@playwright/test';
import { signIn } from './sign-in.ts';

const SHOTS = '.tmp/e2e-results';

test.describe.configure({ mode: 'serial' });

let syslogServer: net.Server;
let syslogPort = 0;
let syslogGot = '';
let hookServer: http.Server;
let hookPort = 0;
const hookGot: http.IncomingHttpHeaders[] = [];

test.beforeAll(async () => {
  syslogServer = net.createServer((s) => s.on('data', (c) => (syslogGot += c))).listen(0, '127.0.0.1');
  await once(syslogServer, 'listening');
  syslogPort = (syslogServer.address() as net.AddressInfo).port;
  hookServer = http
    .createServer(async (req, res) => {
      for await (const _ of req);
      hookGot.push(req.headers);
      res.writeHead(204).end();
    })
    .listen(0, '127.0.0.1');
  await once(hookServer, 'listening');
  hookPort = (hookServer.address() as net.AddressInfo).port;
});
test.afterAll(async () => {
  syslogServer.close();
  hookServer.close();
});

test('syslog: a missing server is named at the field; a real listener receives the test message', async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  await page.getByRole('link', { name: 'Syslog & alerts' }).click();
  await expect(page.getByRole('heading', { name: 'Syslog and alerts' })).toBeVisible();
  await page.getByLabel('Send to a syslog server').check();
  await page.getByTestId('syslog-save').click();
  await expect(page.getByText('Enter the syslog server to send to.').first()).toBeVisible();
  await expect(page.getByLabel('Server', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Server', { exact: true }).fill('127.0.0.1');
  await page.getByLabel('Port', { exact: true }).first().fill(String(syslogPort));
  await page.getByTestId('syslog-save').click();
  await expect(page.getByText('Saved. It takes effect now.').first()).toBeVisible();
  await page.getByTestId('syslog-test').click();
  await expect.poll(() => syslogGot, { timeout: 10_000 }).toMatch(/fulcrum \d+ TEST \[test@32473 actor="ed-admin"\]/);
  await expect
    .poll(
      async () => {
        await page.getByRole('button', { name: 'Refresh status' }).first().click();
        return page.getByTestId('syslog-status').textContent();
      },
      { timeout: 10_000 },
    )
    .toMatch(/0 queued · [1-9]\d* sent/);
  // The access log control is real: found by its name, saved through the API, read back after a reload.
  const accessLogs = page.getByRole('checkbox', { name: 'Layer 7 access log' });
  await expect(accessLogs).not.toBeChecked();
  await expect(accessLogs).toHaveAccessibleDescription(/sample rate applies/);
  for (const isOn of [true, false]) {
    await accessLogs.setChecked(isOn);
    const saved = page.waitForResponse((r) => r.url().endsWith('/api/v1/syslog') && r.request().method() === 'PUT');
    await page.getByTestId('syslog-save').click();
    const response = await saved;
    expect(response.status()).toBe(200);
    expect((await response.json()).settings.sendAccessLogs).toBe(isOn);
    await page.reload();
    if (isOn) await expect(accessLogs).toBeChecked();
    else await expect(accessLogs).not.toBeChecked();
  }
});

test('alerts: a signed test alert reaches a real webhook receiver; screenshots', async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  await page.goto('/settings');
  await page.getByLabel('Send alerts').check();
  await page.getByLabel('Webhook (JSON POST)').check();
  await page.getByLabel('URL').fill(`http://127.0.0.1:${hookPort}/fulcrum`);
  await page.getByLabel('Signing secret').fill('short');
  await page.getByTestId('alerts-save').click();
  await expect(page.getByText('Use a secret of at least 16 characters.').first()).toBeVisible();
  await page.getByLabel('Signing secret').fill('a secret long enough for hmac');
  await page.getByTestId('alerts-save').click();
  await expect(page.getByText('Saved. It takes effect now.').last()).toBeVisible();
  await page.getByTestId('alerts-test').click();
  await expect.poll(() => hookGot.length, { timeout: 10_000 }).toBe(1);
  expect(String(hookGot[0]['x-fulcrum-signature'])).toMatch(/^sha256=[0-9a-f]{64}$/);
  await page.reload();
  await expect(page.getByText('A secret is stored; leave empty to keep it')).toBeVisible();
  await expect(page.getByTestId('alerts-status')).toContainText('webhook: 1 sent');
  await page.screenshot({ path: path.join(SHOTS, 'settings-1366.png'), fullPage: true });
  await page.setViewportSize({ width: 820, height: 1100 });
  await page.screenshot({ path: path.join(SHOTS, 'settings-820.png'), fullPage: true });
});
