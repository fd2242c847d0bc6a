/**
 * The first hour of a new appliance, in a real browser: set up, log in, create a layer 4 DR service for EMIS
 * Symphony, be told at the field that DR cannot translate ports, apply, read the audit trail, drain a server,
 * log out.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { test, expect, type Page } from '@playwright/test';

const DATA_DIR = '.tmp/e2e-data';
const ADMIN = { username: 'ed-admin', password: 'a long clinical passphrase' };
const shot = (page: Page, name: string) => page.screenshot({ path: path.join('.tmp/e2e-results', `${name}.png`), fullPage: true });

test.describe.configure({ mode: 'serial' });

test('first run: setup, login, DR service, field error, apply, audit, drain, logout', async ({ page }) => {
  // The whole flow runs under the console's Content-Security-Policy: scripts by nonce only, and not one refused.
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to (execute|load)/i.test(m.text())) violations.push(m.text());
  });
  const first = await page.request.get('/login', { maxRedirects: 0 });
  const csp = first.headers()['content-security-policy'] ?? '';
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]{24}' 'strict-dynamic'/);
  expect(csp).toContain("default-src 'self'");
  expect(first.headers()['cross-origin-opener-policy']).toBe('same-origin');
  expect(first.headers()['permissions-policy']).toContain('camera=()');
  // Setup: a fresh appliance sends everyone to setup, and the token is only on the appliance's disk.
  await page.goto('/');
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByText(path.resolve(DATA_DIR, 'setup-token'))).toBeVisible();
  await page.getByLabel('Setup token').fill('not-the-token');
  await page.getByLabel('Admin username').fill(ADMIN.username);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('Password again').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Create admin and log in' }).click();
  await expect(page.getByText(/setup token is not right/)).toBeVisible();
  const token = fs.readFileSync(path.join(DATA_DIR, 'setup-token'), 'utf8').trim();
  await page.getByLabel('Setup token').fill(token);
  await page.getByRole('button', { name: 'Create admin and log in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();

  // Log out and in again, as the operator would the next morning.
  await logout(page);
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill('wrong password entirely');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByText('The username or password is not right.')).toBeVisible();
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByText('Engine connected')).toBeVisible();

  // A layer 4 DR service with two real servers; the second first asks for port translation.
  await page.getByRole('link', { name: 'New virtual service' }).click();
  await page.getByLabel('Name', { exact: true }).first().fill('symphony-web');
  await page.getByLabel('Virtual IP (VIP)').fill('192.168.10.50');
  await page.getByLabel('Ports').fill('80');
  await page.locator('[name="rs-0-name"]').fill('sym-app-1');
  await page.locator('[name="rs-0-address"]').fill('192.168.10.61');
  await page.getByRole('button', { name: 'Add real server' }).click();
  await page.locator('[name="rs-1-name"]').fill('sym-app-2');
  await page.locator('[name="rs-1-address"]').fill('192.168.10.62');
  await page.locator('[name="rs-1-port"]').fill('8080');
  // These addresses are the Symphony example's, not this machine's: no health check may probe them.
  await page.locator('[name="healthCheck"]').selectOption('none');
  await page.getByRole('button', { name: 'Create (staged)' }).click();
  const portError = page.locator('[name="rs-1-port"]').locator('xpath=..').getByRole('alert');
  await expect(portError).toContainText('DR cannot translate ports');
  await expect(page.locator('[name="rs-1-port"]')).toHaveAttribute('aria-invalid', 'true');
  await shot(page, 'dr-port-translation-refused');
  await page.locator('[name="rs-1-port"]').fill('');
  await page.getByRole('button', { name: 'Create (staged)' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('vs-name')).toHaveText('symphony-web');
  await expect(page.getByTestId('pending-count')).toHaveText('3');

  // Review and apply: the engine says plainly that layer 4 is not programmed on a kernel without IPVS.
  await page.getByRole('link', { name: /Pending changes/ }).click();
  await expect(page.getByTestId('change-list')).toContainText('Real server sym-app-2 added to symphony-web');
  await page.getByRole('button', { name: /Apply 3 changes/ }).click();
  await page.getByRole('button', { name: 'Apply now' }).click();
  const results = page.getByTestId('apply-results');
  await expect(results).toContainText('symphony-web');
  await expect(results).toContainText(/not-programmed|programmed/);
  await shot(page, 'apply-result');
  await expect(page.getByTestId('pending-count')).toHaveCount(0);

  // The audit log shows who created what, with before and after, and an intact chain.
  await page.getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByTestId('audit-verify')).toContainText('Chain intact');
  const table = page.getByTestId('audit-table');
  await expect(table).toContainText('config.apply');
  await expect(table).toContainText('virtual-service.create');
  await expect(table).toContainText('session.login');
  const createRow = table.locator('tr', { hasText: 'virtual-service.create' }).filter({ hasText: 'success' });
  await createRow.getByRole('button', { name: 'Details' }).click();
  await expect(page.getByTestId('audit-diff')).toContainText('symphony-web');
  await shot(page, 'audit');

  // Drain sym-app-1, confirming first; it takes effect at once and is audited.
  await page.getByRole('link', { name: 'Overview' }).click();
  const row = page.getByTestId('rs-sym-app-1');
  await row.getByRole('button', { name: 'Drain' }).click();
  await expect(page.getByRole('dialog')).toContainText('no new connections');
  await page.getByRole('dialog').getByRole('button', { name: 'Drain sym-app-1' }).click();
  await expect(row).toContainText('drain');
  await shot(page, 'drained');
  await page.getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByTestId('audit-table')).toContainText('real-server.state');

  await logout(page);
  await page.goto('/audit');
  await expect(page).toHaveURL(/\/login$/);
  expect(violations).toEqual([]);
});

async function logout(page: Page) {
  // The header's live badge turns green only once the page's scripts run: a click before that would be lost.
  await expect(page.getByText('Engine connected')).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}

async function login(page: Page, username: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
}

test('roles in the UI, API keys shown once, rollback from history, and a tampered audit trail is flagged', async ({ page, request }) => {
  await login(page, ADMIN.username, ADMIN.password);

  // An operator account and an automation key, from the users page.
  await page.getByRole('link', { name: 'Users & keys' }).click();
  await page.locator('[name="new-username"]').fill('night-operator');
  await page.locator('[name="new-password"]').fill('short');
  await page.locator('[name="new-role"]').selectOption('operator');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByText('Use at least 12 characters.')).toBeVisible();
  await page.locator('[name="new-password"]').fill('another long passphrase');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByRole('cell', { name: 'night-operator', exact: true })).toBeVisible();
  await page.locator('[name="key-name"]').fill('change-pipeline');
  await page.locator('[name="key-role"]').selectOption('viewer');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.getByTestId('new-api-key').textContent())!.trim();
  expect(key).toMatch(/^fk_/);
  const viaKey = await request.get('/api/v1/virtual-services', { headers: { authorization: `Bearer ${key}` } });
  expect(viaKey.status()).toBe(200);
  await page.reload();
  await expect(page.getByTestId('new-api-key')).toHaveCount(0);

  // Make a second version (a scheduler change), so there is something to roll back.
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.locator('section', { hasText: 'symphony-web' }).getByRole('link', { name: 'Edit' }).click();
  await expect(page.locator('[name="name"]')).toHaveValue('symphony-web');
  await page.getByLabel('Scheduler').selectOption('rr');
  await page.getByRole('button', { name: 'Save (staged)' }).click();
  // Saving returns to the overview; wait for it, or the next click races that navigation.
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByTestId('pending-count')).toHaveText('1');
  await page.getByRole('link', { name: /Pending changes/ }).click();
  await expect(page.getByTestId('change-list')).toContainText('scheduler');
  await page.getByRole('button', { name: /Apply 1 change/ }).click();
  await page.getByRole('button', { name: 'Apply now' }).click();
  await expect(page.getByTestId('apply-results')).toBeVisible();
  await logout(page);

  // The operator: no editing, but can drain and roll back.
  await login(page, 'night-operator', 'another long passphrase');
  await expect(page.getByRole('link', { name: 'New virtual service' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Edit' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Audit log' })).toHaveCount(0);
  await page.getByRole('link', { name: 'History' }).click();
  const v1 = page.locator('tr', { has: page.getByRole('cell', { name: '1', exact: true }) });
  await v1.getByRole('button', { name: 'Show changes' }).click();
  await expect(page.getByTestId('change-list')).toContainText('symphony-web');
  await v1.getByRole('button', { name: 'Roll back to this' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Roll back to version 1' }).click();
  await expect(page.locator('tr', { hasText: 'rollback to version 1' })).toContainText('running');
  await shot(page, 'history-rollback');
  await logout(page);

  // Someone edits the audit table behind the console's back: the audit page says so.
  const db = new Database(path.join(DATA_DIR, 'fulcrum.db'));
  db.prepare("UPDATE AuditEvent SET actor = 'nobody' WHERE action = 'config.rollback'").run();
  db.close();
  await login(page, ADMIN.username, ADMIN.password);
  await page.getByRole('link', { name: 'Audit log' }).click();
  await expect(page.getByTestId('audit-verify')).toContainText('tampered');
  await shot(page, 'audit-tampered');
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export CSV' }).click();
  const file = await (await download).path();
  const csv = fs.readFileSync(file!, 'utf8');
  expect(csv.split('\r\n')[0]).toBe('id,at,actor,actorRole,sourceAddress,action,objectType,objectId,outcome,message,requestId,before,after,prevHash,hash');
  expect(csv).toContain('config.rollback');
});
