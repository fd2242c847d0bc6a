/**
 * The pair settings on the HA page (components/ha/ha-settings-card.tsx, PUT /api/v1/ha/settings), in a real
 * browser against the real console: an admin stages the HA interface, the first router ID, both nodes and
 * preemption; wrong values are refused at their field with the schema's reason (a priority out of range, a router
 * ID out of range, an interface name with a blank, two nodes on one priority) and nothing is staged; the staged
 * settings show their VRRP instances on the page and, before any apply, as sentences on the changes page; a viewer
 * sees the same values with every control disabled and the reason.
 *
 * Nothing is applied: the e2e console's engine runs on this machine, not in the test kernel, and an applied HA
 * block would start the real keepalived on its interfaces (only the UML kernel tests may do that). The spec starts
 * from no staged HA settings and leaves none, whatever other specs did before it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';

const DATA_DIR = process.env.E2E_DATA_DIR ?? '.tmp/e2e-data';
const SHOTS = process.env.E2E_SHOTS ?? '.tmp/e2e-results';
// The same admin as the other specs: whichever runs first on the fresh appliance creates it.
const ADMIN = { username: 'ed-admin', password: 'a long clinical passphrase' };
const VIEWER = { username: 'ha-viewer', password: 'a viewer of the pair settings' };

test.describe.configure({ mode: 'serial' });

/** Sets the appliance up if this spec is the first to run (the admin made over the API), then logs `who` in. */
async function signIn(page: Page, request: APIRequestContext, who = ADMIN) {
  const setup = await (await request.get('/api/v1/setup')).json();
  if (setup.isRequired) {
    const token = fs.readFileSync(path.join(DATA_DIR, 'setup-token'), 'utf8').trim();
    expect((await request.post('/api/v1/setup', { data: { token, ...ADMIN } })).status()).toBe(201);
  }
  await page.goto('/login');
  // The login form answers once its script runs; typing before that would be lost.
  await page.waitForLoadState('networkidle');
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
}

/** An API session of the admin (its own cookie jar), with the CSRF token every change needs. */
async function adminApi(request: APIRequestContext) {
  const setup = await (await request.get('/api/v1/setup')).json();
  if (setup.isRequired) {
    const token = fs.readFileSync(path.join(DATA_DIR, 'setup-token'), 'utf8').trim();
    expect((await request.post('/api/v1/setup', { data: { token, ...ADMIN } })).status()).toBe(201);
  }
  const login = await request.post('/api/v1/session', { data: ADMIN });
  expect(login.status(), await login.text()).toBe(200);
  const { csrfToken } = await login.json();
  return (method: 'get' | 'post' | 'put' | 'delete', url: string, data?: unknown) =>
    request[method](`/api/v1${url}`, { data, headers: { 'x-csrf-token': csrfToken } });
}

/** No staged HA settings (a 404 says there were none), and none running: the page then says "a single node". */
async function noHaStaged(request: APIRequestContext) {
  const call = await adminApi(request);
  expect([204, 404]).toContain((await call('delete', '/ha/settings')).status());
  const view = await (await call('get', '/ha/settings')).json();
  // No spec applies an HA block on this machine (it would start keepalived here); if one ever does, this says so.
  expect(view.running, 'no HA block runs on the e2e appliance').toBeNull();
  return call;
}

test.beforeAll(async ({ request }) => {
  const call = await noHaStaged(request);
  expect([201, 409]).toContain((await call('post', '/users', { ...VIEWER, role: 'viewer' })).status());
});

// Whatever happened, leave no ha block staged: a later spec's apply would start keepalived for real.
test.afterAll(async ({ request }) => {
  await noHaStaged(request);
});

test('an admin stages the pair settings; wrong values are refused at their field with the reason; the diff is in words before apply', async ({
  page,
  request,
}) => {
  await page.setViewportSize({ width: 1366, height: 1000 });
  await signIn(page, request);
  await page.goto('/ha');
  const form = page.getByRole('form', { name: 'Pair settings' });
  const status = page.getByTestId('ha-settings-status');
  await expect(status).toContainText('not set: a single node');
  // The schema's defaults, as the form starts: adverts every 500 ms, nopreempt, connection sync on.
  await expect(form.getByLabel('Advert interval (ms)')).toHaveAttribute('placeholder', '500');
  await expect(form.getByRole('checkbox', { name: /^Preempt: a returning/ })).not.toBeChecked();
  await expect(form.getByRole('checkbox', { name: /^IPVS connection sync/ })).toBeChecked();
  await expect(form.getByLabel('Node 1 priority')).toHaveValue('150');
  await expect(form.getByLabel('Node 2 priority')).toHaveValue('100');

  // Wrong values, each refused at its own field with the schema's sentence; nothing is staged.
  await form.getByLabel('HA interface').fill('eth 1');
  await form.getByLabel('First virtual router ID').fill('300');
  await form.getByLabel('Node 1 name').fill('lb1');
  await form.getByLabel('Node 1 address').fill('127.0.0.11');
  await form.getByLabel('Node 2 name').fill('lb2');
  await form.getByLabel('Node 2 address').fill('127.0.0.12');
  await form.getByLabel('Node 2 priority').fill('255');
  await form.getByRole('button', { name: 'Stage settings' }).click();
  for (const [label, reason] of [
    ['HA interface', 'Give an interface name such as eth0.'],
    ['First virtual router ID', 'Virtual router IDs run from 1 to 255.'],
    ['Node 2 priority', 'Priorities run from 1 to 254.'],
  ]) {
    await expect(form.getByLabel(label)).toHaveAttribute('aria-invalid', 'true');
    await expect(form.getByLabel(label)).toHaveAccessibleDescription(reason);
  }
  await expect(form.getByLabel('Node 1 priority')).toHaveAttribute('aria-invalid', 'false');
  await expect(status).toContainText('not set: a single node');
  await page.screenshot({ path: path.join(SHOTS, 'ha-settings-refused.png'), fullPage: true });

  // Fixed, but both nodes on one priority: a rule across the nodes, refused at the second node's priority.
  await form.getByLabel('HA interface').fill('lo');
  await form.getByLabel('First virtual router ID').fill('61');
  await form.getByLabel('Node 2 priority').fill('150');
  await form.getByRole('button', { name: 'Stage settings' }).click();
  await expect(form.getByLabel('Node 2 priority')).toHaveAccessibleDescription(
    'Node "lb1" already has priority 150; give each node its own, or the election falls to the higher address.',
  );
  await expect(form.getByLabel('HA interface')).toHaveAttribute('aria-invalid', 'false');
  await expect(status).toContainText('not set: a single node');

  // Right: staged with preemption after 30 s.
  await form.getByLabel('Node 2 priority').fill('100');
  await form.getByRole('checkbox', { name: /^Preempt: a returning/ }).check();
  await form.getByLabel('Preemption delay (s)').fill('30');
  await form.getByRole('button', { name: 'Stage settings' }).click();
  await expect(form.getByRole('status')).toContainText('Staged.');
  await expect(status).toContainText('staged, not applied yet');
  await expect(form.locator('[aria-invalid="true"]')).toHaveCount(0);
  // The VRRP instances the settings make: the HA interface first, from router 61 (others follow for interfaces
  // that carry VIPs or floating IPs staged by other specs).
  await expect(page.getByTestId('ha-instances')).toContainText('VRRP instances staged: lo (router 61');
  await page.screenshot({ path: path.join(SHOTS, 'ha-settings-staged.png'), fullPage: true });

  // Read back after a reload: what the form shows is what was stored.
  await page.reload();
  await expect(status).toContainText('staged, not applied yet');
  await expect(form.getByLabel('HA interface')).toHaveValue('lo');
  await expect(form.getByLabel('Node 2 address')).toHaveValue('127.0.0.12');
  await expect(form.getByLabel('Preemption delay (s)')).toHaveValue('30');

  // Before any apply: the change in words on the changes page, one sentence per field.
  await page.goto('/changes');
  const change = page.getByTestId('change-list').getByRole('listitem').filter({ hasText: 'Settings of the HA pair added' });
  // The HA block is listed last; other specs' staged objects may page it onto a later page of the list.
  await expect(page.getByTestId('change-list')).toBeVisible();
  const next = page.getByRole('navigation', { name: 'Pages of changes' }).getByRole('button', { name: 'Next' });
  while (!(await change.count()) && (await next.count()) && (await next.isEnabled())) await next.click();
  await expect(change).toBeVisible();
  const more = change.getByRole('button', { name: /^Show \d+ more fields?$/ });
  if (await more.count()) await more.click();
  for (const sentence of [
    'interface of the HA pair set to lo',
    'preempt of the HA pair set to on',
    'preempt delay of the HA pair set to 30 s',
    'virtual router id of the HA pair set to 61',
    /nodes of the HA pair set to .*lb1.*127\.0\.0\.11.*150.*lb2.*127\.0\.0\.12.*100/,
  ]) {
    await expect(change.getByText(sentence)).toBeVisible();
  }
  await page.screenshot({ path: path.join(SHOTS, 'ha-settings-changes.png'), fullPage: true });
});

test('a viewer sees the staged pair settings read-only, with the reason', async ({ browser, request }) => {
  const call = await adminApi(request);
  const staged = await (await call('get', '/ha/settings')).json();
  expect(staged.settings?.interface, 'the settings the previous test staged').toBe('lo');
  const page = await browser.newPage({ viewport: { width: 820, height: 1000 } });
  await signIn(page, request, VIEWER);
  await page.goto('/ha');
  const form = page.getByRole('form', { name: 'Pair settings' });
  await expect(page.getByTestId('ha-settings-status')).toContainText('staged, not applied yet');
  await expect(page.getByTestId('ha-settings-why-not')).toHaveText('Needs an admin; you are a viewer.');
  await expect(form.getByLabel('HA interface')).toHaveValue('lo');
  await expect(form.getByLabel('Node 1 name')).toHaveValue('lb1');
  for (const label of ['HA interface', 'First virtual router ID', 'Node 1 address', 'Node 2 priority']) await expect(form.getByLabel(label)).toBeDisabled();
  await expect(form.getByRole('checkbox', { name: /^Preempt: a returning/ })).toBeDisabled();
  await expect(form.getByRole('button', { name: 'Stage settings' })).toBeDisabled();
  await expect(form.getByRole('button', { name: 'Single node (remove)' })).toBeDisabled();
  await page.screenshot({ path: path.join(SHOTS, 'ha-settings-viewer-820.png'), fullPage: true });
  // The API says the same: a viewer's write is refused, and nothing changed.
  const viewerApi = await page.request.get('/api/v1/session');
  const { csrfToken } = await viewerApi.json();
  const put = await page.request.put('/api/v1/ha/settings', { data: { ...staged.settings, interface: 'eth1' }, headers: { 'x-csrf-token': csrfToken } });
  expect(put.status()).toBe(403);
  expect((await (await call('get', '/ha/settings')).json()).settings.interface).toBe('lo');
  await page.close();
});

test('an admin removes the staged settings again: back to a single node', async ({ page, request }) => {
  await signIn(page, request);
  await page.goto('/ha');
  await expect(page.getByTestId('ha-settings-status')).toContainText('staged, not applied yet');
  await page.getByRole('button', { name: 'Single node (remove)' }).click();
  await expect(page.getByTestId('ha-settings-status')).toContainText('not set: a single node');
  const call = await adminApi(request);
  const changes = (await (await call('get', '/changes')).json()).changes as { objectType: string }[];
  expect(
    changes.filter((c) => c.objectType === 'ha'),
    'no HA change staged any more',
  ).toEqual([]);
});
