/**
 * The HPACK decoder h2-tap.ts checks fields with (h2-hpack.ts): RFC 7541 Appendix C's examples (with and without
 * Huffman coding, the dynamic table carried across requests), the refusals of §5 and §6, and a differential against
 * nghttp2: real clients' encoders (Node's http2 client, curl and h2load, all nghttp2, with Huffman coding and the dynamic
 * table in use) send requests through a socket that records their bytes to a node:http2 server; every header block
 * decoded here must give exactly the list nghttp2 decoded on the server. Loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { HpackDecoder, HpackError, huffmanDecode } from './h2-hpack.ts';

function decodeAll(d: HpackDecoder, hex: string): string[] {
  const out: string[] = [];
  d.decode(Buffer.from(hex.replace(/\s/g, ''), 'hex'), (n, v) => out.push(`${n}: ${v}`));
  return out;
}

test('RFC 7541 C.3 and C.4: requests without and with Huffman coding, the dynamic table carried across', () => {
  const want = [
    [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com'],
    [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com', 'cache-control: no-cache'],
    [':method: GET', ':scheme: https', ':path: /index.html', ':authority: www.example.com', 'custom-key: custom-value'],
  ];
  const plain = new HpackDecoder();
  const huff = new HpackDecoder();
  assert.deepEqual(decodeAll(plain, '828684410f7777772e6578616d706c652e636f6d'), want[0]);
  assert.deepEqual(decodeAll(plain, '828684be58086e6f2d6361636865'), want[1]);
  assert.deepEqual(decodeAll(plain, '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'), want[2]);
  assert.deepEqual(decodeAll(huff, '828684418cf1e3c2e5f23a6ba0ab90f4ff'), want[0]);
  assert.deepEqual(decodeAll(huff, '828684be5886a8eb10649cbf'), want[1]);
  assert.deepEqual(decodeAll(huff, '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'), want[2]);
});

test('RFC 7541 C.6: responses with Huffman coding and evictions from a 256-byte table', () => {
  const d = new HpackDecoder(256);
  // The table may be set below the announced maximum by an update at the start of a block (§6.3).
  assert.deepEqual(decodeAll(d, '3fe101'), []);
  assert.deepEqual(decodeAll(d, '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3'), [
    ':status: 302',
    'cache-control: private',
    'date: Mon, 21 Oct 2013 20:13:21 GMT',
    'location: https://www.example.com',
  ]);
  assert.deepEqual(decodeAll(d, '4883640effc1c0bf'), [
    ':status: 307',
    'cache-control: private',
    'date: Mon, 21 Oct 2013 20:13:21 GMT',
    'location: https://www.example.com',
  ]);
  assert.deepEqual(
    decodeAll(
      d,
      '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
    ),
    [
      ':status: 200',
      'cache-control: private',
      'date: Mon, 21 Oct 2013 20:13:22 GMT',
      'location: https://www.example.com',
      'content-encoding: gzip',
      'set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
    ],
  );
});

test('refusals: index 0 or past the table, a size update over the limit or after a field, bad Huffman padding, EOS, truncation', () => {
  const bad = ['80', 'be', '3fe21f', '823f01', '4082', '0081ff', '00850000000000', '008fffffffff', '0f', '00ff80808080808080'];
  for (const hex of bad) assert.throws(() => decodeAll(new HpackDecoder(4096), hex), HpackError, hex);
  // Huffman: "a" is 00011, padded with ones; more than 7 bits of padding, or zeros in it, is refused (§5.2).
  assert.equal(huffmanDecode(Buffer.from([0x1f]), 0, 1), 'a');
  assert.throws(() => huffmanDecode(Buffer.from([0x1f, 0xff]), 0, 2), HpackError);
  assert.throws(() => huffmanDecode(Buffer.from([0x18]), 0, 1), HpackError);
  // EOS (30 ones) inside a string.
  assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4), HpackError);
});

/** Header blocks in the client's bytes (after the preface), each with its stream: HEADERS + CONTINUATION. */
function blocks(bytes: Buffer): { stream: number; block: Buffer }[] {
  const out: { stream: number; block: Buffer }[] = [];
  let at = 24;
  let open: { stream: number; parts: Buffer[] } | null = null;
  while (at + 9 <= bytes.length) {
    const len = bytes.readUIntBE(at, 3);
    const type = bytes[at + 3];
    const flags = bytes[at + 4];
    const stream = bytes.readUInt32BE(at + 5) & 0x7fffffff;
    let p = bytes.subarray(at + 9, at + 9 + len);
    at += 9 + len;
    if (type !== 1 && type !== 9) continue;
    if (type === 1) {
      let from = 0;
      let to = p.length;
      if (flags & 0x8) {
        from = 1;
        to -= p[0];
      }
      if (flags & 0x20) from += 5;
      p = p.subarray(from, to);
      open = { stream, parts: [] };
    }
    open!.parts.push(p);
    if (flags & 0x4) {
      out.push({ stream, block: Buffer.concat(open!.parts) });
      open = null;
    }
  }
  return out;
}

test("differential against nghttp2: Node's, curl's and h2load's encoders (Huffman, dynamic table), decoded alike", async () => {
  const nghttp2Lists: string[][] = [];
  const h2 = http2.createServer();
  h2.on('stream', (s: http2.ServerHttp2Stream, _h: unknown, _f: unknown, raw: string[]) => {
    const list: string[] = [];
    for (let i = 0; i < raw.length; i += 2) list.push(`${raw[i]}: ${raw[i + 1]}`);
    nghttp2Lists.push(list);
    s.respond({ ':status': 200 }, { endStream: true });
  });
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  // A relay in front of it records what each client sent (node:http2 reads its own sockets natively).
  const sessions: Buffer[] = [];
  const srv = net.createServer((socket) => {
    const index = sessions.push(Buffer.alloc(0)) - 1;
    const up = net.connect((h2.address() as net.AddressInfo).port, '127.0.0.1');
    socket.on('data', (d) => {
      sessions[index] = Buffer.concat([sessions[index], d]);
      up.write(d);
    });
    up.pipe(socket);
    socket.on('close', () => up.destroy());
    up.on('close', () => socket.destroy());
    socket.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  try {
    // Node's client: repeated fields (indexed from the table after the first), long values (Huffman), cookies.
    const c = http2.connect(`http://127.0.0.1:${port}`);
    for (let i = 0; i < 40; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = c.request({
          ':path': `/p/${i}?q=${'x'.repeat(i * 7)}`,
          'user-agent': 'fulcrum-test/1.0 (like Mozilla/5.0)',
          accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
          'x-count': String(i),
          'x-bytes': Buffer.from(Array.from({ length: 60 }, (_, k) => 0x21 + ((i * 13 + k) % 94))).toString('latin1'),
          cookie: [`a=${i}`, 'b=two', `c=${'z'.repeat(i)}`],
          'x-obs': 'caf\u00e9',
        });
        req.on('response', () => undefined);
        req.on('end', resolve);
        req.on('error', reject);
        req.resume();
        req.end();
      });
    }
    c.close();
    // curl (libcurl over nghttp2), and h2load: five requests on one connection, the table in use.
    const run = (bin: string, args: string[]) => new Promise<void>((resolve, reject) => execFile(bin, args, (err) => (err ? reject(err) : resolve())));
    await run('curl', ['-s', '-o', '/dev/null', '--http2-prior-knowledge', '-H', 'x-curl: one two three', `http://127.0.0.1:${port}/c?d=e`]);
    await run('h2load', ['-n', '5', '-c', '1', '-H', 'x-h2load: one two three', `http://127.0.0.1:${port}/h2load`]);
  } finally {
    srv.close();
    h2.close();
  }
  const ours: string[][] = [];
  for (const bytes of sessions) {
    const d = new HpackDecoder(4096);
    for (const { block } of blocks(bytes)) {
      const list: string[] = [];
      d.decode(block, (n, v) => list.push(`${n}: ${v}`));
      ours.push(list);
    }
  }
  assert.equal(ours.length, 46, 'every request decoded');
  assert.deepEqual(ours, nghttp2Lists);
});
