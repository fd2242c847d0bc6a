/**
 * h1-tunnel.ts over real loopback sockets: the 101 the client gets, bytes both ways (those that came early first),
 * a clean end passed on as FIN, and a halt of the server cutting the tunnel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { parseResponseHead } from './http-codec.ts';
import { Tunnel, upgradeHeadText, type TunnelClient } from './h1-tunnel.ts';
import { planServices } from './plan.ts';
import { ServiceRuntime, ServiceState } from './service.ts';
import { Pool, UpstreamConn } from './upstream.ts';
import { connectDirect, enableDirectRead, setReader } from './reader.ts';
import { config, httpService, waitFor } from './test-helpers.ts';

const RES = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\nKeep-Alive: 1\r\n\r\n';
const head = () => parseResponseHead(Buffer.from(RES, 'latin1'), RES.indexOf('\r\n\r\n'));

/** A client and the proxy's socket for it, accepted and read as runtime.ts does (paused, then direct reads). */
async function clientPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const outer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [inner] = (await once(server, 'connection')) as [net.Socket];
  server.close();
  await once(outer, 'connect');
  return [outer, inner];
}

/** A real server's socket and the proxy's connection to it, made as upstream.ts makes it. */
async function serverPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const inner = connectDirect('127.0.0.1', (server.address() as net.AddressInfo).port);
  const [outer] = (await once(server, 'connection')) as [net.Socket];
  server.close();
  if (inner.connecting) await once(inner, 'connect');
  return [outer, inner];
}

function collect(s: net.Socket): { text: () => string; ended: () => boolean } {
  let text = '';
  let ended = false;
  s.on('data', (d) => (text += d.toString('latin1')));
  s.on('end', () => (ended = true));
  return { text: () => text, ended: () => ended };
}

async function setUp() {
  const vs = httpService('t', 1, [], { realServers: [{ name: 'ws', address: '127.0.0.1', port: 2 }] });
  const [plan] = planServices(config([vs]), new Map());
  const rt = new ServiceRuntime(plan, new ServiceState('t'), Buffer.alloc(48), (_, s) => s);
  const server = rt.byName.get('ws')!;
  const [browser, clientSide] = await clientPair();
  const [realServer, upstreamSide] = await serverPair();
  const conn = new UpstreamConn(upstreamSide, new Pool(), 60_000);
  let destroyed = 0;
  const client: TunnelClient = { socket: clientSide, buf: Buffer.from('early;'), destroy: () => void destroyed++ };
  const tunnel = new Tunnel(rt, client, server, conn, head(), Buffer.from('first-frame;'));
  // The exchange hands the client's bytes on (http-proxy.ts's reader does this for a real session).
  setReader(clientSide, (d) => tunnel.toServer(d));
  enableDirectRead(clientSide);
  clientSide.on('end', () => tunnel.clientEnded());
  return {
    rt,
    server,
    browser,
    realServer,
    client,
    tunnel,
    destroyed: () => destroyed,
    cleanUp: () => {
      for (const s of [browser, clientSide, realServer, upstreamSide]) s.destroy();
    },
  };
}

test('the 101 keeps the server’s fields but hop-by-hop ones, and says Connection and Upgrade once', () => {
  assert.equal(upgradeHeadText(head()), 'HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
});

test('a tunnel carries bytes both ways, the early ones first, and counts them', async () => {
  const t = await setUp();
  try {
    const atBrowser = collect(t.browser);
    const atServer = collect(t.realServer);
    await waitFor(() => atBrowser.text().endsWith('first-frame;'), 'the 101 and the server’s first bytes');
    assert.ok(atBrowser.text().startsWith('HTTP/1.1 101 Switching Protocols\r\n'));
    await waitFor(() => atServer.text() === 'early;', 'the client’s bytes that came before the 101');
    assert.equal(t.client.buf, null, 'taken by the tunnel');
    t.browser.write('ping');
    await waitFor(() => atServer.text() === 'early;ping', 'client to server');
    t.realServer.write('pong');
    await waitFor(() => atBrowser.text().endsWith('first-frame;pong'), 'server to client');
    assert.equal(t.server.counters.bytesIn, 4);
    assert.equal(t.server.counters.bytesOut, 4);
    assert.equal(t.rt.state.counters.bytesOut, 4);
  } finally {
    t.cleanUp();
  }
});

test('a clean end of either side is passed on as FIN', async () => {
  const t = await setUp();
  try {
    const atBrowser = collect(t.browser);
    const atServer = collect(t.realServer);
    t.browser.end();
    await waitFor(() => atServer.ended(), 'the client’s FIN at the server');
    t.realServer.end();
    await waitFor(() => atBrowser.ended(), 'the server’s FIN at the client');
    assert.equal(t.destroyed(), 0, 'a clean end is not a cut');
  } finally {
    t.cleanUp();
  }
});

test('halting the server cuts its tunnels; a tunnel that ended is not found again', async () => {
  const t = await setUp();
  try {
    assert.deepEqual([...t.server.tunnels], [t.tunnel]);
    for (const x of [...t.server.tunnels]) x.destroy();
    assert.equal(t.destroyed(), 1, 'the client connection goes, and with it the exchange');
    t.tunnel.forget();
    assert.equal(t.server.tunnels.size, 0);
    t.realServer.resetAndDestroy();
    await waitFor(() => t.destroyed() === 2, 'a server connection reset cuts the client');
  } finally {
    t.cleanUp();
  }
});
