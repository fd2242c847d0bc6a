/**
 * The first hour of a new appliance, in a real browser: set up, log in, create a layer 4 DR service for EMIS
 * Symphony, be told at the field that DR cannot translate ports, apply, read the audit trail, drain a server,
 * log out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { test, expect, type Page } from '@playwright/test';

const DATA_DIR = '.tmp/e2e-data';
const ADMIN = { username: 'ed-admin', password: 'a long clinical passphrase' };
const shot = (page: Page, name: string) => page.screenshot({ path: path.join('.tmp/e2e-results', `${name}.png`), fullPage: true });

test.describe.configure({ mode: 'serial' });

test('first run: setup, login, DR service, field error, apply, audit, drain, logout', async ({ page }) => {
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
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
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
  await expect(page.getByTestId('change-list')).toContainText('symphony-web/sym-app-2');
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

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/audit');
  await expect(page).toHaveURL(/\/login$/);
});
