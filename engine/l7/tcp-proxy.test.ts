/**
 * The tcp mode: tagged echo servers, one scheduling decision per connection.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort } from './test-helpers.ts';
import type { VirtualServiceInput } from '../config/index.ts';
import { decideServer } from '../server-state.ts';
import type { ServerKey } from '../dataplane.ts';

let dp: L7DataPlane;
const echoes: { name: string; port: number; server: net.Server; sockets: Set<net.Socket> }[] = [];

async function echo(name: string) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => s.write(`${name}:${d.toString('latin1')}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const e = { name, port: (server.address() as net.AddressInfo).port, server, sockets };
  echoes.push(e);
  return e;
}

before(async () => {
  dp = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-tcp-${process.pid}`, workers: 0, closeGraceMs: 200 });
  await echo('a');
  await echo('b');
});

after(async () => {
  await dp.close();
  for (const e of echoes) {
    for (const s of e.sockets) s.destroy();
    e.server.close();
  }
});

const tcpService = (name: string, port: number, more: Partial<VirtualServiceInput> = {}): VirtualServiceInput => ({
  name,
  layer: 7,
  mode: 'tcp',
  address: '127.0.0.1',
  ports: [port],
  scheduler: 'rr',
  healthCheck: { type: 'none' },
  realServers: echoes.map((e) => ({ name: e.name, address: '127.0.0.1', port: e.port })),
  ...more,
});

/** Opens a connection, sends `data`, returns the first answer and the socket. */
async function talk(port: number, data: string | Buffer): Promise<{ answer: string; socket: net.Socket }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  socket.write(data);
  const answer = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1'))));
  return { answer, socket };
}

async function whoAnswers(port: number, data: string | Buffer = 'hi'): Promise<string> {
  const { answer, socket } = await talk(port, data);
  socket.destroy();
  return answer.split(':')[0];
}

function rdpRequest(user: string): Buffer {
  const x224 = Buffer.concat([Buffer.from([0, 0xe0, 0, 0, 0, 0, 0]), Buffer.from(`Cookie: mstshash=${user}\r\n`, 'latin1'), Buffer.from([1, 0, 8, 0, 3, 0, 0, 0])]);
  x224[0] = x224.length - 1;
  const tpkt = Buffer.concat([Buffer.from([3, 0, 0, 0]), x224]);
  tpkt.writeUInt16BE(tpkt.length, 2);
  return tpkt;
}

test('tcp mode: round robin per connection, bytes both ways, counters', async () => {
  const port = await freePort();
  assert.equal((await dp.apply({ config: config([tcpService('tcp', port)]), decisions: new Map() }))[0].status, 'programmed');
  let seq = '';
  for (let i = 0; i < 4; i++) seq += await whoAnswers(port);
  assert.equal(seq, 'abab');
  const { answer, socket } = await talk(port, 'x'.repeat(100_000));
  let got = answer.length;
  await new Promise<void>((resolve) => {
    if (got >= 100_002) return resolve();
    socket.on('data', (d) => {
      got += d.length;
      if (got >= 100_002) resolve();
    });
  });
  socket.destroy();
  const c = (await dp.counters()).get('tcp')!;
  assert.equal(c.service.totalConnections, 5);
  assert.ok(c.service.bytesIn >= 100_008);
});

test('RDP cookie persistence: the same user goes back to the same server', async () => {
  const port = await freePort();
  await dp.apply({ config: config([tcpService('rdp', port, { persistence: { type: 'rdp-cookie' } })]), decisions: new Map() });
  const alice = await whoAnswers(port, rdpRequest('alice'));
  const bob = await whoAnswers(port, rdpRequest('bob'));
  assert.notEqual(alice, bob, 'round robin placed the two users apart');
  for (let i = 0; i < 3; i++) {
    assert.equal(await whoAnswers(port, rdpRequest('alice')), alice);
    assert.equal(await whoAnswers(port, rdpRequest('bob')), bob);
  }
});

test('source-IP persistence in tcp mode, PROXY v1 preface, and halt cuts open tunnels', async () => {
  const port = await freePort();
  const vs = tcpService('sticky', port, { persistence: { type: 'source-ip', timeoutSeconds: 30 } });
  await dp.apply({ config: config([vs]), decisions: new Map() });
  const first = await whoAnswers(port);
  for (let i = 0; i < 3; i++) assert.equal(await whoAnswers(port), first);
  const open = await talk(port, 'x');
  const closed = new Promise((r) => open.socket.once('close', r));
  await dp.apply({ config: config([vs]), decisions: new Map([[`sticky/${first}` as ServerKey, decideServer('halt', 'up', 100)]]) });
  await closed;
  assert.notEqual(await whoAnswers(port), first, 'halted: the persistent client moves');

  const pport = await freePort();
  await dp.apply({ config: config([tcpService('pp', pport, { layer7: { proxyProtocol: 'v1' } })]), decisions: new Map() });
  const { answer, socket } = await talk(pport, 'data');
  socket.destroy();
  assert.match(answer, /^a:PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\n/);
});

test('an open tunnel lives through reloads that change its service, and ends only with its sockets', async () => {
  const port = await freePort();
  await dp.apply({ config: config([tcpService('live', port)]), decisions: new Map() });
  const { answer, socket } = await talk(port, 'one');
  assert.match(answer, /^[ab]:one$/);
  await dp.apply({ config: config([tcpService('live', port, { scheduler: 'wrr', description: 'changed' })]), decisions: new Map() });
  await dp.apply({ config: config([tcpService('live', port, { scheduler: 'lc' })]), decisions: new Map() });
  socket.write('two');
  const again = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1'))));
  assert.equal(again, `${answer[0]}:two`);
  socket.destroy();
});

test('the tunnel timeout counts silence in both directions: a one-way stream keeps the tunnel, silence ends it', async () => {
  // A server that, once asked, talks for a while without reading anything more, then falls silent.
  const talker = net.createServer((s) => {
    s.once('data', () => {
      let n = 0;
      const every = setInterval(() => {
        if (s.destroyed || ++n > 20) return clearInterval(every);
        s.write(`tick ${n};`);
      }, 30);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => talker.listen(0, '127.0.0.1', r));
  const port = await freePort();
  await dp.apply({
    config: config([
      tcpService('oneway', port, {
        realServers: [{ name: 't', address: '127.0.0.1', port: (talker.address() as net.AddressInfo).port }],
        layer7: { timeouts: { tunnelMs: 300 } },
      }),
    ]),
    decisions: new Map(),
  });
  const c = net.connect({ port, host: '127.0.0.1' });
  c.on('error', () => undefined);
  let got = '';
  c.on('data', (d) => (got += d.toString('latin1')));
  await new Promise((r) => c.once('connect', r));
  c.write('go');
  await new Promise((r) => c.once('close', r));
  // 20 ticks 30 ms apart span twice the tunnel timeout; only the client wrote once, at the start.
  assert.ok(got.includes('tick 20;'), `the whole stream arrived before the tunnel closed: ${got.slice(-40)}`);
  talker.close();
});
