/**
 * The log viewer in a real browser against real sockets: a layer 7 HTTP service on 127.0.0.1 with a real server this
 * test runs (a Node HTTP server on loopback) is created and applied through the API, the test sends it requests, and
 * the access log lines (written by the engine's layer 7 workers) show in the viewer, filtered by service and status
 * class, with their termination code in words; live tail brings a new request's line without a reload; the engine
 * log shows the apply. The service has a name of its own per run and is removed at the end, so no other spec sees it.
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { test, expect } from '@playwright/test';
import { signIn } from './sign-in.ts';

const SHOTS = '.tmp/e2e-results';
const RUN = Math.random().toString(36).slice(2, 8);
const SERVICE = `symphony-logs-${RUN}`;

async function listen(server: http.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function get(port: number, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

test('access lines of a loopback service in the viewer, filtered, with live tail; the engine log beside them', async ({ page }) => {
  const backend = http.createServer((req, res) => res.end(`ok ${req.url}\n`));
  const backendPort = await listen(backend);
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  const vipPort = await freePort();
  const session = await (await page.request.get('/api/v1/session')).json();
  const headers = { 'x-csrf-token': session.csrfToken };
  const created = await page.request.post('/api/v1/virtual-services', {
    headers,
    data: {
      name: SERVICE,
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [vipPort],
      scheduler: 'rr',
      healthCheck: { type: 'none' },
      realServers: [{ name: 'sym-log-1', address: '127.0.0.1', port: backendPort }],
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  const id = (await created.json()).id;
  try {
    const applied = await page.request.post('/api/v1/apply', { headers, data: { comment: 'logs e2e' } });
    expect(applied.status(), await applied.text()).toBe(200);
    await expect.poll(() => get(vipPort, `/ed/triage/${RUN}`).catch(() => 0), { timeout: 10_000 }).toBe(200);
    expect(await get(vipPort, `/ed/bed/${RUN}`)).toBe(200);
    // Each worker writes its lines to its file within half a second (engine/log/access-log.ts, FLUSH_MS), and the two
    // requests may have been answered by different workers: the viewer reads the files once per Filter, so first
    // wait, over the same API, until both lines are there.
    await expect
      .poll(async () => {
        const r = await page.request.get(`/api/v1/logs?kind=access&service=${SERVICE}`);
        return ((await r.json()).lines as { path?: string }[]).filter((l) => l.path?.endsWith(`/${RUN}`)).length;
      })
      .toBe(2);

    await page.goto('/logs');
    await expect(page.getByRole('heading', { name: 'Logs' })).toBeVisible();
    const filter = page.getByRole('form', { name: 'Log filter' });
    await filter.getByLabel('Service').fill(SERVICE);
    await filter.getByLabel('Status').selectOption('2xx');
    await filter.getByRole('button', { name: 'Filter' }).click();
    const rows = page.getByTestId('log-row');
    const triage = rows.filter({ hasText: `/ed/triage/${RUN}` });
    await expect(triage).toHaveCount(1, { timeout: 10_000 });
    await expect(triage).toContainText('sym-log-1');
    await expect(triage).toContainText('200');
    await expect(triage).toContainText('normal end');
    await expect(triage).toContainText('127.0.0.1:');
    await expect(rows.filter({ hasText: `/ed/bed/${RUN}` })).toHaveCount(1);

    // Another status class shows none of them.
    await filter.getByLabel('Status').selectOption('5xx');
    await filter.getByRole('button', { name: 'Filter' }).click();
    await expect(page.getByText('No lines match.')).toBeVisible();
    await filter.getByLabel('Status').selectOption('');
    await filter.getByRole('button', { name: 'Filter' }).click();
    await expect(triage).toHaveCount(1);

    // Live tail: a new request's line arrives without a reload.
    await filter.getByLabel('Live tail').check();
    expect(await get(vipPort, `/ed/tail/${RUN}`)).toBe(200);
    await expect(rows.filter({ hasText: `/ed/tail/${RUN}` })).toHaveCount(1, { timeout: 10_000 });
    await expect(rows.first()).toContainText(`/ed/tail/${RUN}`);
    await page.screenshot({ path: path.join(SHOTS, 'logs-access-1366.png'), fullPage: true });
    await filter.getByLabel('Live tail').uncheck();

    // The engine log: the apply, in words.
    await filter.getByLabel('Log', { exact: true }).selectOption('engine');
    await filter.getByLabel('Service').fill('');
    await filter.getByLabel('Status').selectOption('');
    await filter.getByLabel('Text').fill('applied');
    await filter.getByRole('button', { name: 'Filter' }).click();
    await expect(rows.first()).toContainText('applied', { timeout: 10_000 });
    await expect(page.getByRole('columnheader', { name: 'Event' })).toBeVisible();
    await page.screenshot({ path: path.join(SHOTS, 'logs-engine-1366.png'), fullPage: true });
  } finally {
    await page.request.delete(`/api/v1/virtual-services/${id}`, { headers });
    await page.request.post('/api/v1/apply', { headers, data: { comment: 'logs e2e: remove its service' } });
    await new Promise<void>((r) => backend.close(() => r()));
  }
});
