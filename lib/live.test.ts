/** The live feed: only logged-in same-origin browsers connect; they get engine and console events; logout ends it. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import WebSocket from 'ws';
import { setupAdmin, startHarness, type Client, type Harness } from './testing/harness.ts';
import { createLiveFeed, LIVE_PATH } from './live.ts';

let h: Harness;
let admin: Client;
let server: http.Server;
let feed: ReturnType<typeof createLiveFeed>;
let url = '';

before(async () => {
  h = await startHarness();
  admin = await setupAdmin(h);
  feed = createLiveFeed({ sessionRecheckMs: 200 });
  server = http.createServer((_q, s) => s.end());
  server.on('upgrade', (req, socket, head) => {
    if (req.url === LIVE_PATH) void feed.handleUpgrade(req, socket, head);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `ws://127.0.0.1:${(server.address() as { port: number }).port}${LIVE_PATH}`;
});
after(async () => {
  feed.close();
  server.close();
  await h.close();
});

function collect(ws: WebSocket): { events: { type: string; [k: string]: unknown }[]; waitFor(pred: (e: { type: string; [k: string]: unknown }) => boolean): Promise<void> } {
  const events: { type: string; [k: string]: unknown }[] = [];
  ws.on('message', (m) => events.push(JSON.parse(String(m))));
  return {
    events,
    async waitFor(pred) {
      for (let i = 0; i < 200; i++) {
        if (events.some(pred)) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`event not seen; got ${JSON.stringify(events.map((e) => e.type))}`);
    },
  };
}

test('no session, no feed; another origin, no feed', async () => {
  const anon = new WebSocket(url);
  const [, res] = (await once(anon, 'unexpected-response')) as [unknown, http.IncomingMessage];
  assert.equal(res.statusCode, 401);
  const cross = new WebSocket(url, { headers: { cookie: admin.cookie, origin: 'https://evil.example' } });
  const [, res2] = (await once(cross, 'unexpected-response')) as [unknown, http.IncomingMessage];
  assert.equal(res2.statusCode, 403);
});

test('a logged-in browser hears the engine, staged changes and applies, until it logs out', async () => {
  const ws = new WebSocket(url, { headers: { cookie: admin.cookie } });
  const feedEvents = collect(ws);
  await once(ws, 'open');
  await feedEvents.waitFor((e) => e.type === 'engine-connection' && e.isConnected === true);
  const r = await admin.req('POST', '/virtual-services', { name: 'live', layer: 4, mode: 'nat', address: '10.1.1.1', ports: [80], realServers: [{ name: 'a', address: '10.1.2.1', port: 8080 }] });
  assert.equal(r.status, 201, r.text);
  await feedEvents.waitFor((e) => e.type === 'candidate-changed' && e.by === 'admin');
  await feedEvents.waitFor((e) => e.type === 'audit' && e.action === 'virtual-service.create');
  assert.equal((await admin.req('POST', '/apply', {})).status, 200);
  await feedEvents.waitFor((e) => e.type === 'engine' && (e.event as { type: string }).type === 'applied');
  // The engine's own stats event (every 2 s) reaches the browser with the service just applied.
  await feedEvents.waitFor((e) => e.type === 'engine' && (e.event as { type: string }).type === 'stats' && (e.event as { services: { name: string }[] }).services.some((s) => s.name === 'live'));
  assert.equal((await admin.req('DELETE', '/session')).status, 204);
  const [code] = (await once(ws, 'close')) as [number];
  assert.equal(code, 4001);
});
