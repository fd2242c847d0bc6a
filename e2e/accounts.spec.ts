/**
 * Accounts in a real browser (issue 13, item 8): an admin adds a night operator and resets their password with a
 * forced change; the operator can do nothing but choose their own, then makes an API key on their account page,
 * copies it with the copy button (shown once), uses it, sees its last use, ends a session of theirs on another
 * browser, and revokes the key. Runs after the other specs (playwright.config.ts); alone it sets the appliance up.
 */
import path from 'node:path';
import { test, expect, type Page } from '@playwright/test';
import { logOut, signIn } from './sign-in.ts';

const NURSE = { username: 'acct-night-op', first: 'first given passphrase', temporary: 'temporary reset passphrase', own: 'my own night passphrase' };
const shot = (page: Page, name: string) => page.screenshot({ path: path.join('.tmp/e2e-results', `${name}.png`), fullPage: true });

test('password reset with a forced change, an API key copied once and used, a session ended elsewhere', async ({ page, browser, context }) => {
  test.setTimeout(120_000);
  await context.grantPermissions(['clipboard-write']);
  // The console's Permissions-Policy refuses clipboard reads (rightly), so the test records what the page writes.
  await context.addInitScript(() => {
    const write = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = (text: string) => {
      (window as unknown as { copied: string }).copied = text;
      return write(text);
    };
  });

  // The admin adds the operator, then resets the password, forcing a change at next login.
  await signIn(page, { waitForEngine: true });
  await page.getByRole('link', { name: 'Users & keys' }).click();
  await page.locator('[name="new-username"]').fill(NURSE.username);
  await page.locator('[name="new-password"]').fill(NURSE.first);
  await page.locator('[name="new-role"]').selectOption('operator');
  await page.getByRole('button', { name: 'Add user' }).click();
  const row = page.getByTestId('user-table').locator('tr', { hasText: NURSE.username });
  await expect(row).toBeVisible();
  await row.getByRole('button', { name: `Reset the password of ${NURSE.username}` }).click();
  const dialog = page.getByRole('dialog', { name: `Reset the password of ${NURSE.username}` });
  await expect(dialog.getByLabel('They must choose their own password at next login')).toBeChecked();
  await dialog.getByLabel('New password').fill(NURSE.temporary);
  await dialog.getByRole('button', { name: 'Reset password' }).click();
  await expect(row).toContainText('must change password');
  await shot(page, 'accounts-users');
  await logOut(page);

  // The operator with the temporary password: sent to their account page, and kept there until they choose their own.
  await signIn(page, { as: { username: NURSE.username, password: NURSE.temporary }, landsOn: 'Your account', waitForEngine: true });
  await expect(page.getByRole('alert').filter({ hasText: 'An admin reset your password' })).toBeVisible();
  await page.goto('/changes');
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await page.getByLabel('Current password').fill('not the temporary one');
  await page.getByLabel('New password', { exact: true }).fill(NURSE.own);
  await page.getByLabel('New password again').fill(NURSE.own);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.locator('[name="current-password"]')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('This is not your current password.')).toBeVisible();
  await page.getByLabel('Current password').fill(NURSE.temporary);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();

  // A key for a pipeline, from the account page: never more than their role, shown once, copied with the button.
  await page.getByRole('link', { name: /^acct-night-op/ }).click();
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  await expect(page.locator('[name="key-role"] option')).toHaveText(['operator', 'viewer']);
  await page.locator('[name="key-name"]').fill('night-drain-script');
  await page.locator('[name="key-role"]').selectOption('operator');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-api-key').textContent())!.trim();
  expect(secret).toMatch(/^fk_/);
  await page.getByRole('button', { name: 'Copy key' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Copied to the clipboard.' })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { copied: string }).copied)).toBe(secret);
  await shot(page, 'accounts-key-once');
  const viaKey = await page.request.get('/api/v1/virtual-services', { headers: { authorization: `Bearer ${secret}` } });
  expect(viaKey.status()).toBe(200);
  await page.reload();
  await expect(page.getByTestId('new-api-key')).toHaveCount(0);
  const keyRow = page.getByTestId('api-key-table').locator('tr', { hasText: 'night-drain-script' });
  await expect(keyRow).toContainText('active');
  await expect(keyRow).toContainText('from 127.0.0.1');

  // Another browser logged in as the same person; ended from this one, it is logged out on its next request.
  const other = await browser.newContext({ ignoreHTTPSErrors: true });
  const otherPage = await other.newPage();
  await signIn(otherPage, { as: { username: NURSE.username, password: NURSE.own }, waitForEngine: true });
  await page.reload();
  const sessions = page.getByTestId('session-table').locator('tbody tr');
  await expect(sessions).toHaveCount(2);
  await sessions.filter({ hasNotText: 'this browser' }).getByRole('button', { name: /^End / }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'End session' }).click();
  await expect(sessions).toHaveCount(1);
  await otherPage.goto('/changes');
  await expect(otherPage).toHaveURL(/\/login$/);
  await other.close();

  // Revoke the key: refused from then on.
  await keyRow.getByRole('button', { name: 'Revoke key night-drain-script' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
  await expect(keyRow).toContainText('revoked');
  expect((await page.request.get('/api/v1/virtual-services', { headers: { authorization: `Bearer ${secret}` } })).status()).toBe(401);
  await shot(page, 'accounts-account');
  await logOut(page);

  // Each step is in the audit trail once, in the admin's view.
  await signIn(page, { waitForEngine: true });
  const audit = await (await page.request.get(`/api/v1/audit?actor=${NURSE.username}&limit=100`)).json();
  const actions = (audit.items as { action: string; outcome: string }[]).filter((e) => e.outcome === 'success').map((e) => e.action);
  for (const a of ['account.password', 'api-key.create', 'session.revoke', 'api-key.revoke'])
    expect(
      actions.filter((x) => x === a),
      a,
    ).toHaveLength(1);
});
