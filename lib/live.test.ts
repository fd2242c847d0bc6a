/** The live feed: only logged-in same-origin browsers connect; they get engine and console events; logout ends it. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import WebSocket from 'ws';
import { ADMIN, Client, setupAdmin, startHarness, type Harness } from './testing/harness.ts';
import { createLiveFeed, isAllowedOrigin, LIVE_PATH } from './live.ts';
import { eventTexts, parseWatch } from './live-watch.ts';

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

function collect(ws: WebSocket): {
  events: { type: string; [k: string]: unknown }[];
  waitFor(pred: (e: { type: string; [k: string]: unknown }) => boolean): Promise<void>;
} {
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
  ws.send(JSON.stringify({ type: 'watch', services: ['live'] }));
  await feedEvents.waitFor((e) => e.type === 'engine-connection' && e.isConnected === true);
  const r = await admin.req('POST', '/virtual-services', {
    name: 'live',
    layer: 4,
    mode: 'nat',
    address: '10.1.1.1',
    ports: [80],
    realServers: [{ name: 'a', address: '10.1.2.1', port: 8080 }],
  });
  assert.equal(r.status, 201, r.text);
  await feedEvents.waitFor((e) => e.type === 'candidate-changed' && e.by === 'admin');
  await feedEvents.waitFor((e) => e.type === 'audit' && e.action === 'virtual-service.create');
  assert.equal((await admin.req('POST', '/apply', {})).status, 200);
  await feedEvents.waitFor((e) => e.type === 'engine' && (e.event as { type: string }).type === 'applied');
  // The engine's own stats event (every 2 s) reaches the browser with the service just applied, which it watches.
  await feedEvents.waitFor(
    (e) =>
      e.type === 'engine' &&
      (e.event as { type: string }).type === 'stats' &&
      (e.event as { services: { name: string }[] }).services.some((s) => s.name === 'live'),
  );
  assert.equal((await admin.req('DELETE', '/session')).status, 204);
  const [code] = (await once(ws, 'close')) as [number];
  assert.equal(code, 4001);
});

test("each browser's 'stats' events carry only the services it watches", async () => {
  const service = (name: string, port: number) => ({
    name,
    layer: 4,
    mode: 'nat',
    address: '10.1.1.2',
    ports: [port],
    realServers: [{ name: 'a', address: '10.1.2.2', port: 8080 }],
  });
  // The test before logged out: a session of its own.
  const me = new Client(h.baseUrl);
  assert.equal((await me.login(ADMIN.username, ADMIN.password)).status, 200);
  assert.equal((await me.req('POST', '/virtual-services', service('watch-one', 81))).status, 201);
  assert.equal((await me.req('POST', '/virtual-services', service('watch-two', 82))).status, 201);
  assert.equal((await me.req('POST', '/apply', {})).status, 200);
  const open = async (services: string[]) => {
    const ws = new WebSocket(url, { headers: { cookie: me.cookie } });
    const events = collect(ws);
    await once(ws, 'open');
    ws.send(JSON.stringify({ type: 'watch', services }));
    return { ws, events };
  };
  const statsNames = (e: { type: string; [k: string]: unknown }) =>
    e.type === 'engine' && (e.event as { type: string }).type === 'stats' ? (e.event as { services: { name: string }[] }).services.map((s) => s.name) : null;
  const one = await open(['watch-one', 'no-such-service']);
  const both = await open(['watch-two', 'watch-one']);
  try {
    await one.events.waitFor((e) => statsNames(e) !== null);
    await both.events.waitFor((e) => statsNames(e) !== null);
    const seen = (c: typeof one) => c.events.events.map(statsNames).filter((n) => n !== null);
    for (const names of seen(one)) assert.deepEqual(names, ['watch-one'], 'a stats event cut to the one service watched');
    for (const names of seen(both)) assert.deepEqual(names, ['watch-one', 'watch-two'], 'both, in the configured order');
    // A new list replaces the last one.
    one.ws.send(JSON.stringify({ type: 'watch', services: ['watch-two'] }));
    await one.events.waitFor((e) => statsNames(e)?.join() === 'watch-two');
  } finally {
    one.ws.close();
    both.ws.close();
  }
});

test('a stats event is cut per socket; a socket watching nothing gets none, other events go whole', () => {
  const services = [
    { name: 'a', counters: { activeConnections: 1 } },
    { name: 'b', counters: { activeConnections: 2 } },
  ];
  const stats = { type: 'engine' as const, at: '2026-12-02T10:00:00.000Z', event: { type: 'stats', at: '2026-12-02T09:59:59.000Z', services } };
  const textFor = eventTexts(stats);
  assert.equal(textFor(new Set()), null);
  assert.equal(textFor(new Set(['c'])), null, 'no watched service in the event: nothing to send');
  assert.deepEqual(JSON.parse(textFor(new Set(['b', 'a']))!), stats);
  assert.deepEqual(JSON.parse(textFor(new Set(['b']))!), { ...stats, event: { ...stats.event, services: [services[1]] } });
  const applied = { type: 'engine' as const, at: stats.at, event: { type: 'applied', version: 3 } };
  assert.equal(eventTexts(applied)(new Set()), JSON.stringify(applied));
  assert.deepEqual(parseWatch('{"type":"watch","services":["a","b"]}'), new Set(['a', 'b']));
  for (const bad of ['not json', '{"type":"watch"}', '{"type":"watch","services":["../x"]}', '{"type":"watch","services":[],"more":1}'])
    assert.equal(parseWatch(bad), undefined, bad);
});

/** A raw upgrade request, as a hostile page or script would send it; resolves with the answer once the server closes. */
function rawUpgrade(headers: Record<string, string>): Promise<{ answer: string; isClosedByServer: boolean }> {
  const { port } = server.address() as { port: number };
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let answer = '';
    let isEnded = false;
    sock.on('data', (c) => (answer += c));
    sock.on('end', () => (isEnded = true));
    sock.on('close', () => resolve({ answer, isClosedByServer: isEnded }));
    sock.on('error', reject);
    const lines = [
      `GET ${LIVE_PATH} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    sock.write(lines.join('\r\n') + '\r\n\r\n');
  });
}

test('Origin "null" or unparsable: 403 and the server closes the socket, with no unhandled rejection', async () => {
  assert.equal((await admin.login(ADMIN.username, ADMIN.password)).status, 200, 'a valid session, refused for its Origin alone');
  const port = (server.address() as { port: number }).port;
  const same = new WebSocket(url, { headers: { cookie: admin.cookie, origin: `http://127.0.0.1:${port}` } });
  await once(same, 'open');
  same.close();
  let rejections = 0;
  const count = () => rejections++;
  process.on('unhandledRejection', count);
  try {
    for (const origin of ['null', 'http://[::1', 'not a url', 'file:///etc/passwd', 'https://127.0.0.1.evil.example']) {
      const r = await Promise.all(Array.from({ length: 20 }, () => rawUpgrade({ Origin: origin, Cookie: admin.cookie })));
      for (const x of r) {
        assert.match(x.answer, /^HTTP\/1\.1 403 /, origin);
        assert.equal(x.isClosedByServer, true, `the server ended the socket for ${origin}`);
      }
    }
  } finally {
    process.off('unhandledRejection', count);
  }
  assert.equal(rejections, 0);
  assert.equal(isAllowedOrigin(undefined, 'lb:9443'), true, 'no Origin (not a browser): the cookie decides');
  assert.equal(isAllowedOrigin('https://lb:9443', 'lb:9443'), true);
  assert.equal(isAllowedOrigin('https://lb:9443', undefined), false);
});

describe('each event class needs its permission, checked against the role now', () => {
  let slow: ReturnType<typeof createLiveFeed>;
  let slowServer: http.Server;
  let slowUrl = '';
  before(async () => {
    // No periodic re-check within the test: what happens, happens on the events themselves.
    slow = createLiveFeed({ sessionRecheckMs: 3600_000 });
    slowServer = http.createServer((_q, s) => s.end());
    slowServer.on('upgrade', (req, socket, head) => void slow.handleUpgrade(req, socket, head));
    slowServer.listen(0, '127.0.0.1');
    await once(slowServer, 'listening');
    slowUrl = `ws://127.0.0.1:${(slowServer.address() as { port: number }).port}${LIVE_PATH}`;
  });
  after(() => {
    slow.close();
    slowServer.close();
  });

  async function person(username: string, role: string) {
    const r = await admin.req('POST', '/users', { username, password: 'a long enough password', role });
    assert.equal(r.status, 201, r.text);
    const c = new Client(h.baseUrl);
    assert.equal((await c.login(username, 'a long enough password')).status, 200);
    const ws = new WebSocket(slowUrl, { headers: { cookie: c.cookie } });
    const feedEvents = collect(ws);
    await once(ws, 'open');
    return { id: r.body.id as string, ws, feedEvents };
  }

  test('audit events reach auditors and admins only; a viewer hears everything else', async () => {
    const viewer = await person('live-viewer', 'viewer');
    const auditor = await person('live-auditor', 'auditor');
    const vs = (name: string, address: string) => ({
      name,
      layer: 4,
      mode: 'nat',
      address,
      ports: [80],
      realServers: [{ name: 'a', address: '10.9.2.1', port: 8080 }],
    });
    assert.equal((await admin.req('POST', '/virtual-services', vs('live-a', '10.9.1.1'))).status, 201);
    assert.equal((await admin.req('POST', '/virtual-services', vs('live-b', '10.9.1.2'))).status, 201);
    await auditor.feedEvents.waitFor((e) => e.type === 'audit' && e.action === 'virtual-service.create');
    // Each socket's deliveries are in order, so once the viewer has the second change, the first audit event has
    // been decided for it.
    await viewer.feedEvents.waitFor(
      (e) => e.type === 'candidate-changed' && viewer.feedEvents.events.filter((x) => x.type === 'candidate-changed').length >= 2,
    );
    assert.deepEqual(
      viewer.feedEvents.events.filter((e) => e.type === 'audit'),
      [],
    );
    assert.ok(auditor.feedEvents.events.filter((e) => e.type === 'audit').length >= 2);
    viewer.ws.close();

    // Demoting the auditor ends their session; the audit event that records it closes their feed at once.
    assert.equal((await admin.req('PATCH', `/users/${auditor.id}`, { role: 'viewer' })).status, 200);
    const [code] = (await once(auditor.ws, 'close')) as [number];
    assert.equal(code, 4001);
    assert.ok(!auditor.feedEvents.events.some((e) => e.type === 'audit' && e.action === 'user.update'), 'not even the event of its own demotion');
  });
});
