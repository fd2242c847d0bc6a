/**
 * Patch night in a real browser: one host, 127.0.0.77, is a real server in two layer 7 TCP services on loopback
 * (really proxied by the console's engine to a listener this test runs) and in one layer 4 service (not programmed
 * on this machine: no IPVS here). Clients hold connections open through both proxied services. The Hosts page finds
 * the host, previews what a drain touches (services, server names, state, open connections, what is not programmed
 * here), drains it everywhere after a confirmation, shows the open connections falling live (over /api/v1/live) as
 * the clients finish on their own, and brings it back online the same way.
 *
 * Its own names and address: nothing here depends on what other specs leave behind, and nothing is left that they
 * would see (the host is back online at the end).
 */
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { test, expect } from '@playwright/test';
import { signIn } from './sign-in.ts';

const HOST = '127.0.0.77';
const SHOTS = '.tmp/e2e-results';

test.describe.configure({ mode: 'serial' });

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

/** The host's service: echoes what it is sent, and keeps every connection open until the client closes it. */
let backend: net.Server;
let backendPort = 0;
const clients: net.Socket[] = [];

async function connectThrough(port: number): Promise<net.Socket> {
  const c = net.connect(port, '127.0.0.1');
  await once(c, 'connect');
  c.write('hello');
  await once(c, 'data');
  clients.push(c);
  return c;
}

async function echoes(c: net.Socket, text: string): Promise<string> {
  c.write(text);
  return String((await once(c, 'data'))[0]);
}

test.beforeAll(async () => {
  backend = net.createServer((s) => s.on('data', (d) => s.write(d)));
  backend.listen(0, HOST);
  await once(backend, 'listening');
  backendPort = (backend.address() as net.AddressInfo).port;
});
test.afterAll(async () => {
  for (const c of clients) c.destroy();
  backend.close();
});

test('a host drained everywhere after a preview, its connections falling live, then back online', async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page, { waitForEngine: true });
  const ports = [await freePort(), await freePort(), await freePort()];
  const session = await (await page.request.get('/api/v1/session')).json();
  const headers = { 'x-csrf-token': session.csrfToken };
  const l7 = (name: string, port: number) => ({
    name,
    layer: 7,
    mode: 'tcp',
    address: '127.0.0.1',
    ports: [port],
    scheduler: 'rr',
    healthCheck: { type: 'none' },
    realServers: [{ name: 'patch-app-1', address: HOST, port: backendPort }],
  });
  for (const data of [
    l7('patch-web-a', ports[0]),
    l7('patch-web-b', ports[1]),
    {
      name: 'patch-l4',
      layer: 4,
      mode: 'nat',
      address: '127.0.0.1',
      ports: [ports[2]],
      healthCheck: { type: 'none' },
      realServers: [{ name: 'patch-app-1', address: HOST, port: backendPort }],
    },
  ]) {
    const r = await page.request.post('/api/v1/virtual-services', { headers, data });
    expect(r.status(), await r.text()).toBe(201);
  }
  const applied = await page.request.post('/api/v1/apply', { headers, data: { comment: 'hosts e2e' } });
  expect(applied.status(), await applied.text()).toBe(200);

  // Three clients hold connections to the host: two through patch-web-a, one through patch-web-b.
  const held = [await connectThrough(ports[0]), await connectThrough(ports[0]), await connectThrough(ports[1])];

  await page.getByRole('link', { name: 'Hosts' }).click();
  await expect(page.getByRole('heading', { name: 'Hosts', level: 1 })).toBeVisible();
  await page.getByLabel('Search by address or real server name').fill('patch-app');
  await expect(page.getByTestId('hosts-table').locator('tbody tr')).toHaveCount(1);
  await expect(page.getByTestId(`host-${HOST}`)).toContainText('3 services');
  await page.getByRole('button', { name: `Preview ${HOST}` }).click();

  // The preview: every service and server at the address, stored state, open connections, what is not programmed.
  const connections = page.getByTestId('host-connections');
  await expect(connections).toHaveText('3 open connections now.', { timeout: 15_000 });
  const row = (vs: string) => page.getByTestId(`host-row-${vs}-patch-app-1`);
  await expect(row('patch-web-a').getByTestId('host-row-connections')).toHaveText('2');
  await expect(row('patch-web-b').getByTestId('host-row-connections')).toHaveText('1');
  await expect(row('patch-web-a')).toContainText('programmed');
  await expect(row('patch-l4')).toContainText('not programmed here');
  await expect(row('patch-l4')).toContainText('patch-l4 is not programmed on this machine');
  await page.screenshot({ path: path.join(SHOTS, 'hosts-preview.png'), fullPage: true });

  // Drain, confirmed: the dialog lists exactly the servers it changes.
  await page.getByRole('button', { name: `Drain everywhere: ${HOST}` }).click();
  const dialog = page.getByRole('dialog', { name: `Drain ${HOST} in 3 services?` });
  await expect(dialog.getByTestId('host-confirm-list').locator('li')).toHaveCount(3);
  await expect(dialog).toContainText('patch-app-1 in patch-web-a (L7): online → drain, 2 open now');
  await page.screenshot({ path: path.join(SHOTS, 'hosts-confirm.png') });
  await dialog.getByRole('button', { name: 'Drain 3 servers' }).click();
  const result = page.getByTestId('host-result');
  await expect(result).toContainText(`2 of 3 servers at ${HOST} draining at once; 1 in a service not programmed on this machine.`);
  await expect(result.getByTestId('host-result-patch-l4-patch-app-1')).toContainText('not programmed here');
  const stored = (vs: string) => row(vs).locator('td').nth(3);
  for (const vs of ['patch-web-a', 'patch-web-b', 'patch-l4']) await expect(stored(vs)).toHaveText(/drain/);
  await expect(row('patch-web-a').locator('td').nth(4)).toHaveText(/^drain, /);

  // Drain cuts nothing: the open connections still work, and the count falls only as each client finishes.
  expect(await echoes(held[0], 'still here')).toBe('still here');
  await expect(connections).toHaveText('3 open connections now.');
  held[0].destroy();
  await expect(connections).toHaveText('2 open connections now.', { timeout: 15_000 });
  await page.screenshot({ path: path.join(SHOTS, 'hosts-draining.png'), fullPage: true });
  held[2].destroy();
  await expect(connections).toHaveText('1 open connection now.', { timeout: 15_000 });
  held[1].destroy();
  await expect(connections).toHaveText('0 open connections now.', { timeout: 15_000 });

  // Back online the same way.
  await expect(page.getByRole('button', { name: `Drain everywhere: ${HOST}` })).toBeDisabled();
  await page.getByRole('button', { name: `Bring online everywhere: ${HOST}` }).click();
  const back = page.getByRole('dialog', { name: `Bring online ${HOST} in 3 services?` });
  await back.getByRole('button', { name: 'Bring online 3 servers' }).click();
  await expect(result).toContainText(`2 of 3 servers at ${HOST} brought online at once; 1 in a service not programmed on this machine.`);
  for (const vs of ['patch-web-a', 'patch-web-b', 'patch-l4']) await expect(stored(vs)).toHaveText(/online/);
  expect(await echoes(await connectThrough(ports[1]), 'new client')).toBe('new client');

  // One audit entry per host operation, naming each server and service.
  const audit = await (await page.request.get('/api/v1/audit?action=host.state&limit=10')).json();
  expect(audit.items.filter((x: { outcome: string }) => x.outcome === 'success')).toHaveLength(2);
  expect(audit.items[1].after.realServers.map((x: { virtualService: string }) => x.virtualService)).toEqual(['patch-l4', 'patch-web-a', 'patch-web-b']);

  await page.setViewportSize({ width: 820, height: 900 });
  await page.screenshot({ path: path.join(SHOTS, 'hosts-online-820.png'), fullPage: true });
});
