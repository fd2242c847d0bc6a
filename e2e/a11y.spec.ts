/**
 * Accessibility, in a real Chromium, on every console page (each link of the main navigation, the account page, the
 * forms, a service's edit page, a page that does not exist), as an admin and as a viewer:
 *
 * - axe-core (WCAG 2.0/2.1 A and AA rules) finds no serious or critical violation;
 * - at 820 px nothing overlaps: the header ends above the content, no table heading spills out of its cell, and the
 *   page does not scroll sideways;
 * - the keyboard reaches a skip link first, it moves focus to the content, and every control focused by Tab draws a
 *   ring of at least 2 px (the primary and danger buttons had none that could be seen);
 * - a role that may not read a page gets the "no access" page, and an unknown address the 404 page, in the shell.
 *
 * It runs after the other specs (playwright.config.ts), on the services, versions and users they left behind; alone
 * (`--no-deps`) it sets the appliance up itself.
 */
import path from 'node:path';
import { test, expect, type Page, type APIRequestContext } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { logOut, signIn } from './sign-in.ts';

const VIEWER = { username: 'a11y-viewer', password: 'a viewer of every page' };
const SHOTS = '.tmp/e2e-results';

/** The API as the logged-in page (its cookie), with the session's CSRF token. */
async function apiAs(request: APIRequestContext) {
  const { csrfToken } = await (await request.get('/api/v1/session')).json();
  return (method: 'POST' | 'PATCH', p: string, data: unknown) => request.fetch(`/api/v1${p}`, { method, data, headers: { 'x-csrf-token': csrfToken } });
}

/** What the walk needs besides what earlier specs left: a viewer, and a service with a real server to edit. */
async function ensureFixtures(page: Page): Promise<string> {
  const call = await apiAs(page.request);
  const made = await call('POST', '/users', { ...VIEWER, role: 'viewer' });
  expect([201, 409]).toContain(made.status());
  const services = (await (await page.request.get('/api/v1/virtual-services')).json()).items as { id: string }[];
  if (services.length) return services[0].id;
  const r = await call('POST', '/virtual-services', {
    name: 'a11y-web',
    layer: 7,
    mode: 'http',
    address: '127.0.0.1',
    ports: [18480],
    healthCheck: { type: 'none' },
    realServers: [{ name: 'a11y-app-1', address: '127.0.0.1', port: 18481 }],
  });
  expect(r.status(), await r.text()).toBe(201);
  return (await r.json()).id;
}

/** Every page: the main navigation's links (so a new page is walked without editing this file) and the rest. */
async function pagesToWalk(page: Page, serviceId: string): Promise<string[]> {
  await page.goto('/');
  const nav = await page
    .getByRole('navigation', { name: 'Main' })
    .getByRole('link')
    .evaluateAll((as) => as.map((a) => new URL((a as HTMLAnchorElement).href).pathname));
  return [...new Set([...nav, '/account', '/virtual-services/new', `/virtual-services/${serviceId}`, '/users', '/audit', '/no-such-page'])];
}

async function settle(page: Page) {
  await page.waitForLoadState('networkidle');
  await expect(page.locator('main h1').first()).toBeVisible();
}

/** axe-core's serious and critical findings on the page as it stands, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} — ${v.nodes
          .slice(0, 4)
          .map((n) => n.target.join(' '))
          .join(' | ')}`,
    );
}

/** Layout faults at the current width: the header over the content, a heading spilling out of its cell, sideways scroll. */
async function overlaps(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const header = document.querySelector('header');
    const main = document.querySelector('main');
    if (header && main && header.getBoundingClientRect().bottom > main.getBoundingClientRect().top + 0.5) out.push('the header overlaps the content');
    if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px wide)`);
    for (const th of document.querySelectorAll('th')) {
      const cell = th.getBoundingClientRect();
      if (cell.width === 0) continue;
      // Each visible run of text; text for screen readers only (a 1 px clipped box) is not drawn, so cannot overlap.
      const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const box = n.parentElement?.getBoundingClientRect();
        if (!n.textContent?.trim() || !box || box.width <= 1 || box.height <= 1) continue;
        const range = document.createRange();
        range.selectNodeContents(n);
        const text = range.getBoundingClientRect();
        if (text.left < cell.left - 0.5 || text.right > cell.right + 0.5) out.push(`the heading "${th.textContent?.trim()}" spills out of its column`);
      }
    }
    return out;
  });
}

/** Tabs through the page; every focused control must draw an outline of 2 px or more. */
async function focusFaults(page: Page, stops = 40): Promise<string[]> {
  const out: string[] = [];
  await page.locator('body').focus();
  for (let i = 0; i < stops; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      // A date or time input's calendar button takes a Tab stop of its own inside the input, where the input no longer
      // matches :focus and no script can read the button's style; globals.css rings it. Every other stop is checked.
      if (el.matches('input:is([type="date"], [type="datetime-local"], [type="time"])') && !el.matches(':focus'))
        return { name: 'calendar button', style: 'solid', width: 3 };
      const s = getComputedStyle(el);
      return {
        name: `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}"`,
        style: s.outlineStyle,
        width: parseFloat(s.outlineWidth),
      };
    });
    if (!f) break;
    if (f.style === 'none' || f.width < 2) out.push(`${f.name}: outline ${f.style} ${f.width}px`);
  }
  return out;
}

for (const who of ['admin', 'viewer'] as const) {
  test(`every page as ${who}: no serious or critical axe violation, nothing overlapping at 820 px, focus always visible`, async ({ page }) => {
    test.setTimeout(240_000);
    const found: string[] = [];
    if (who === 'admin') {
      // The page before the console: login (or setup, on a fresh appliance).
      await page.goto('/login');
      await expect(page.locator('h1')).toBeVisible();
      for (const v of await seriousViolations(page)) found.push(`${new URL(page.url()).pathname}: ${v}`);
    }
    await signIn(page, { waitForEngine: true });
    const serviceId = await ensureFixtures(page);
    const pages = await pagesToWalk(page, serviceId);
    if (who === 'viewer') {
      await logOut(page);
      await signIn(page, { as: VIEWER, waitForEngine: true });
    }
    for (const width of [1366, 820]) {
      await page.setViewportSize({ width, height: 900 });
      for (const p of pages) {
        await page.goto(p);
        await settle(page);
        for (const v of await seriousViolations(page)) found.push(`${p} at ${width} px: ${v}`);
        for (const o of await overlaps(page)) found.push(`${p} at ${width} px: ${o}`);
        if (width === 1366) for (const f of await focusFaults(page)) found.push(`${p}: ${f}`);
        await page.screenshot({ path: path.join(SHOTS, `a11y-${who}-${width}${p.replace(/\//g, '_')}.png`), fullPage: true });
      }
    }
    expect(found, found.join('\n')).toEqual([]);
  });
}

test('the skip link is the first stop and moves focus to the content', async ({ page }) => {
  await signIn(page, { waitForEngine: true });
  await page.goto('/changes');
  await settle(page);
  await page.locator('body').focus();
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to main content' });
  await expect(skip).toBeFocused();
  const box = await skip.boundingBox();
  expect(box && box.width > 20 && box.y >= 0 && box.y < 100, 'the focused skip link is on screen').toBe(true);
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => !!document.activeElement?.closest('main')), 'the next Tab stays in the content').toBe(true);
});

test('roles in the UI: no-access pages for what a role may not read or do, and a 404 inside the shell', async ({ page }) => {
  await signIn(page, { waitForEngine: true });
  await ensureFixtures(page);
  await logOut(page);
  await signIn(page, { as: VIEWER, waitForEngine: true });
  await expect(page.getByTestId('role-note')).toContainText('You are a viewer');
  await expect(page.getByRole('link', { name: 'New virtual service' })).toHaveCount(0);
  for (const [p, what] of [
    ['/audit', 'the audit log'],
    ['/users', 'users and API keys'],
    ['/virtual-services/new', 'the form for a new virtual service'],
  ]) {
    await page.goto(p);
    await expect(page.getByRole('heading', { name: `You cannot open ${what}` })).toBeVisible();
    await expect(page.getByTestId('no-access')).toContainText('Your role is viewer');
    await expect(page.locator('form')).toHaveCount(0);
  }
  await page.screenshot({ path: path.join(SHOTS, 'a11y-no-access.png') });
  await page.goto('/no-such-page');
  await expect(page.getByRole('heading', { name: 'There is no such page' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await page.getByRole('link', { name: 'Back to the overview' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
});
