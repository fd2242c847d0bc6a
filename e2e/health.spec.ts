/**
 * Health checks in a real browser against real sockets: a layer 7 HTTP service on 127.0.0.1 with two real servers
 * that this test runs itself (Node HTTP servers on loopback ports), checked over HTTP every 500 ms (rise 1, fall 1),
 * is created in the form and applied. One backend is stopped: the overview says it is down, in words, with the
 * check's sentence, and its history shows the transition. It is started again: up.
 *
 * Every address here is loopback, and the console's engine only probes 127.0.0.0/8 and ::1 in these tests
 * (FULCRUM_HEALTH_ALLOWED_NETWORKS in playwright.config.ts).
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { test, expect } from '@playwright/test';
import { signIn } from './sign-in.ts';

const SERVICE = 'symphony-health';

test.describe.configure({ mode: 'serial' });

/** A real server: answers every request with 200, until stopped; can start again on the same port. */
class Backend {
  private server?: http.Server;
  port = 0;
  constructor(readonly name: string) {}
  async start(): Promise<void> {
    const server = http.createServer((req, res) => res.end(`${this.name} ok ${req.url}\n`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    // Nothing may keep answering: the listener closes and every open (keep-alive) connection is cut.
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const backends = [new Backend('sym-app-1'), new Backend('sym-app-2')];

test.beforeAll(async () => {
  for (const b of backends) await b.start();
});
test.afterAll(async () => {
  for (const b of backends) await b.stop();
});

test("a stopped backend is shown down with the check's sentence, and up again once it is back", async ({ page }) => {
  await signIn(page, { waitForEngine: true });
  const vipPort = await freePort();

  // The service, from the form: layer 7 HTTP on loopback, an HTTP check every 500 ms, rise 1, fall 1.
  await page.getByRole('link', { name: 'New virtual service' }).click();
  await page.getByLabel('Name', { exact: true }).first().fill(SERVICE);
  await page.getByLabel('Layer', { exact: true }).selectOption('7');
  await page.getByLabel('Virtual IP (VIP)').fill('127.0.0.1');
  await page.getByLabel('Ports').fill(String(vipPort));
  await page.getByLabel('Check kind').selectOption('http');
  await expect(page.getByLabel('Check path')).toHaveValue('/');
  await expect(page.getByLabel('Expected statuses')).toHaveValue('200-399');
  await page.getByLabel('Check path').fill('/health');
  await page.getByLabel('Check interval (ms)').fill('500');
  // The shared schema refuses a timeout longer than the interval, at the timeout field, before anything is sent.
  await page.getByLabel('Check timeout (ms)').fill('3000');
  await page.getByLabel('Rise (passes to come up)').fill('1');
  await page.getByLabel('Fall (failures to go down)').fill('1');
  await page.locator('[name="rs-0-name"]').fill(backends[0].name);
  await page.locator('[name="rs-0-address"]').fill('127.0.0.1');
  await page.locator('[name="rs-0-port"]').fill(String(backends[0].port));
  await page.getByRole('button', { name: 'Add real server' }).click();
  await page.locator('[name="rs-1-name"]').fill(backends[1].name);
  await page.locator('[name="rs-1-address"]').fill('127.0.0.1');
  await page.locator('[name="rs-1-port"]').fill(String(backends[1].port));
  await page.getByRole('button', { name: 'Create (staged)' }).click();
  const timeout = page.getByLabel('Check timeout (ms)');
  await expect(timeout).toHaveAttribute('aria-invalid', 'true');
  await expect(timeout.locator('xpath=..').getByRole('alert')).toHaveText('The timeout must not be longer than the interval.');
  await page.screenshot({ path: path.join('.tmp/e2e-results', 'health-check-form.png'), fullPage: true });
  await timeout.fill('300');
  await page.getByRole('button', { name: 'Create (staged)' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();

  await page.getByRole('link', { name: /Pending changes/ }).click();
  await page.getByRole('button', { name: /^Apply \d+ changes?$/ }).click();
  await page.getByRole('button', { name: 'Apply now' }).click();
  await expect(page.getByTestId('apply-results')).toContainText(SERVICE);
  await page.getByRole('link', { name: 'Overview' }).click();

  const card = page.locator('section', { has: page.getByTestId('vs-name').getByText(SERVICE, { exact: true }) });
  const health = (name: string) => card.getByTestId(`health-${name}`);
  for (const b of backends) {
    await expect(health(b.name).getByTestId('health-word')).toHaveText('up', { timeout: 15_000 });
    await expect(health(b.name).getByTestId('health-message')).toContainText(`HTTP 200 from /health on 127.0.0.1:${b.port}`);
  }

  // Stop sym-app-1: down within interval × fall (plus the live feed), in words, with what the check found.
  await backends[0].stop();
  await expect(health('sym-app-1').getByTestId('health-word')).toHaveText('down', { timeout: 5_000 });
  await expect(health('sym-app-1').getByTestId('health-message')).toContainText(`127.0.0.1:${backends[0].port}`);
  await expect(health('sym-app-1').getByTestId('health-message')).toContainText('refused');
  await expect(health('sym-app-2').getByTestId('health-word')).toHaveText('up');
  await expect(health('sym-app-1')).toContainText('since');
  await page.screenshot({ path: '/tmp/health-overview.png', fullPage: true });

  // Its history, one click away: the up → down transition with its code and sentence.
  await card.getByRole('button', { name: `Health history of sym-app-1 in ${SERVICE}` }).click();
  const dialog = page.getByRole('dialog', { name: 'Health history of sym-app-1' });
  const newest = dialog.getByTestId('health-history').locator('tbody tr').first();
  await expect(newest).toContainText('down');
  await expect(newest).toContainText('L4CON');
  await expect(newest).toContainText('refused');
  await page.screenshot({ path: '/tmp/health-history.png' });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(dialog).toBeHidden();

  // Start it again on the same port: up after one pass.
  await backends[0].start();
  await expect(health('sym-app-1').getByTestId('health-word')).toHaveText('up', { timeout: 5_000 });
  await expect(health('sym-app-1').getByTestId('health-message')).toContainText('HTTP 200 from /health');
  await card.getByRole('button', { name: `Health history of sym-app-1 in ${SERVICE}` }).click();
  await expect(dialog.getByTestId('health-history').locator('tbody tr').first()).toContainText('L7OK');
});
