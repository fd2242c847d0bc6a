/**
 * The virtual service form at hospital scale, in a real browser: a layer 7 service built through several groups
 * (basics, persistence, health check, TLS with HSTS, rules, timeouts, advanced client-address modes and a fallback),
 * with 300 real servers pasted as CSV (one bad line is named with its problem before anything is added) and three
 * cloned from another service; the table pages, sorts and filters them. The service is staged, and what is staged is read back over the REST API.
 * A viewer opens the same form and sees it disabled with the reason, before typing anything.
 *
 * Nothing here is applied: the addresses are the Symphony example's (192.168.10.x), and nothing probes them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';

const DATA_DIR = process.env.E2E_DATA_DIR ?? '.tmp/e2e-data';
const SHOTS = process.env.E2E_SHOTS ?? '.tmp/e2e-results';
// The same admin as the other specs: whichever runs first on the fresh appliance creates it.
const ADMIN = { username: 'ed-admin', password: 'a long clinical passphrase' };
const VIEWER = { username: 'ward-viewer', password: 'a viewer passphrase here' };
const SERVICE = 'symphony-bulk';
const CERT = 'symphony-bulk-cert';
const SOURCE = 'symphony-clone-source';

test.describe.configure({ mode: 'serial' });

/** Sets the appliance up if this spec is the first to run (the admin made over the API), then logs in. */
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
  const login = await request.post('/api/v1/session', { data: ADMIN });
  expect(login.status()).toBe(200);
  const { csrfToken } = await login.json();
  return (method: 'get' | 'post' | 'delete', url: string, data?: unknown, headers: Record<string, string> = {}) =>
    request[method](`/api/v1${url}`, { data, headers: { 'x-csrf-token': csrfToken, ...headers } });
}

/** A self-signed certificate made here with openssl, uploaded so the TLS group has one to choose. */
function selfSigned(): { certificatePem: string; privateKeyPem: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-cert-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '30',
      '-subj',
      '/CN=symphony.example.nhs.uk',
      '-keyout',
      path.join(dir, 'k.pem'),
      '-out',
      path.join(dir, 'c.pem'),
    ],
    { stdio: 'ignore' },
  );
  const out = { certificatePem: fs.readFileSync(path.join(dir, 'c.pem'), 'utf8'), privateKeyPem: fs.readFileSync(path.join(dir, 'k.pem'), 'utf8') };
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

const csvLine = (i: number) => `sym-app-${i},10.20.${Math.floor((i - 1) / 250)}.${((i - 1) % 250) + 1},8443,${i % 3 === 0 ? 50 : 100}`;
const section = (page: Page, title: string) => page.getByRole('button', { name: new RegExp(`^▶?\\s*${title}`) });
async function openSection(page: Page, title: string) {
  const b = section(page, title);
  if ((await b.getAttribute('aria-expanded')) !== 'true') await b.click();
}

test('a layer 7 service from several groups, 300 real servers pasted (one bad line first), staged and read back', async ({ page, request }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page, request);
  const call = await adminApi(request);
  const cert = await call('post', '/certificates', { name: CERT, ...selfSigned() });
  expect([201, 409]).toContain(cert.status());
  // Another service whose real servers are cloned below.
  const source = await call('post', '/virtual-services', {
    name: SOURCE,
    layer: 7,
    mode: 'http',
    address: '192.168.10.81',
    ports: [8080],
    healthCheck: { type: 'none' },
    realServers: [1, 2, 3].map((i) => ({ name: `src-${i}`, address: `10.21.0.${i}`, port: 8080, weight: 10 * i, isBackup: i === 3 })),
  });
  expect(source.status()).toBe(201);
  const sourceView = await source.json();
  await page.goto('/virtual-services/new');
  await expect(page.getByRole('heading', { name: 'New virtual service' })).toBeVisible();

  // Basics.
  await page.getByLabel('Name', { exact: true }).fill(SERVICE);
  await page.getByLabel('Layer', { exact: true }).selectOption('7');
  await page.getByLabel('Virtual IP (VIP)').fill('192.168.10.80');
  await page.getByLabel('Ports').fill('443');
  await page.getByLabel('Scheduler').selectOption('lc');

  // Persistence: an inserted cookie, its default name shown.
  await openSection(page, 'Persistence');
  await page.getByLabel('Persistence', { exact: true }).selectOption('http-cookie');
  await expect(page.getByLabel('Cookie name')).toHaveValue('FULCRUMID');
  await page.getByLabel('Cookie name').fill('SYMID');

  // Health check: HTTP with its own expected statuses and rise/fall.
  await page.getByLabel('Check kind').selectOption('http');
  await page.getByLabel('Check path').fill('/health');
  await page.getByLabel('Expected statuses').fill('200,204');
  await page.getByLabel('Rise (passes to come up)').fill('3');

  // TLS with a policy and HSTS.
  await openSection(page, 'TLS');
  await page.getByLabel('Terminate TLS on this service').check();
  await page.getByLabel('TLS certificate').selectOption(CERT);
  await page.getByLabel('Lowest TLS version').selectOption('TLSv1.3');
  await page.getByLabel('Send HSTS (Strict-Transport-Security)').check();
  await expect(page.getByLabel('HSTS max-age (s)')).toHaveValue('31536000');

  // Rules: a redirect and a response header.
  await openSection(page, 'Rules');
  await page.getByRole('button', { name: 'Add redirect' }).click();
  await page.getByLabel('Redirect 1: path starts with').fill('/old/');
  await page.getByLabel('Redirect 1: to (Location)').fill('/new/');
  await page.getByLabel('Redirect 1: status').selectOption('301');
  await page.getByRole('button', { name: 'Add response header rule' }).click();
  await page.getByLabel('Response header rule 1: header').fill('X-Served-By');
  await page.getByLabel('Response header rule 1: value').fill('fulcrum');

  // Timeouts (defaults shown) and the advanced client-address modes and fallback.
  await openSection(page, 'Timeouts and limits');
  await expect(page.getByLabel('Client idle timeout (ms)')).toHaveValue('60000');
  await page.getByLabel('Client idle timeout (ms)').fill('30000');
  await openSection(page, 'Advanced');
  await expect(page.getByLabel('X-Forwarded-For')).toHaveValue('append');
  await page.getByLabel('X-Forwarded-For').selectOption('replace');
  await page.getByLabel('Fallback', { exact: true }).selectOption('server');
  await page.getByLabel('Fallback server address').fill('192.168.10.90');

  // 300 real servers pasted as CSV, line 150 with an address that is not one: named before anything is added.
  const lines = Array.from({ length: 300 }, (_, k) => csvLine(k + 1));
  const bad = [...lines];
  bad[149] = 'sym-app-150,10.20.0.999,8443,100';
  await page.getByRole('button', { name: 'Add in bulk (paste or clone)' }).click();
  const paste = page.getByLabel('Real servers, one per line: name,address,port,weight');
  await paste.fill(['name,address,port,weight', ...bad].join('\n'));
  await expect(page.getByTestId('bulk-summary')).toHaveText('300 real servers: 299 ready, 1 with problems.');
  const problems = page.getByTestId('bulk-problems');
  await expect(problems).toContainText('Line 151');
  await expect(problems).toContainText('10.20.0.999');
  await expect(problems).toContainText('address: Give an IPv4 address');
  await expect(page.getByRole('button', { name: 'Add 300 real servers' })).toBeDisabled();
  await expect(page.getByTestId('rs-count')).toHaveText(/^1 real server/);
  await page.screenshot({ path: path.join(SHOTS, 'service-form-bulk-error-1366.png'), fullPage: false });
  await paste.fill(['name,address,port,weight', ...lines].join('\n'));
  await expect(page.getByTestId('bulk-summary')).toHaveText('300 real servers: 300 ready, 0 with problems.');
  await page.getByRole('button', { name: 'Add 300 real servers' }).click();

  await expect(page.getByTestId('rs-count')).toContainText('300 real servers');

  // And the three of another service, cloned with their settings.
  await page.getByRole('button', { name: 'Add in bulk (paste or clone)' }).click();
  await page.getByLabel('Clone from another service').check();
  await page.getByLabel('Service to copy the real servers of').selectOption({ label: `${SOURCE} (3 real servers)` });
  await expect(page.getByTestId('bulk-summary')).toHaveText('3 real servers: 3 ready, 0 with problems.');
  await page.getByRole('button', { name: 'Add 3 real servers' }).click();

  // A connection limit on every one of them at once (Advanced).
  await page.getByLabel('Max connections per real server').fill('500');
  await page.getByRole('button', { name: 'Set on all 303 real servers' }).click();

  // The table: 303 rows (the blank first row taken over), paged, filtered and sorted.
  await expect(page.getByTestId('rs-count')).toContainText('303 real servers');
  await page.getByRole('button', { name: 'First' }).click();
  await expect(page.getByTestId('rs-page')).toHaveText('Page 1 of 13');
  const table = page.getByTestId('rs-table');
  await expect(table.locator('tbody tr')).toHaveCount(25);
  await expect(page.locator('[name="rs-0-name"]')).toHaveValue('sym-app-1');
  await page.getByLabel('Filter real servers').fill('10.20.1.');
  await expect(page.getByTestId('rs-count')).toContainText('303 real servers, 50 match');
  await page.getByLabel('Filter real servers').fill('');
  await table.getByRole('button', { name: /^Name/ }).click();
  await table.getByRole('button', { name: /^Name/ }).click();
  await expect(table.locator('th', { hasText: 'Name' })).toHaveAttribute('aria-sort', 'descending');
  await expect(table.locator('tbody tr').first().locator('input').first()).toHaveValue('sym-app-300');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('rs-page')).toHaveText('Page 2 of 13');
  await page.screenshot({ path: path.join(SHOTS, 'service-form-1366.png'), fullPage: true });
  await page.setViewportSize({ width: 820, height: 1000 });
  await page.screenshot({ path: path.join(SHOTS, 'service-form-820.png'), fullPage: true });
  await page.setViewportSize({ width: 1366, height: 900 });

  await page.getByRole('button', { name: 'Create (staged)' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();

  // What is staged, read back over the API.
  const list = await (await call('get', '/virtual-services')).json();
  const vs = list.items.find((v: { name: string }) => v.name === SERVICE);
  expect(vs).toBeTruthy();
  expect(vs.realServers).toHaveLength(303);
  expect(vs.realServers.every((r: { maxConnections: number }) => r.maxConnections === 500)).toBe(true);
  expect(vs.realServers.find((r: { name: string }) => r.name === 'src-3')).toMatchObject({ address: '10.21.0.3', port: 8080, weight: 30, isBackup: true });
  expect(vs.realServers.find((r: { name: string }) => r.name === 'sym-app-150')).toMatchObject({
    address: '10.20.0.150',
    port: 8443,
    weight: 50,
    state: 'online',
  });
  expect(vs.realServers.find((r: { name: string }) => r.name === 'sym-app-251')).toMatchObject({ address: '10.20.1.1', weight: 100 });
  expect(vs).toMatchObject({
    layer: 7,
    mode: 'http',
    address: '192.168.10.80',
    ports: [443],
    scheduler: 'lc',
    persistence: { type: 'http-cookie', cookieName: 'SYMID' },
    healthCheck: { type: 'http', rise: 3, http: { path: '/health', expectStatus: '200,204' } },
    fallback: { type: 'server', address: '192.168.10.90' },
    layer7: {
      xForwardedFor: { mode: 'replace' },
      xForwardedProto: true,
      tls: { certificate: CERT, minVersion: 'TLSv1.3' },
      hsts: { maxAgeSeconds: 31536000, includeSubDomains: false },
      redirects: [{ match: { pathPrefix: '/old/' }, location: '/new/', status: 301 }],
      responseHeaders: [{ action: 'set', name: 'X-Served-By', value: 'fulcrum' }],
      timeouts: { clientMs: 30000 },
    },
  });
  const changes = await (await call('get', '/changes')).json();
  expect(JSON.stringify(changes.changes)).toContain(SERVICE);

  expect((await call('delete', `/virtual-services/${sourceView.id}`, undefined, { 'if-match': `"${sourceView.version}"` })).status()).toBe(204);

  // A viewer account for the next test.
  const viewer = await call('post', '/users', { ...VIEWER, role: 'viewer' });
  expect([201, 409]).toContain(viewer.status());
});

test('a viewer sees the form disabled with the reason, not a form refused at submit', async ({ browser, request }) => {
  const page = await browser.newPage({ viewport: { width: 820, height: 1000 } });
  await signIn(page, request, VIEWER);

  // A new service is nothing a viewer can make: the page says so (the console's no-access page, or the form with
  // every control disabled and the reason), never a form that is refused only at submit.
  await page.goto('/virtual-services/new');
  await expect(page.getByTestId('no-access').or(page.getByTestId('read-only-reason'))).toBeVisible();
  const create = page.getByRole('button', { name: 'Create (staged)' });
  if (await create.count()) {
    await expect(create).toBeDisabled();
    await expect(page.getByLabel('Name', { exact: true })).toBeDisabled();
  }
  await page.screenshot({ path: path.join(SHOTS, 'service-form-viewer-new-820.png'), fullPage: false });

  // The staged service, read-only: its values are shown, every control disabled, the groups still open and close.
  const call = await adminApi(request);
  const vs = (await (await call('get', '/virtual-services')).json()).items.find((v: { name: string }) => v.name === SERVICE);
  await page.goto(`/virtual-services/${vs.id}`);
  const reason = page.getByTestId('read-only-reason');
  await expect(reason).toContainText('You are signed in as viewer');
  await expect(reason).toContainText('needs the admin role');
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(SERVICE);
  await expect(page.getByLabel('Name', { exact: true })).toBeDisabled();
  await expect(page.getByTestId('rs-count')).toContainText('303 real servers');
  await page.getByRole('button', { name: 'Next' }).click();
  await expect(page.getByTestId('rs-page')).toHaveText('Page 2 of 13');
  await openSection(page, 'TLS');
  await expect(page.getByLabel('Lowest TLS version')).toHaveValue('TLSv1.3');
  await expect(page.getByLabel('Lowest TLS version')).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Save (staged)' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Add in bulk (paste or clone)' })).toBeDisabled();
  await page.screenshot({ path: path.join(SHOTS, 'service-form-viewer-edit-820.png'), fullPage: true });
  await page.close();

  // Leave the appliance as the other specs expect it: the staged service goes again.
  const del = await call('delete', `/virtual-services/${vs.id}`, undefined, { 'if-match': `"${vs.version}"` });
  expect(del.status()).toBe(204);
});
