/**
 * The one admin of the e2e appliance, and signing in as it: whichever spec runs first on the fresh appliance sets it
 * up with the setup token, the others log in. Not a spec (Playwright runs *.spec.ts only).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, type Page } from '@playwright/test';

export const ADMIN = { username: 'ed-admin', password: 'a long clinical passphrase' };
export const DATA_DIR = '.tmp/e2e-data';

/** Signs in (or sets up) as ADMIN and waits for the overview; `waitForEngine`: also for "Engine connected". */
export async function signIn(page: Page, opts: { waitForEngine?: boolean } = {}): Promise<void> {
  await page.goto('/');
  if (/\/setup$/.test(page.url())) {
    const token = fs.readFileSync(path.join(DATA_DIR, 'setup-token'), 'utf8').trim();
    await page.getByLabel('Setup token').fill(token);
    await page.getByLabel('Admin username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Password again').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create admin and log in' }).click();
  } else if (/\/login$/.test(page.url())) {
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Log in' }).click();
  }
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  if (opts.waitForEngine) await expect(page.getByText('Engine connected')).toBeVisible();
}
