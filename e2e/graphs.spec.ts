/**
 * Graphs in a real browser against real sockets: a layer 7 HTTP service on 127.0.0.1 with two real servers this test
 * runs (Node HTTP servers on loopback), checked over HTTP every 500 ms, is created and applied through the API, and
 * the test sends it requests. The overview's graphs open with the last hour from the console's samples, then move
 * with the live feed alone (the samples route is read once: every later point came over the WebSocket). Stopping a
 * backend marks its health transition on the time axis and lists it in words. Screenshots at 1366 and 820 px.
 *
 * Every address here is loopback, and the console's engine only probes 127.0.0.0/8 and ::1 in these tests.
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { test, expect } from '@playwright/test';
import { signIn } from './sign-in.ts';

const SERVICE = 'symphony-graphs';
const SHOTS = '.tmp/e2e-results';

test.describe.configure({ mode: 'serial' });

class Backend {
  private server?: http.Server;
  port = 0;
  constructor(readonly name: string) {}
  async start(): Promise<void> {
    const server = http.createServer((req, res) => res.end(`${this.name} ok ${req.url}\n`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Requests to the VIP from two clients over keep-alive, each about 100 a second, until stopped; counts the answers. */
function traffic(port: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let isRunning = true;
  let answered = 0;
  const loop = async () => {
    while (isRunning) {
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/ed/triage', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            answered++;
            setTimeout(resolve, 10);
          });
        });
        req.on('error', () => setTimeout(resolve, 50));
      });
    }
  };
  const done = Promise.all([loop(), loop()]);
  return {
    get answered() {
      return answered;
    },
    async stop() {
      isRunning = false;
      await done;
      agent.destroy();
    },
  };
}

const backends = [new Backend('sym-app-1'), new Backend('sym-app-2')];

test.beforeAll(async () => {
  for (const b of backends) await b.start();
});
test.afterAll(async () => {
  for (const b of backends) await b.stop();
});

test('the graphs open with the last hour, move live over the WebSocket, and mark a health transition', async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page, { waitForEngine: true });
  const vipPort = await freePort();

  // The service and the apply through the API, with this browser's session and CSRF token.
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
      scheduler: 'wrr',
      healthCheck: { type: 'http', intervalMs: 500, timeoutMs: 300, rise: 1, fall: 1, http: { path: '/health' } },
      realServers: backends.map((b) => ({ name: b.name, address: '127.0.0.1', port: b.port })),
    },
  });
  expect(created.status(), await created.text()).toBe(201);
  const applied = await page.request.post('/api/v1/apply', { headers, data: { comment: 'graphs e2e' } });
  expect(applied.status(), await applied.text()).toBe(200);

  const load = traffic(vipPort);
  try {
    await expect.poll(() => load.answered, { timeout: 10_000 }).toBeGreaterThan(20);
    await page.reload();
    const card = page.locator('section', { has: page.getByTestId('vs-name').getByText(SERVICE, { exact: true }) });
    await expect(card.getByTestId('health-sym-app-1').getByTestId('health-word')).toHaveText('up', { timeout: 15_000 });

    const sampleReads: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes(`/samples`)) sampleReads.push(r.url());
    });
    await card.getByRole('button', { name: 'Graphs', exact: true }).click();
    const graphs = card.getByTestId(`graphs-${SERVICE}`);
    await expect(graphs.getByRole('button', { name: 'Last hour' })).toHaveAttribute('aria-pressed', 'true');
    for (const id of ['connections', 'rates', 'throughput', 'responses', 'latency'])
      await expect(graphs.getByTestId(`chart-${id}`).locator('canvas')).toBeVisible();
    // Labels, not colour alone: every series is named in its legend.
    const rates = graphs.getByTestId('chart-rates');
    await expect(rates.locator('.u-legend')).toContainText('Requests/s');
    await expect(rates.locator('.u-legend')).toContainText('Connections/s');
    await expect(graphs.getByTestId('chart-responses').locator('.u-legend')).toContainText('5xx');

    // Live: the newest point moves on while the samples route has been read only once.
    await expect.poll(async () => Number(await rates.getAttribute('data-last-t')), { timeout: 15_000 }).toBeGreaterThan(0);
    const first = Number(await rates.getAttribute('data-last-t'));
    await expect.poll(async () => Number(await rates.getAttribute('data-last-t')), { timeout: 15_000 }).toBeGreaterThan(first);
    await expect(graphs.getByTestId('chart-rates-summary')).toContainText(/Requests\/s: latest [1-9]/);
    expect(sampleReads).toHaveLength(1);

    // Numbers in the legend: the newest with the cursor away, and those under the cursor when it is on the graph
    // (half an hour ago nothing was sampled: a dash, at that time).
    const legend = rates.locator('.u-legend');
    const requestsValue = legend.locator('.u-series').nth(2).locator('.u-value');
    const timeValue = legend.locator('.u-series').nth(0).locator('.u-value');
    await expect(requestsValue).toHaveText(/^[1-9][\d.,]*( k)?$/);
    const newestTime = await timeValue.textContent();
    // The chart may be below the fold (other specs' services come first): the cursor must be over it, in view.
    await rates.locator('.u-over').scrollIntoViewIfNeeded();
    const box = (await rates.locator('.u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await expect(requestsValue).toHaveText('–');
    await expect(timeValue).not.toHaveText(newestTime ?? '');
    await page.mouse.move(box.x + box.width / 2, box.y - 60);
    await expect(requestsValue).toHaveText(/^[1-9]/);
    await page.screenshot({ path: path.join(SHOTS, 'graphs-1366.png'), fullPage: true });

    // A backend stops: its transition is marked on the graphs and listed in words, live.
    await backends[0].stop();
    await expect(graphs.getByTestId('graph-transitions')).toContainText('sym-app-1: up → down', { timeout: 10_000 });
    await expect(graphs.getByTestId('chart-rates-summary')).toContainText(/[1-9]\d* health transitions marked/);
    await page.setViewportSize({ width: 820, height: 1180 });
    await expect.poll(async () => (await rates.locator('canvas').boundingBox())!.width, { timeout: 5_000 }).toBeLessThan(820);
    await page.screenshot({ path: path.join(SHOTS, 'graphs-820.png'), fullPage: true });

    // One real server, and a longer range: read again from the console's samples.
    await graphs.getByLabel('Show').selectOption({ label: 'Real server sym-app-2' });
    await expect.poll(() => sampleReads.some((u) => u.includes('realServer='))).toBe(true);
    await expect(graphs.getByTestId('chart-rates-summary')).toContainText(/Requests\/s: latest [1-9]/, { timeout: 10_000 });
    await graphs.getByRole('button', { name: 'Last day' }).click();
    await expect(graphs.getByRole('button', { name: 'Last day' })).toHaveAttribute('aria-pressed', 'true');
    await expect(graphs.getByText('1 min steps')).toBeVisible();
    await page.screenshot({ path: path.join(SHOTS, 'graphs-820-day.png'), fullPage: true });
  } finally {
    await load.stop();
    await backends[0].start().catch(() => undefined);
  }
});
