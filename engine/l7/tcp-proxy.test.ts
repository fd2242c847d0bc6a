/**
 * The tcp mode: tagged echo servers, one scheduling decision per connection.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort, within } from './test-helpers.ts';
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

/** Opens a connection (from `localAddress` if given), sends `data`, returns the first answer and the socket. */
async function talk(port: number, data: string | Buffer, localAddress?: string): Promise<{ answer: string; socket: net.Socket }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  try {
    await within(new Promise((r) => socket.once('connect', r)), `a connection to port ${port}`);
    socket.write(data);
    const answer = await within(
      new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1')))),
      `the first answer on port ${port}`,
    );
    return { answer, socket };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

async function whoAnswers(port: number, data: string | Buffer = 'hi'): Promise<string> {
  const { answer, socket } = await talk(port, data);
  socket.destroy();
  return answer.split(':')[0];
}

function rdpRequest(user: string): Buffer {
  const x224 = Buffer.concat([
    Buffer.from([0, 0xe0, 0, 0, 0, 0, 0]),
    Buffer.from(`Cookie: mstshash=${user}\r\n`, 'latin1'),
    Buffer.from([1, 0, 8, 0, 3, 0, 0, 0]),
  ]);
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
  await within(
    new Promise<void>((resolve) => {
      if (got >= 100_002) return resolve();
      socket.on('data', (d) => {
        got += d.length;
        if (got >= 100_002) resolve();
      });
    }),
    'the 100 kB echo',
  );
  socket.destroy();
  const c = (await dp.counters()).get('tcp')!;
  assert.equal(c.service.totalConnections, 5);
  assert.ok(c.service.bytesIn >= 100_008);
});

test('RDP cookie persistence: the same user goes back to the same server', async () => {
  const port = await freePort();
  await dp.apply({ config: config([tcpService('rdp', port, { persistence: { type: 'rdp-cookie' } })]), decisions: new Map() });
  // An order round robin would break: per connection it answers a b a b a b a, so alice's second connection (and
  // every user's repeat) would move. Persistence consults round robin only for a user it has not seen: alice → a,
  // bob → b, and both stay. The user name is matched without regard to case.
  const users = ['alice', 'alice', 'bob', 'alice', 'bob', 'bob', 'ALICE'];
  let seq = '';
  for (const user of users) seq += await whoAnswers(port, rdpRequest(user));
  assert.equal(seq, 'aababba');
  // Without a cookie there is nothing to stick to: round robin, which two new users moved on by two.
  assert.equal(await whoAnswers(port, 'no cookie here'), 'a');
  assert.equal(await whoAnswers(port, 'no cookie here'), 'b');
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
  await within(closed, "the halted server's tunnel to close");
  assert.notEqual(await whoAnswers(port), first, 'halted: the persistent client moves');

  const pport = await freePort();
  await dp.apply({ config: config([tcpService('pp', pport, { layer7: { proxyProtocol: 'v1' } })]), decisions: new Map() });
  const { answer, socket } = await talk(pport, 'data');
  socket.destroy();
  assert.match(answer, /^a:PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\n/);
});

/**
 * A real server that expects a PROXY v2 header (proxy-protocol.ts has the layout) and parses it: it answers with
 * what it read as one JSON line, then echoes every byte that came after the header. Anything else ends the
 * connection with "bad:<reason>".
 */
async function proxyV2Server() {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let buf: Buffer | null = Buffer.alloc(0);
    s.on('data', (d) => {
      if (buf === null) return void s.write(d);
      buf = Buffer.concat([buf, d]);
      if (buf.length < 16) return;
      const len = buf.readUInt16BE(14);
      if (buf.length < 16 + len) return;
      const b = buf;
      buf = null;
      if (b.toString('hex', 0, 12) !== '0d0a0d0a000d0a515549540a') return void s.end('bad:signature');
      if (b[12] !== 0x21) return void s.end(`bad:version/command ${b[12].toString(16)}`);
      const family = b[13];
      let src: string, dst: string, ports: number;
      if (family === 0x11 && len >= 12) {
        src = [...b.subarray(16, 20)].join('.');
        dst = [...b.subarray(20, 24)].join('.');
        ports = 24;
      } else if (family === 0x21 && len >= 36) {
        const v6 = (at: number) => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(at + i * 2).toString(16)).join(':');
        src = v6(16);
        dst = v6(32);
        ports = 48;
      } else return void s.end(`bad:family ${family.toString(16)} length ${len}`);
      s.write(`${JSON.stringify({ family, len, src, dst, srcPort: b.readUInt16BE(ports), dstPort: b.readUInt16BE(ports + 2) })}\n`);
      if (b.length > 16 + len) s.write(b.subarray(16 + len));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

/** Connects (from `localAddress` if given), sends `data`, and reads until the answer ends with `tail`. */
async function readUntil(port: number, host: string, data: string, tail: string, localAddress?: string): Promise<{ text: string; socket: net.Socket }> {
  const socket = net.connect({ port, host, localAddress });
  socket.on('error', () => undefined);
  let text = '';
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => socket.write(data));
        socket.on('data', (d) => {
          text += d.toString('latin1');
          if (text.endsWith(tail)) resolve();
        });
        socket.once('close', () => reject(new Error(`closed after ${JSON.stringify(text)}`)));
      }),
      `an answer ending ${JSON.stringify(tail)} on [${host}]:${port}`,
    );
  } catch (err) {
    socket.destroy();
    throw new Error(`${(err as Error).message}; got ${JSON.stringify(text)}`);
  }
  return { text, socket };
}

test("PROXY v2 in tcp mode: the real server reads the client's and the listener's address and port, then the stream", async () => {
  const server = await proxyV2Server();
  const serverPort = (server.address() as net.AddressInfo).port;
  const sockets: net.Socket[] = [];
  try {
    const port = await freePort();
    const realServers = [{ name: 'v2', address: '127.0.0.1', port: serverPort }];
    await dp.apply({ config: config([tcpService('ppv2', port, { realServers, layer7: { proxyProtocol: 'v2' } })]), decisions: new Map() });
    // From 127.0.0.2 to 127.0.0.1, so a source and destination swapped in the header would show.
    const v4 = await readUntil(port, '127.0.0.1', 'hello', '\nhello', '127.0.0.2');
    sockets.push(v4.socket);
    const [line, rest] = v4.text.split('\n');
    assert.deepEqual(JSON.parse(line), { family: 0x11, len: 12, src: '127.0.0.2', dst: '127.0.0.1', srcPort: v4.socket.localPort, dstPort: port });
    // The header went once, before the client's first byte: the stream after it is exactly what the client sent.
    assert.equal(rest, 'hello');
    const echoed = within(new Promise<string>((resolve) => v4.socket.once('data', (d) => resolve(d.toString('latin1')))), 'the echo after the header');
    v4.socket.write('again');
    assert.equal(await echoed, 'again');

    // IPv6: a listener on ::1 sends the 36-byte address block. Only ::1 exists here, so source and destination
    // addresses are equal; their order is proven by the IPv4 case above, the ports' order by both.
    const port6 = await freePort();
    await dp.apply({ config: config([tcpService('ppv2-6', port6, { address: '::1', realServers, layer7: { proxyProtocol: 'v2' } })]), decisions: new Map() });
    const v6 = await readUntil(port6, '::1', 'six', '\nsix');
    sockets.push(v6.socket);
    assert.deepEqual(JSON.parse(v6.text.split('\n')[0]), {
      family: 0x21,
      len: 36,
      src: '0:0:0:0:0:0:0:1',
      dst: '0:0:0:0:0:0:0:1',
      srcPort: v6.socket.localPort,
      dstPort: port6,
    });
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test('an open tunnel lives through reloads that change its service, and ends only with its sockets', async () => {
  const port = await freePort();
  await dp.apply({ config: config([tcpService('live', port)]), decisions: new Map() });
  const { answer, socket } = await talk(port, 'one');
  assert.match(answer, /^[ab]:one$/);
  await dp.apply({ config: config([tcpService('live', port, { scheduler: 'wrr', description: 'changed' })]), decisions: new Map() });
  await dp.apply({ config: config([tcpService('live', port, { scheduler: 'lc' })]), decisions: new Map() });
  socket.write('two');
  const again = await within(new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString('latin1')))), 'the echo after two reloads');
  assert.equal(again, `${answer[0]}:two`);
  socket.destroy();
});

test('close() cuts every tunnel left, also one whose listener an earlier reload closed', async () => {
  const own = createL7DataPlane({ dataDir: `/tmp/fulcrum-l7-tcp-close-${process.pid}`, workers: 0, closeGraceMs: 100 });
  const sockets: net.Socket[] = [];
  try {
    const [port1, port2] = [await freePort(), await freePort()];
    await own.apply({ config: config([tcpService('moved', port1)]), decisions: new Map() });
    const kept = await talk(port1, 'one');
    sockets.push(kept.socket);
    // The service moves: the listener the tunnel came in on is closed, the tunnel is not (the test above).
    await own.apply({ config: config([tcpService('moved', port2)]), decisions: new Map() });
    const current = await talk(port2, 'two');
    sockets.push(current.socket);
    const closed = sockets.map((s) => new Promise((r) => (s.destroyed ? r(undefined) : s.once('close', r))));
    const echoed = within(new Promise<string>((resolve) => kept.socket.once('data', (d) => resolve(d.toString('latin1')))), 'the echo after the move');
    kept.socket.write('three');
    assert.equal(await echoed, `${kept.answer[0]}:three`);
    await own.close();
    // close() lets requests finish for closeGraceMs, then cuts what is left, wherever it came in.
    await within(Promise.all(closed), 'close() to cut both tunnels', 5_000);
  } finally {
    for (const s of sockets) s.destroy();
    await own.close();
  }
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
  await within(new Promise((r) => c.once('connect', r)), 'the connection');
  c.write('go');
  // The stream lasts ~600 ms and the tunnel then 300 ms more; a tunnel that never times out fails here.
  await within(new Promise((r) => c.once('close', r)), 'the tunnel timeout to close the tunnel', 15_000);
  // 20 ticks 30 ms apart span twice the tunnel timeout; only the client wrote once, at the start.
  assert.ok(got.includes('tick 20;'), `the whole stream arrived before the tunnel closed: ${got.slice(-40)}`);
  talker.close();
});

test('a tunnel carries every byte value unchanged both ways, also past the kernel buffers (writes that must wait)', async () => {
  // Raw echo: the real server returns exactly what it reads. The chunks are written on as latin1 strings, so
  // every value 0-255 must survive, and 4 MiB at once fills the socket buffers so some writes wait in libuv.
  const mirror = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  const port = await freePort();
  await dp.apply({
    config: config([tcpService('bytes', port, { realServers: [{ name: 'm', address: '127.0.0.1', port: (mirror.address() as net.AddressInfo).port }] })]),
    decisions: new Map(),
  });
  const sent = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < sent.length; i++) sent[i] = (i * 131 + (i >> 8)) & 0xff;
  const c = net.connect({ port, host: '127.0.0.1' });
  c.on('error', () => undefined);
  const parts: Buffer[] = [];
  let got = 0;
  const all = new Promise<void>((resolve) =>
    c.on('data', (d) => {
      parts.push(d);
      got += d.length;
      if (got >= sent.length) resolve();
    }),
  );
  await within(new Promise((r) => c.once('connect', r)), 'the connection');
  c.write(sent);
  await within(all, 'the 4 MiB echo', 30_000);
  c.destroy();
  mirror.close();
  const back = Buffer.concat(parts);
  assert.equal(back.length, sent.length);
  assert.ok(back.equals(sent), 'the bytes came back unchanged');
});
