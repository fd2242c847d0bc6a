/**
 * The Running views and the Backup page in a real browser, as admin and as viewer: the running configuration (no
 * private key), the layer 7 runtime showing a loopback service's listener and pool, the layer 4 table (on a kernel
 * without IPVS it says so, with the reason); a backup exported with a passphrase, a staged change, then the backup
 * restored after its preview in words and a confirmation; the scheduled backups (playwright.config.ts sets
 * FULCRUM_BACKUP_DIR): the schedule's own file listed, on disk, audited, and previewed for restore. Screenshots at 1366 and 820 px. Every address is loopback
 * and health checks are none. Independent of what other specs leave: it makes its own service, user and backup.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { DATA_DIR, signIn } from './sign-in.ts';

const VIEWER = { username: 'vi-viewer', password: 'a viewer clinical passphrase' };
const PASSPHRASE = 'backup passphrase for the views spec';
// Not the Playwright output directory, which every run (any spec's) empties first.
const SHOTS = '.tmp/views-shots';
const SERVICE = 'views-portal';

test.describe.configure({ mode: 'serial' });
test.beforeAll(() => fs.mkdirSync(SHOTS, { recursive: true }));

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function headers(page: Page) {
  const session = await (await page.request.get('/api/v1/session')).json();
  return { 'x-csrf-token': session.csrfToken as string };
}

let port = 0;

/** axe-core's serious and critical findings (WCAG 2.0/2.1 A and AA), one line each, as the accessibility walk checks. */
async function axeProblems(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

test('admin: the running configuration, the layer 7 runtime with a loopback service, the layer 4 table', async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  const h = await headers(page);
  port = await freePort();
  // Its own service (replaced if a previous run left one): layer 7 on loopback, source-IP persistence, one server draining.
  const existing = (await (await page.request.get('/api/v1/virtual-services')).json()).items.find((v: { name: string }) => v.name === SERVICE);
  if (existing)
    expect((await page.request.delete(`/api/v1/virtual-services/${existing.id}`, { headers: { ...h, 'if-match': `"${existing.version}"` } })).ok()).toBe(true);
  const created = await page.request.post('/api/v1/virtual-services', {
    headers: h,
    data: {
      name: SERVICE,
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [port],
      healthCheck: { type: 'none' },
      persistence: { type: 'source-ip', timeoutSeconds: 600 },
      realServers: [
        { name: 'portal-1', address: '127.0.0.31', port: 8080 },
        { name: 'portal-2', address: '127.0.0.32', port: 8080, state: 'drain' },
      ],
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  const applied = await page.request.post('/api/v1/apply', { headers: h, data: { comment: 'views e2e' } });
  expect(applied.status(), await applied.text()).toBe(200);

  await page.getByRole('link', { name: 'Running', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Running', level: 1 })).toBeVisible();
  await expect(page.getByTestId('as-of')).toHaveText(/as of \d\d:\d\d:\d\d/);
  await expect(page.getByTestId('running-config')).toContainText(`"name": "${SERVICE}"`);
  await expect(page.getByTestId('running-config')).not.toContainText('PRIVATE KEY');
  await page.screenshot({ path: `${SHOTS}/views-config-1366.png`, fullPage: true });
  expect(await axeProblems(page)).toEqual([]);

  await page.getByRole('tab', { name: 'Layer 7 runtime' }).click();
  const card = page.getByTestId(`l7-service-${SERVICE}`);
  await expect(card.getByTestId('l7-listener')).toHaveText(`127.0.0.1:${port}`);
  await expect(card.getByText('programmed')).toBeVisible();
  await expect(card.getByTestId('l7-stick')).toHaveText(`${SERVICE}/source: 0 entries`);
  const pool = card.getByTestId('l7-pool');
  await expect(pool.getByRole('row', { name: /portal-1 127\.0\.0\.31:8080 online .*takes new clients/ })).toBeVisible();
  await expect(pool.getByRole('row', { name: /portal-2 127\.0\.0\.32:8080 drain .*draining: no new clients/ })).toBeVisible();
  await card.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}/views-l7-1366.png`, fullPage: true });
  expect(await axeProblems(page)).toEqual([]);

  await page.getByRole('tab', { name: 'Layer 4 table' }).click();
  // This machine's kernel has no IPVS: the page says so with the engine's reason. On one with IPVS, the table or "empty".
  await expect(page.getByTestId('l4-unavailable').or(page.getByTestId('l4-table')).or(page.getByTestId('l4-empty'))).toBeVisible();
  if (await page.getByTestId('l4-unavailable').isVisible())
    await expect(page.getByTestId('l4-unavailable')).toContainText('The IPVS table cannot be read on this machine.');
  await page.screenshot({ path: `${SHOTS}/views-l4-1366.png`, fullPage: true });
  expect(await axeProblems(page)).toEqual([]);
});

test('viewer: reads the running views at 820 px; the Backup page is not theirs', async ({ page: adminPage, browser }) => {
  await signIn(adminPage);
  const made = await adminPage.request.post('/api/v1/users', { headers: await headers(adminPage), data: { ...VIEWER, role: 'viewer' } });
  expect([201, 409], await made.text()).toContain(made.status());

  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 820, height: 1000 } });
  const page = await context.newPage();
  await signIn(page, { as: VIEWER });
  await expect(page.getByRole('link', { name: 'Backup' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Running', exact: true }).click();
  await expect(page.getByTestId('running-config')).toContainText(`"name": "${SERVICE}"`);
  await page.getByRole('tab', { name: 'Layer 7 runtime' }).click();
  await expect(page.getByTestId(`l7-service-${SERVICE}`).getByTestId('l7-listener')).toHaveText(`127.0.0.1:${port}`);
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(widths[0], 'no sideways scroll of the page at 820 px').toBeLessThanOrEqual(widths[1]);
  await page.screenshot({ path: `${SHOTS}/views-l7-viewer-820.png`, fullPage: true });
  await page.goto('/backup');
  await expect(page.getByRole('heading', { name: 'You cannot open backup and restore' })).toBeVisible();
  await context.close();
});

test('backup: export with a passphrase, stage a change, preview the restore in words, confirm, staged back', async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  await page.getByRole('link', { name: 'Backup' }).click();
  await expect(page.getByRole('heading', { name: 'Backup and restore', level: 1 })).toBeVisible();

  // A refusal at the field first: no file chosen.
  await page.getByRole('button', { name: 'Preview restore' }).first().click();
  await expect(page.getByText('Choose the backup file.')).toBeVisible();

  await page.getByLabel('Passphrase (optional, 12 characters or more)').fill('short');
  await page.getByRole('button', { name: 'Download backup' }).click();
  await expect(page.getByLabel('Passphrase (optional, 12 characters or more)')).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Passphrase (optional, 12 characters or more)').fill(PASSPHRASE);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download backup' }).click()]);
  const file = path.join(SHOTS, 'views-backup.json');
  await download.saveAs(file);
  expect(JSON.parse(fs.readFileSync(file, 'utf8')).secrets.mode).toBe('encrypted');
  const h = await headers(page);
  const before = (await (await page.request.get('/api/v1/changes')).json()).candidateHash;

  // A change after the backup: one more real server, staged.
  const vs = (await (await page.request.get('/api/v1/virtual-services')).json()).items.find((v: { name: string }) => v.name === SERVICE);
  const added = await page.request.post(`/api/v1/virtual-services/${vs.id}/real-servers`, {
    headers: h,
    data: { name: 'portal-3', address: '127.0.0.33', port: 8080 },
  });
  expect(added.status(), await added.text()).toBe(201);
  expect((await (await page.request.get('/api/v1/changes')).json()).candidateHash).not.toBe(before);

  await page.getByLabel('Backup file', { exact: true }).setInputFiles(file);
  await page.getByLabel('Passphrase (if it was exported with one)').fill('not the passphrase at all');
  await page.getByRole('button', { name: 'Preview restore' }).first().click();
  await expect(page.getByText(/passphrase is not the one/).first()).toBeVisible();
  await page.getByLabel('Passphrase (if it was exported with one)').fill(PASSPHRASE);
  await page.getByRole('button', { name: 'Preview restore' }).first().click();
  const preview = page.getByTestId('restore-preview');
  await expect(preview).toContainText('by ed-admin');
  await expect(preview.getByTestId('change-list')).toContainText(SERVICE);
  await expect(preview.getByTestId('change-list')).toContainText('portal-3');
  await page.screenshot({ path: `${SHOTS}/views-backup-preview-1366.png`, fullPage: true });
  expect(await axeProblems(page)).toEqual([]);
  await preview.getByRole('button', { name: 'Restore this backup…' }).click();
  await expect(page.getByRole('dialog', { name: 'Restore this backup?' })).toBeVisible();
  await page.getByRole('button', { name: "Stage the backup's configuration" }).click();
  await expect(page.getByText(/Restored: 1 change staged/)).toBeVisible();
  expect((await (await page.request.get('/api/v1/changes')).json()).candidateHash, "the staged configuration is the backup's again").toBe(before);
  await page.setViewportSize({ width: 820, height: 1000 });
  await page.screenshot({ path: `${SHOTS}/views-backup-820.png`, fullPage: true });
});

test('scheduled backups: on with FULCRUM_BACKUP_DIR, the file the schedule wrote is listed, on disk, audited, and previewed for restore', async ({ page }) => {
  // The schedule writes its first file a minute after the console starts (lib/backup/schedule.ts); in a whole run
  // that minute is long past, run alone this waits for it.
  test.setTimeout(150_000);
  const dir = path.resolve(DATA_DIR, 'backups');
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  await page.getByRole('link', { name: 'Backup' }).click();
  await expect(page.getByTestId('schedule-on')).toHaveText(`Every 24 h to ${dir}, keeping the newest 14; private keys left out.`);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('scheduled-files')).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 100_000 });
  const name = (await page.getByTestId('scheduled-files').locator('tbody tr td').first().textContent())!.trim();
  expect(name).toMatch(/^fulcrum-backup-\d{4}-\d{2}-\d{2}T[\d-]+Z\.json$/);
  const st = fs.statSync(path.join(dir, name));
  expect(st.mode & 0o777, "a backup file is its owner's alone").toBe(0o600);
  expect(JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')).secrets.mode).toBe('omitted');
  const audit = (await (await page.request.get('/api/v1/audit?action=backup.scheduled&outcome=success')).json()).items as { actor: string }[];
  expect(audit.length).toBeGreaterThan(0);
  expect(audit[0].actor).toBe('fulcrum');

  await page.getByRole('button', { name: `Preview restoring ${name}` }).click();
  await expect(page.getByText(`Chosen: ${name}`)).toBeVisible();
  await page.getByRole('button', { name: 'Preview restore' }).first().click();
  const preview = page.getByTestId('restore-preview');
  await expect(preview).toContainText('by fulcrum (scheduled)');
  await expect(preview).toContainText('private keys left out');
  await page.screenshot({ path: `${SHOTS}/views-scheduled-backup-1366.png`, fullPage: true });
});
