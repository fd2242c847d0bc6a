/**
 * The setup wizard in a real browser against the real console and engine: EMIS Symphony in Layer 7 SNAT (made live on
 * loopback with two Node backends this test runs, checked over HTTP, a self-signed certificate, HTTP redirected to
 * HTTPS, a test request through the VIP), EMIS Symphony in Layer 4 DR (ARP scripts downloaded; applied, the engine says
 * honestly that this machine has no IPVS), and the DICOM imaging template. Each step is shown a wrong answer first
 * and must refuse it at its field, with a screenshot per step; the L7 run is left half-way, the user logs out and in,
 * and resumes it where it stopped. Layer 7 again with a key and CSR for the hospital's CA, by keyboard: the CSR
 * downloads (openssl verifies it), the run goes live on a self-signed placeholder, and the certificate a test CA
 * (openssl) signs replaces it in place. An operator (the roles policy: may use the wizard, may not stage changes) is
 * told so at the start, prepares a run to its review, and finds Create disabled with the reason; the API refuses it.
 *
 * Every address is loopback; the console's engine probes only 127.0.0.0/8 and ::1 here (playwright.config.ts).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { test, expect, type Page } from '@playwright/test';
import { logOut, signIn } from './sign-in.ts';

const OUT = '.tmp/e2e-results';

test.describe.configure({ mode: 'serial' });

let shotN = 0;
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(OUT, `wizard-${String(++shotN).padStart(2, '0')}-${name}.png`), fullPage: true });

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}
async function freePort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const backends: http.Server[] = [];
const backendPorts: number[] = [];
test.beforeAll(async () => {
  for (const name of ['sym-app-1', 'sym-app-2']) {
    const s = http.createServer((req, res) => res.end(req.url === '/health' ? 'Symphony OK\n' : `${name} ${req.url}\n`));
    backendPorts.push(await listen(s));
    backends.push(s);
  }
});
test.afterAll(async () => {
  for (const s of backends) s.close();
});

const next = (page: Page) => page.getByRole('button', { name: 'Save and continue' }).click();
const stepTitle = (page: Page, title: string) => expect(page.getByTestId('step-title')).toContainText(title);
/** The field's error, as the person sees it beside the field. */
async function fieldError(page: Page, label: string | RegExp, text: string | RegExp) {
  const field = page.getByLabel(label, { exact: typeof label === 'string' });
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(field.locator('xpath=..').getByRole('alert')).toContainText(text);
}

test('EMIS Symphony in Layer 7 SNAT: every step refuses a wrong answer, the run resumes after a logout, and goes live', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'Setup wizard' }).click();
  await page.getByRole('button', { name: 'Start EMIS Symphony' }).click();

  // 1. Mode: nothing chosen is refused; the trade-offs are in the seed's words.
  await stepTitle(page, 'Deployment mode');
  await expect(page.getByText(/SSL termination, cookie based persistence/)).toBeVisible();
  await expect(page.getByText(/No port translation: VIP:80 → RIP:8080 is not supported/)).toBeVisible();
  await next(page);
  await expect(page.getByText('Choose a deployment mode.')).toBeVisible();
  await shot(page, 'l7-mode-error');
  await page.getByLabel(/Layer 7 SNAT/).check();
  await next(page);

  // 2. VIP and ports: an impossible address is refused at the VIP field.
  await stepTitle(page, 'Virtual IP and ports');
  await expect(page.getByLabel('Port 1', { exact: true })).toHaveValue('80');
  await expect(page.getByLabel('Port 2', { exact: true })).toHaveValue('443');
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  await page.getByLabel('Virtual IP (VIP)').fill('127.0.0.300');
  await page.getByLabel('Port 1', { exact: true }).fill(String(httpPort));
  await page.getByLabel('Port 2', { exact: true }).fill(String(httpsPort));
  await next(page);
  await fieldError(page, 'Virtual IP (VIP)', /Give an IPv4 address/);
  await expect(page.getByLabel('Virtual IP (VIP)')).toBeFocused();
  await shot(page, 'l7-service-error');
  await page.getByLabel('Virtual IP (VIP)').fill('127.0.0.1');
  await page.getByLabel('Service name').fill('symphony-l7');
  await next(page);

  // 3. Real servers: validated as typed, probed from the appliance; a port out of range is refused at the field.
  await stepTitle(page, 'Real servers');
  await page.getByRole('button', { name: 'Add real server' }).click();
  await page.getByLabel('Real server 1 address').fill('127.0.0');
  await page.getByLabel('Real server 1 port').focus();
  await expect(page.getByText('Not an IP address yet')).toBeVisible();
  await page.getByLabel('Real server 1 address').fill('127.0.0.1');
  await page.getByLabel('Real server 1 port').fill(String(backendPorts[0]));
  await page.getByLabel('Real server 1 address').focus();
  await page.getByLabel('Real server 1 port').focus();
  await expect(page.getByTestId('probe-0')).toContainText('accepted a TCP connection');
  await page.getByRole('button', { name: 'Add real server' }).click();
  await page.getByLabel('Real server 2 address').fill('127.0.0.1');
  await page.getByLabel('Real server 2 port').fill('99999');
  await next(page);
  await fieldError(page, 'Real server 2 port', 'Ports run from 1 to 65535.');
  await shot(page, 'l7-servers-error');
  await page.getByLabel('Real server 2 port').fill(String(backendPorts[1]));
  await next(page);
  await stepTitle(page, 'Persistence');

  // Log out half-way; log in again and resume where it stopped, with what was typed.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page);
  await page.getByRole('link', { name: 'Setup wizard' }).click();
  await page.getByRole('button', { name: 'Resume EMIS Symphony' }).click();
  await stepTitle(page, 'Persistence');
  await page.getByRole('button', { name: '3. Real servers' }).click();
  await expect(page.getByLabel('Real server 2 port')).toHaveValue(String(backendPorts[1]));
  await shot(page, 'l7-resumed');
  await page.getByRole('button', { name: '4. Persistence' }).click();

  // 4. Persistence: cookie by default for layer 7; a cookie name with a space is refused.
  await expect(page.getByLabel(/Cookie: the appliance sets a cookie/)).toBeChecked();
  await page.getByLabel('Cookie name').fill('SYMPHONY ID');
  await next(page);
  await fieldError(page, 'Cookie name', /token characters/);
  await shot(page, 'l7-persistence-error');
  await page.getByLabel('Cookie name').fill('SYMPHONYID');
  await next(page);

  // 5. Health check: HTTP negotiate with a path and expected text; a path without "/" is refused.
  await stepTitle(page, 'Health check');
  await page.getByLabel('Check path').fill('health');
  await page.getByLabel('Expected text (optional)').fill('Symphony OK');
  await page.getByLabel('Check interval (ms)').fill('500');
  await page.getByLabel('Check timeout (ms)').fill('300');
  await next(page);
  await fieldError(page, 'Check path', 'A check path starts with "/".');
  await shot(page, 'l7-health-error');
  await page.getByLabel('Check path').fill('/health');
  await next(page);

  // 6. Certificate: an HTTPS port without one is refused; a self-signed one is made at create.
  await stepTitle(page, 'Certificate and HTTPS');
  await page.getByLabel(/One already on this appliance/).check();
  await next(page);
  await fieldError(page, 'Certificate', /is marked HTTPS, so it needs a certificate/);
  await shot(page, 'l7-tls-error');
  await page.getByLabel(/Self-signed, made by this appliance/).check();
  await expect(page.getByLabel(/Redirect HTTP to HTTPS/)).toBeChecked();
  await expect(page.getByLabel(/Insert X-Forwarded-For/)).toBeChecked();
  await next(page);

  // 7. Review: pre-flight finds the HTTP port taken by a socket on this host; freed, it passes.
  await stepTitle(page, 'Review and create');
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(httpPort, '127.0.0.1', () => r()));
  await page.getByRole('button', { name: 'Check again' }).click();
  await expect(page.getByTestId('review-issues')).toContainText(`already listens on 127.0.0.1:${httpPort}`);
  await expect(page.getByRole('button', { name: 'Create (staged)' })).toBeDisabled();
  await shot(page, 'l7-review-error');
  await new Promise<void>((r) => squatter.close(() => r()));
  await page.getByRole('button', { name: 'Check again' }).click();
  await expect(page.getByTestId('object-symphony-l7')).toContainText('TLS with certificate symphony-l7-self-signed');
  await expect(page.getByTestId('object-symphony-l7-http')).toContainText('redirects to HTTPS');
  await expect(page.getByTestId('preflight')).toContainText(`127.0.0.1:${httpsPort} is free on this host`);
  await expect(page.getByTestId('review-issues')).toHaveCount(0);
  await shot(page, 'l7-review');
  await page.getByRole('button', { name: 'Create (staged)' }).click();

  // 8. Apply and see it live: both servers up by their HTTP check, and requests through the VIP.
  await stepTitle(page, 'Apply and check it live');
  await page.getByRole('button', { name: 'Apply now' }).click();
  await expect(page.getByTestId('apply-results')).toContainText('symphony-l7');
  for (const rs of ['symphony-l7-1', 'symphony-l7-2']) {
    await expect(page.getByTestId('live-symphony-l7').getByTestId(`live-rs-${rs}`).getByTestId('health-word')).toHaveText('up', { timeout: 15_000 });
  }
  await page.getByRole('button', { name: 'Send a test request from this appliance' }).click();
  await expect(page.getByTestId('test-requests')).toContainText(`https://127.0.0.1:${httpsPort}/ answered 200`);
  await expect(page.getByTestId('test-requests')).toContainText(`http://127.0.0.1:${httpPort}/ answered 301`);
  await shot(page, 'l7-live');

  // One audit row for the run, with its objects.
  await page.goto('/audit');
  await expect(page.getByText('wizard.run').first()).toBeVisible();
});

test('EMIS Symphony in Layer 4 DR: refusals at each step, ARP scripts per server, applied honestly', async ({ page }) => {
  await signIn(page);
  await page.goto('/wizard');
  await page.getByRole('button', { name: 'Start EMIS Symphony' }).click();
  await next(page);
  await expect(page.getByText('Choose a deployment mode.')).toBeVisible();
  await shot(page, 'dr-mode-error');
  await page.getByLabel(/Layer 4 DR/).check();
  await next(page);

  await stepTitle(page, 'Virtual IP and ports');
  await page.getByLabel('Service name').fill('symphony dr');
  await page.getByLabel('Virtual IP (VIP)').fill('127.0.0.50');
  await next(page);
  await fieldError(page, 'Service name', /letters, digits/);
  await shot(page, 'dr-service-error');
  await page.getByLabel('Service name').fill('symphony-dr');
  await next(page);

  await stepTitle(page, 'Real servers');
  for (const [i, address] of ['127.0.0.11', '127.0.0.12'].entries()) {
    await page.getByRole('button', { name: 'Add real server' }).click();
    await page.getByLabel(`Real server ${i + 1} address`).fill(address);
  }
  await page.getByLabel('Real server 1 port').fill('8080');
  await next(page);
  await fieldError(page, 'Real server 1 port', /DR cannot translate ports/);
  await shot(page, 'dr-servers-error');
  await page.getByLabel('Real server 1 port').fill('');
  await next(page);

  await stepTitle(page, 'Persistence');
  await expect(page.getByLabel(/Source IP: a client keeps going/)).toBeChecked();
  await page.getByLabel('Persistence timeout (seconds)').fill('0');
  await next(page);
  await fieldError(page, 'Persistence timeout (seconds)', /at least 1 s/);
  await shot(page, 'dr-persistence-error');
  await page.getByLabel('Persistence timeout (seconds)').fill('3600');
  await next(page);

  await stepTitle(page, 'Health check');
  await page.getByLabel('Check kind').selectOption('connect');
  await page.getByLabel('Check interval (ms)').fill('1000');
  await page.getByLabel('Check timeout (ms)').fill('2000');
  await next(page);
  await fieldError(page, 'Check timeout (ms)', 'The timeout must not be longer than the interval.');
  await shot(page, 'dr-health-error');
  await page.getByLabel('Check kind').selectOption('none');
  await next(page);

  // Review: pre-flight passes on lo (127.0.0.0/8 holds the VIP and both servers); no certificate step for DR.
  await stepTitle(page, 'Step 6 of 6: Review and create');
  await expect(page.getByTestId('preflight')).toContainText('VIP 127.0.0.50 is on a local subnet');
  await expect(page.getByTestId('preflight')).toContainText('an interface on the subnet of symphony-dr-1');
  await page.getByLabel('Windows: LAN adapter name').fill('NIC "1"');
  await fieldError(page, 'Windows: LAN adapter name', /cannot contain quotes/);
  await shot(page, 'dr-review-error');
  await page.getByLabel('Windows: LAN adapter name').fill('Ethernet 2');
  await page.getByLabel('Linux: LAN interface').fill('ens192');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Script (.sh) for symphony-dr-2' }).click()]);
  expect(download.suggestedFilename()).toBe('fulcrum-arp-symphony-dr-2.sh');
  const script = fs.readFileSync(await download.path(), 'utf8');
  expect(script).toContain("VIP='127.0.0.50'");
  expect(script).toContain("LAN='ens192'");
  expect(script).toContain('net.ipv4.conf.all.arp_ignore = 1');
  const [ps] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Script (.ps1) for symphony-dr-1' }).click()]);
  expect(fs.readFileSync(await ps.path(), 'utf8')).toContain("$Lan = 'Ethernet 2'");
  await shot(page, 'dr-review');
  await page.getByRole('button', { name: 'Create (staged)' }).click();

  await stepTitle(page, 'Apply and check it live');
  await page.getByRole('button', { name: 'Apply now' }).click();
  await expect(page.getByTestId('apply-results')).toContainText('symphony-dr');
  await expect(page.getByTestId('live-symphony-dr')).toBeVisible();
  // This machine's kernel has no IPVS: the screen says so rather than "running".
  await expect(page.getByText(/Applied, but not everything runs on this machine/)).toBeVisible();
  await expect(page.getByTestId('live-rs-symphony-dr-1').getByTestId('health-word')).toHaveText('checking off');
  // The ARP check, per real server: these are on this machine's loopback, where there is no ARP to ask, and it says so
  // (the probes themselves are proven in the test kernel: lib/wizard/arp-check.kernel.test.ts, vip-check.kernel.test.ts);
  // without a MAC from ARP the engine has no frame to send for the VIP, and that is said too.
  await page.getByRole('button', { name: 'Check ARP and the VIP from this appliance' }).click();
  await expect(page.getByTestId('arp-check-symphony-dr-1')).toContainText(
    "symphony-dr-1: 127.0.0.11 is on this appliance's loopback, where there is no ARP to ask.",
  );
  await expect(page.getByTestId('arp-check-symphony-dr-2')).toContainText('not probed');
  await expect(page.getByTestId('vip-check-symphony-dr-1')).toContainText(
    'VIP not checked symphony-dr-1: not checked for the VIP: the ARP check found no MAC to send a frame to.',
  );
  await shot(page, 'dr-live');
});

test('DICOM imaging: DR with a C-ECHO check on 104 or 11112; the called AE title is required', async ({ page }) => {
  await signIn(page);
  await page.goto('/wizard');
  await page.getByRole('button', { name: 'Start DICOM imaging (PACS)' }).click();
  await next(page);
  await expect(page.getByText('Choose a deployment mode.')).toBeVisible();
  await shot(page, 'dicom-mode-error');
  await page.getByLabel(/Layer 4 DR/).check();
  await next(page);
  await expect(page.getByLabel('Port 1', { exact: true })).toHaveValue('104');
  await expect(page.getByText(/port 104 \(the well-known port\) or 11112/)).toBeVisible();
  await page.getByLabel('Virtual IP (VIP)').fill('127.0.0.60');
  await page.getByLabel('Port 1', { exact: true }).fill('');
  await next(page);
  await fieldError(page, 'Port 1', /Give a port number/);
  await shot(page, 'dicom-service-error');
  await page.getByLabel('Port 1', { exact: true }).fill('11112');
  await next(page);
  await next(page);
  await expect(page.locator('[data-field-error]')).toHaveText(/Give at least one real server/);
  await expect(page.getByRole('alert').filter({ hasText: 'realServers:' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Add real server' }).click();
  await page.getByLabel('Real server 1 name').fill('pacs 1');
  await page.getByLabel('Real server 1 address').fill('127.0.0.21');
  await next(page);
  await fieldError(page, 'Real server 1 name', /letters, digits/);
  await shot(page, 'dicom-servers-error');
  await page.getByLabel('Real server 1 name').fill('pacs-1');
  await next(page);
  await page.getByLabel('Persistence timeout (seconds)').fill('abc');
  await next(page);
  await fieldError(page, 'Persistence timeout (seconds)', /seconds/);
  await shot(page, 'dicom-persistence-error');
  await page.getByLabel('Persistence timeout (seconds)').fill('1800');
  await next(page);
  await expect(page.getByLabel('Check kind')).toHaveValue('dicom-echo');
  await next(page);
  await fieldError(page, 'Called AE title', /AE title is 1 to 16/);
  await shot(page, 'dicom-health-error');
  await page.getByLabel('Called AE title').fill('PACS');
  await next(page);
  await stepTitle(page, 'Review and create');
  await expect(page.getByTestId('object-pacs')).toContainText('health check dicom-echo to AE PACS');
  await expect(page.getByTestId('object-pacs')).toContainText('127.0.0.60:11112');
  await shot(page, 'dicom-review');
  await page.getByRole('button', { name: 'Create (staged)' }).click();
  await stepTitle(page, 'Apply and check it live');
  await shot(page, 'dicom-created');
});

/** The hospital's CA, played by the openssl CLI: signs the CSR (copying its names) with a CA made for this test. */
function signWithTestCa(csrPem: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-ca-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  fs.writeFileSync(path.join(dir, 'req.csr'), csrPem);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30'];
  run(['req', '-x509', ...ec, '-subj', '/CN=Test Trust Issuing CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
  run([
    'x509',
    '-req',
    '-in',
    'req.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '30',
    '-copy_extensions',
    'copy',
    '-out',
    'leaf.pem',
  ]);
  return fs.readFileSync(path.join(dir, 'leaf.pem'), 'utf8') + fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
}

test("Layer 7 with a key and CSR for the hospital's CA, by keyboard: the CSR downloads, the run goes live on a placeholder, the CA's certificate replaces it", async ({
  page,
}) => {
  await signIn(page);
  await page.goto('/wizard');
  await page.getByRole('button', { name: 'Start EMIS Symphony' }).click();
  await page.getByLabel(/Layer 7 SNAT/).check();
  await next(page);
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  await page.getByLabel('Service name').fill('symcsr');
  await page.getByLabel('Virtual IP (VIP)').fill('127.0.0.1');
  await page.getByLabel('Port 1', { exact: true }).fill(String(httpPort));
  await page.getByLabel('Port 2', { exact: true }).fill(String(httpsPort));
  await next(page);
  await page.getByRole('button', { name: 'Add real server' }).click();
  await page.getByLabel('Real server 1 address').fill('127.0.0.1');
  await page.getByLabel('Real server 1 port').fill(String(backendPorts[0]));
  await next(page);
  await next(page); // persistence: the cookie, as offered
  await stepTitle(page, 'Health check');
  await page.getByLabel('Check interval (ms)').fill('500');
  await page.getByLabel('Check timeout (ms)').fill('300');
  await next(page);

  // The certificate step, by keyboard only from here: the CSR way, refused while no request is made.
  await stepTitle(page, 'Certificate and HTTPS');
  await page.getByLabel(/One already on this appliance/).focus();
  await page.keyboard.press('ArrowDown'); // radios move with the arrows: self-signed
  await page.keyboard.press('ArrowDown'); // … and the signing request
  await expect(page.getByLabel(/Make a key and a signing request \(CSR\) here/)).toBeChecked();
  await expect(page.getByTestId('csr-chosen')).toContainText('No signing request chosen yet');
  await page.getByRole('button', { name: 'Save and continue' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('csr-chosen').getByRole('alert')).toContainText('make the key and signing request here first');
  await shot(page, 'csr-error');

  // The Certificates page's own form, pre-filled with the service's name and VIP; Enter in a field makes the request
  // (its form is not nested in the step's, so Enter does not save the step instead).
  const form = page.getByRole('form', { name: 'Certificate and HTTPS' });
  await expect(form).toBeVisible();
  await expect(page.getByLabel('Certificate name')).toHaveValue('symcsr');
  await expect(page.getByLabel('Other names (SANs)')).toHaveValue('IP:127.0.0.1');
  await page.getByLabel('Common name (CN)').focus();
  await page.keyboard.type('symphony.trust.example');
  await page.keyboard.press('Enter');
  const csrBox = page.getByRole('textbox', { name: 'Certificate signing request of symcsr' });
  await expect(csrBox).toHaveValue(/^-----BEGIN CERTIFICATE REQUEST-----/);
  await expect(page.getByTestId('csr-chosen')).toContainText('Signing request: symcsr');
  await expect(page.getByTestId('csr-chosen').getByRole('alert')).toHaveCount(0);
  await expect(page.getByTestId('csr-next')).toContainText('You need not wait: carry on with the wizard');
  await expect(page.getByTestId('csr-next')).toContainText('self-signed placeholder named symcsr');
  const csrPem = await csrBox.inputValue();

  // The download is the same CSR, and openssl finds it well-formed and signed by its key.
  const link = page.getByRole('link', { name: 'Download symcsr.csr' });
  await link.focus();
  const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
  expect(download.suggestedFilename()).toBe('symcsr.csr');
  const file = await download.path();
  expect(fs.readFileSync(file, 'utf8')).toBe(csrPem);
  const verified = execFileSync('openssl', ['req', '-in', file, '-noout', '-verify', '-subject'], { encoding: 'utf8', stdio: 'pipe' });
  expect(verified).toContain('CN = symphony.trust.example');
  await shot(page, 'csr-made');
  await page.getByRole('button', { name: 'Save and continue' }).focus();
  await page.keyboard.press('Enter');

  await stepTitle(page, 'Review and create');
  await expect(page.getByTestId('object-symcsr')).toContainText('TLS with certificate symcsr');
  await expect(page.getByText(/a self-signed placeholder made at create, with the signing request's names/)).toBeVisible();
  await page.getByRole('button', { name: 'Create (staged)' }).focus();
  await page.keyboard.press('Enter');

  // Live on the placeholder tonight: health up, HTTPS answers through the VIP; the screen says what is still to come.
  await stepTitle(page, 'Apply and check it live');
  await expect(page.getByText(/self-signed placeholder certificate symcsr \(until the CA signs its request\)/)).toBeVisible();
  await expect(page.getByRole('heading', { name: "Certificate: waiting for the hospital's CA" })).toBeVisible();
  await expect(page.getByTestId('csr-next')).toContainText('Until the CA answers, the HTTPS service uses the self-signed placeholder symcsr');
  await page.getByRole('button', { name: 'Apply now' }).click();
  await expect(page.getByTestId('live-symcsr').getByTestId('live-rs-symcsr-1').getByTestId('health-word')).toHaveText('up', { timeout: 15_000 });
  await page.getByRole('button', { name: 'Send a test request from this appliance' }).click();
  await expect(page.getByTestId('test-requests')).toContainText(`https://127.0.0.1:${httpsPort}/ answered 200`);
  await shot(page, 'csr-live-placeholder');

  // Days later the CA answers: pasted here, it replaces the placeholder in place (staged until the next apply).
  const pem = signWithTestCa(csrPem);
  await page.getByRole('textbox', { name: 'Certificate from the CA for symcsr (leaf first, then intermediates)' }).fill(pem);
  await page.getByRole('button', { name: 'Replace (staged)' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('csr-done')).toContainText("The CA's certificate is in under the name symcsr: apply to put it live");
  await shot(page, 'csr-completed');
  await page.goto('/certificates');
  await expect(page.getByText('Test Trust Issuing CA').first()).toBeVisible();
});

test('An operator prepares a run but may not create it: told at the start, Create disabled at review with the reason; the API refuses it too', async ({
  page,
}) => {
  // The roles policy (lib/api/roles.policy.ts): an operator may "use the wizard" but not "stage changes".
  const OPERATOR = { username: 'wizard-operator', password: 'an operator passphrase' };
  await signIn(page);
  await page.getByRole('link', { name: 'Users & keys' }).click();
  await page.locator('[name="new-username"]').fill(OPERATOR.username);
  await page.locator('[name="new-password"]').fill(OPERATOR.password);
  await page.locator('[name="new-role"]').selectOption('operator');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByRole('cell', { name: OPERATOR.username, exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.getByLabel('Username').fill(OPERATOR.username);
  await page.getByLabel('Password').fill(OPERATOR.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();

  await page.goto('/wizard');
  await expect(page.getByTestId('wizard-role-note')).toContainText(
    'You may prepare a run — its answers, the pre-flight checks and the ARP scripts — but not create its objects: Needs an admin; you are an operator.',
  );
  await page.getByRole('button', { name: 'Start EMIS Symphony' }).click();
  await page.getByLabel(/Layer 4 DR/).check();
  await next(page);
  await page.getByLabel('Service name').fill('symphony-op');
  await page.getByLabel('Virtual IP (VIP)').fill('127.0.0.70');
  await next(page);
  await page.getByRole('button', { name: 'Add real server' }).click();
  await page.getByLabel('Real server 1 address').fill('127.0.0.13');
  await next(page);
  await next(page);
  await page.getByLabel('Check kind').selectOption('none');
  await next(page);

  await stepTitle(page, 'Review and create');
  await expect(page.getByTestId('preflight')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Create (staged)' })).toBeDisabled();
  await expect(page.getByTestId('create-why-not')).toContainText('Needs an admin; you are an operator. Creating writes configuration.');
  await expect(page.getByTestId('create-why-not')).toContainText('an admin creates these objects by running the wizard themselves');
  // The ARP scripts, which an operator may take to the servers, are there all the same.
  await expect(page.getByRole('heading', { name: /ARP/ }).first()).toBeVisible();
  await shot(page, 'operator-review');

  // The API holds the same line, whatever the page shows.
  const runId = new URL(page.url()).searchParams.get('run');
  expect(runId).toBeTruthy();
  const { csrfToken } = await (await page.request.get('/api/v1/session')).json();
  const stage = await page.request.post(`/api/v1/wizard/runs/${runId}/stage`, { headers: { 'x-csrf-token': csrfToken } });
  expect(stage.status()).toBe(403);
  expect((await stage.json()).error.code).toBe('AUTH_FORBIDDEN');
  // Not the bare click: a test ending on it had its context's close race the navigation to /login (sign-in.ts).
  await logOut(page);
});
