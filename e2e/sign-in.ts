/**
 * The one admin of the e2e appliance, and signing in as it: whichever spec runs first on the fresh appliance sets it
 * up with the setup token, the others log in. Not a spec (Playwright runs *.spec.ts only).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, type Page } from '@playwright/test';

export const ADMIN = { username: 'ed-admin', password: 'a long clinical passphrase' };
export const DATA_DIR = '.tmp/e2e-data';

type Account = { username: string; password: string };

/**
 * Signs in as `as` (ADMIN by default; on the fresh appliance the setup creates ADMIN whoever is asked for) and waits
 * for the page a login lands on (`landsOn`, the overview by default: a user with a temporary password lands on their
 * account page); `waitForEngine`: also for "Engine connected".
 */
export async function signIn(page: Page, opts: { as?: Account; landsOn?: string; waitForEngine?: boolean } = {}): Promise<void> {
  let who = opts.as ?? ADMIN;
  await page.goto('/');
  if (/\/setup$/.test(page.url())) {
    who = ADMIN;
    const token = fs.readFileSync(path.join(DATA_DIR, 'setup-token'), 'utf8').trim();
    await page.getByLabel('Setup token').fill(token);
    await page.getByLabel('Admin username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Password again').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create admin and log in' }).click();
  } else if (/\/login$/.test(page.url())) {
    await page.getByLabel('Username').fill(who.username);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Log in' }).click();
  }
  await expect(page.getByRole('heading', { name: opts.landsOn ?? 'Overview' })).toBeVisible();
  // Signed in as whom was asked for, not left signed in as someone else: the shell's account link starts with the name.
  await expect(page.getByRole('link', { name: new RegExp(`^${who.username.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `) })).toBeVisible();
  if (opts.waitForEngine) await expect(page.getByText('Engine connected')).toBeVisible();
}

/**
 * Logs out and waits for the login page. A test must not end on the bare click: the context's close then races the
 * navigation to /login, and Chromium's disposal of the context can hang past the test's timeout.
 */
export async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
}
