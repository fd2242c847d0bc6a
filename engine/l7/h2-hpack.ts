/**
 * An HPACK decoder (RFC 7541) for one direction of one HTTP/2 connection, used only to look at what a client sent:
 * node:http2 (nghttp2) still decodes every header block itself and does all the framing. It exists because node:http2
 * drops a field whose name or value HTTP/2 forbids (Node's on_invalid_header callback ignores it) and serves the
 * request without it, where RFC 9113 §8.2.1 makes the request malformed; the proxy cannot learn of the drop from what
 * node:http2 hands it, so h2-tap.ts decodes the same blocks alongside it (same bytes, same order, same table size)
 * and sees every field as sent.
 *
 *   indexed                 1xxxxxxx  index (7-bit prefix)                           §6.1
 *   literal, indexed        01xxxxxx  name index (6) or 0 + name, value; table gets it  §6.2.1
 *   table size update       001xxxxx  new size (5)                                      §6.3
 *   literal, not indexed    0000xxxx  name index (4) or 0 + name, value              §6.2.2
 *   literal, never indexed  0001xxxx  the same                                          §6.2.3
 *   string                  H | length (7), then octets (Huffman-coded when H)         §5.2
 *
 * Refuses (HpackError, a COMPRESSION_ERROR for the connection, §4.3): index 0 or past the table, an integer over
 * 2^28, a string past the block, a table size over the maximum, a size update after a field, Huffman padding longer
 * than 7 bits or not all ones, the EOS symbol inside a string.
 */

export class HpackError extends Error {}

/** RFC 7541 Appendix A: entries 1–61. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * RFC 7541 Appendix B: the code length in bits of each symbol 0–255 and EOS (256). The code is canonical (codes of
 * one length are consecutive, in symbol order, after the shorter ones), so the lengths define it; h2-hpack.test.ts
 * checks the codes built from them against the appendix's own examples and against nghttp2's encoder.
 */
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11,
  10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7,
  8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23,
  22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23,
  23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26,
  27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27,
  27, 27, 26, 30,
];
const EOS = 256;
const MAX_BITS = 30;
/** Codes this long or shorter are found by one look-up of the next PEEK bits; longer ones by length (rare bytes). */
const PEEK = 9;

/** The canonical code: per length, the first code and where its symbols start in SORTED. */
const { SORTED, FIRST, COUNT, START, FAST } = (() => {
  const sorted = [...LENGTHS.keys()].sort((a, b) => LENGTHS[a] - LENGTHS[b] || a - b);
  const first = new Array<number>(MAX_BITS + 1).fill(0);
  const count = new Array<number>(MAX_BITS + 1).fill(0);
  const start = new Array<number>(MAX_BITS + 1).fill(0);
  for (const s of sorted) count[LENGTHS[s]]++;
  let code = 0;
  let at = 0;
  for (let len = 1; len <= MAX_BITS; len++) {
    first[len] = code;
    start[len] = at;
    code = (code + count[len]) * 2;
    at += count[len];
  }
  // FAST[next PEEK bits] = symbol << 5 | length for codes of at most PEEK bits, else 0 (look by length).
  const fast = new Uint16Array(1 << PEEK);
  for (let len = 1; len <= PEEK; len++) {
    for (let k = 0; k < count[len]; k++) {
      const from = (first[len] + k) << (PEEK - len);
      fast.fill((sorted[start[len] + k] << 5) | len, from, from + (1 << (PEEK - len)));
    }
  }
  return { SORTED: sorted, FIRST: first, COUNT: count, START: start, FAST: fast };
})();

const POW2 = Array.from({ length: 54 }, (_, i) => 2 ** i);
let scratch = Buffer.allocUnsafe(4096);

/** The Huffman-coded octets buf[from, to) as a latin1 string (§5.2). */
export function huffmanDecode(buf: Buffer, from: number, to: number): string {
  // Every symbol is at least 5 bits: the output is at most 8/5 of the input.
  if (scratch.length < ((to - from) * 8) / 5 + 1) scratch = Buffer.allocUnsafe(Math.ceil(((to - from) * 8) / 5) + 64);
  const out = scratch;
  let n = 0;
  // acc holds `bits` unread bits (at most 39: a Number, not an int32, so no shift can lose one).
  let acc = 0;
  let bits = 0;
  let i = from;
  for (;;) {
    while (bits < 32 && i < to) {
      acc = acc * 256 + buf[i++];
      bits += 8;
    }
    if (bits === 0) break;
    let sym = -1;
    let len = 0;
    // The next PEEK bits (padded with ones at the end, as the padding itself is).
    const peek = bits >= PEEK ? Math.floor(acc / POW2[bits - PEEK]) : acc * POW2[PEEK - bits] + POW2[PEEK - bits] - 1;
    const f = FAST[peek];
    if (f !== 0) {
      len = f & 31;
      if (len <= bits) sym = f >> 5;
    } else {
      for (let l = PEEK + 1; l <= MAX_BITS && l <= bits; l++) {
        const k = Math.floor(acc / POW2[bits - l]) - FIRST[l];
        if (k >= 0 && k < COUNT[l]) {
          sym = SORTED[START[l] + k];
          len = l;
          break;
        }
      }
    }
    if (sym === -1) break;
    if (sym === EOS) throw new HpackError('the EOS symbol inside a Huffman-coded string');
    out[n++] = sym;
    bits -= len;
    acc %= POW2[bits];
  }
  // What is left must be the padding: fewer than 8 bits, all ones (the EOS code's first bits).
  if (bits > 7 || acc !== POW2[bits] - 1) throw new HpackError('bad Huffman padding');
  return out.toString('latin1', 0, n);
}

interface Entry {
  name: string;
  value: string;
  size: number;
}

export class HpackDecoder {
  /** The newest first (index 62). */
  private readonly table: Entry[] = [];
  private size = 0;
  private maxSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE as this side announced it: no size update may go above it. */
  private readonly limit: number;
  private pos = 0;

  constructor(limit = 4096) {
    this.limit = limit;
    this.maxSize = limit;
  }

  /** Decodes one complete header block, giving each field to `field` in order. Throws HpackError. */
  decode(block: Buffer, field: (name: string, value: string) => void): void {
    this.pos = 0;
    let isStart = true;
    while (this.pos < block.length) {
      const b = block[this.pos];
      if (b & 0x80) {
        const e = this.entry(this.int(block, 7));
        field(e[0], e[1]);
      } else if (b & 0x40) {
        const [name, value] = this.literal(block, 6);
        this.insert(name, value);
        field(name, value);
      } else if (b & 0x20) {
        // §4.2: size updates come first in a block.
        if (!isStart) throw new HpackError('a dynamic table size update after a field');
        const size = this.int(block, 5);
        if (size > this.limit) throw new HpackError(`a dynamic table size of ${size}, over ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        const [name, value] = this.literal(block, 4);
        field(name, value);
      }
      isStart = false;
    }
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC.length) return STATIC[index - 1];
    const e = this.table[index - STATIC.length - 1];
    if (e === undefined) throw new HpackError(`index ${index} past the table`);
    return [e.name, e.value];
  }

  private literal(block: Buffer, prefix: number): [string, string] {
    const index = this.int(block, prefix);
    const name = index === 0 ? this.string(block) : this.entry(index)[0];
    return [name, this.string(block)];
  }

  /** An integer with a `prefix`-bit prefix at pos (§5.1). */
  private int(block: Buffer, prefix: number): number {
    const max = (1 << prefix) - 1;
    let n = block[this.pos++] & max;
    if (n < max) return n;
    let shift = 0;
    for (;;) {
      if (this.pos >= block.length) throw new HpackError('an integer past the block');
      const b = block[this.pos++];
      n += (b & 0x7f) * POW2[shift];
      shift += 7;
      if (n > 2 ** 28 || shift > 35) throw new HpackError('an integer over 2^28');
      if ((b & 0x80) === 0) return n;
    }
  }

  private string(block: Buffer): string {
    if (this.pos >= block.length) throw new HpackError('a string past the block');
    const isHuffman = (block[this.pos] & 0x80) !== 0;
    const len = this.int(block, 7);
    const from = this.pos;
    if (from + len > block.length) throw new HpackError('a string past the block');
    this.pos += len;
    return isHuffman ? huffmanDecode(block, from, from + len) : block.toString('latin1', from, from + len);
  }

  /** §4.4: an entry larger than the table empties it and is not added. */
  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.evict(size);
    if (size > this.maxSize) return;
    this.table.unshift({ name, value, size });
    this.size += size;
  }

  private evict(room: number): void {
    while (this.table.length > 0 && this.size + room > this.maxSize) this.size -= this.table.pop()!.size;
  }
}
