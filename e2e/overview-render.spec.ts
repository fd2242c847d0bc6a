/**
 * The overview at more than a page of services, in a real browser: cards come 25 at a time from GET /overview, the
 * pager counts every service, the filter searches all of them on the server (a real server's address finds a service
 * on page 2), and the sort puts names A–Z. The 26 services are staged through the API (health checks none, loopback
 * addresses, never applied) and deleted again at the end, so the specs after this one see the appliance as before.
 */
import path from 'node:path';
import { test, expect } from '@playwright/test';
import { signIn } from './sign-in.ts';

const COUNT = 26;
const name = (i: number) => `aaa-page-${String(i).padStart(2, '0')}`;

test('more than a page of services: pager, a filter over all of them, and a sort by name', async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  const session = await (await page.request.get('/api/v1/session')).json();
  const headers = { 'x-csrf-token': session.csrfToken };
  const before = (await (await page.request.get('/api/v1/overview?limit=1')).json()).total as number;
  const created: { id: string; version: number }[] = [];
  for (let i = 0; i < COUNT; i++) {
    const r = await page.request.post('/api/v1/virtual-services', {
      headers,
      data: {
        name: name(i),
        layer: 7,
        mode: 'http',
        address: '127.0.0.1',
        ports: [23000 + i],
        healthCheck: { type: 'none' },
        realServers: [{ name: `${name(i)}-app-1`, address: `127.0.9.${i + 1}`, port: 8080 }],
      },
    });
    expect(r.status(), await r.text()).toBe(201);
    const body = await r.json();
    created.push({ id: body.id, version: body.version });
  }
  const total = before + COUNT;
  try {
    await page.goto('/');
    const pager = page.getByTestId('vs-pager');
    await expect(pager).toContainText(`Page 1 of ${Math.ceil(total / 25)} · ${total} services`);
    await expect(page.getByTestId('vs-name')).toHaveCount(25);

    // Name A–Z: the aaa- services come before every other spec's, in order.
    await page.getByLabel('Sort services').selectOption('name');
    await expect(page.getByTestId('vs-name').first()).toHaveText(name(0));
    await expect(page.getByTestId('vs-name').nth(1)).toHaveText(name(1));
    await page.getByRole('button', { name: 'Next page of virtual services' }).click();
    await expect(pager).toContainText(`Page 2 of ${Math.ceil(total / 25)}`);
    await expect(page.getByTestId('vs-name').first()).toHaveText(name(25));

    // The filter searches every service on the server, by a real server's address, and goes back to page 1.
    await page.getByRole('searchbox', { name: 'Filter services' }).fill(`127.0.9.${COUNT}`);
    await expect(page.getByTestId('vs-name')).toHaveCount(1);
    await expect(page.getByTestId('vs-name')).toHaveText(name(COUNT - 1));
    await expect(page.getByTestId(`rs-${name(COUNT - 1)}-app-1`)).toContainText(`127.0.9.${COUNT}:8080`);
    await expect(pager).toBeHidden();
    await page.getByRole('searchbox', { name: 'Filter services' }).fill('no-such-service-anywhere');
    await expect(page.getByText('No service matches “no-such-service-anywhere”')).toBeVisible();
    await page.screenshot({ path: path.join('.tmp/e2e-results', 'overview-render.png'), fullPage: false });
  } finally {
    for (const c of created) {
      const r = await page.request.delete(`/api/v1/virtual-services/${c.id}`, { headers: { ...headers, 'if-match': `"${c.version}"` } });
      expect(r.status(), await r.text()).toBe(204);
    }
  }
});
