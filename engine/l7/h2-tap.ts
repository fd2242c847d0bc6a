/**
 * What stands between an HTTP/2 client's socket and node:http2: a Duplex that passes every byte through unchanged and,
 * on the way in, reads the frames' headers and decodes each header block (h2-hpack.ts) to check its fields by RFC 9113
 * §8.2.1, before nghttp2 gets the same bytes. A stream whose request or trailers carry a field HTTP/2 forbids is
 * marked malformed (with the reason); h2-session.ts and h2-exchange.ts reset such a stream (PROTOCOL_ERROR) before
 * anything of it is forwarded.
 *
 * Why: nghttp2 refuses these fields itself, but node:http2 registers an on_invalid_header callback that ignores them
 * (node_http2.cc, "we are intentionally being more lenient"), so the field is dropped and the rest of the request
 * served; the proxy, seeing only what was kept, could not tell. A dropped Content-Length, Authorization or Host is a
 * different request from the one sent. Node gives no hook into its native reads, so the check needs the bytes in
 * JavaScript: node:http2 then reads through its JS stream wrapper instead of the socket's handle, which is what this
 * costs (measured in bench `l7-h2:`).
 *
 *   frame = length (24) | type (8) | flags (8) | R | stream id (31) | payload          §4.1
 *   HEADERS payload = [pad length (8)] [E | dependency (31) | weight (8)] fragment [padding]   §6.2
 *   a block = HEADERS fragment + CONTINUATION fragments on the same stream, until END_HEADERS  §6.10
 *
 * A connection the tap cannot follow (a block that does not decode, a frame over SETTINGS_MAX_FRAME_SIZE, a HEADERS
 * frame whose padding exceeds it, CONTINUATION out of place, a block of more than 16 frames) is a connection error for
 * nghttp2 as well; the tap stops, passes nothing more on, and calls onBroken: the session goes with GOAWAY.
 */
import { Duplex } from 'node:stream';
import type net from 'node:net';
import { HpackDecoder, HpackError } from './h2-hpack.ts';

const PREFACE_LENGTH = 24;
const HEADERS = 1;
const CONTINUATION = 9;
const GOAWAY = 7;
const RST_STREAM = 3;
const INTERNAL_ERROR = 2;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** node:http2's SETTINGS_MAX_FRAME_SIZE (the default, never raised here). */
const MAX_FRAME = 16_384;
/** nghttp2 ends a connection after 8 CONTINUATION frames in a row (its CVE-2024-27983 fix); a little more here. */
const MAX_BLOCK_FRAMES = 16;
/** Malformed streams remembered at once. */
const MAX_MARKS = 1024;
/** How long a closing connection may take to flush what it still holds. */
const FLUSH_MS = 2000;

/** Lower-case tchar (RFC 9110 §5.6.2): what an HTTP/2 field name may hold (§8.2.1 forbids upper case). */
const NAME_BYTE = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_BYTE[c.charCodeAt(0)] = 1;
/** What a Host field may hold (RFC 3986 authority: unreserved, sub-delims, ":", "@", "[", "]", "%"), as nghttp2 checks. */
const AUTHORITY_BYTE = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@[]%") AUTHORITY_BYTE[c.charCodeAt(0)] = 1;

function hex(c: number): string {
  return `0x${c.toString(16).padStart(2, '0')}`;
}

/**
 * Why a field makes a request malformed, or null. Accepts what RFC 9113 §8.2.1 accepts and, like the HTTP/1.1 codec,
 * also refuses the other control characters and DEL (RFC 9110 §5.5: field-vchar). Pseudo-fields are left to nghttp2,
 * which resets the stream itself for a bad one (§8.3).
 */
export function fieldProblem(name: string, value: string): string | null {
  if (name.length === 0) return 'a field with an empty name (RFC 9113 §8.2.1)';
  if (name.charCodeAt(0) === 58) return null;
  const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (NAME_BYTE[c] === 0) {
      const what = c >= 65 && c <= 90 ? 'an upper-case letter' : `the byte ${hex(c)}`;
      return `the field name ${shown} has ${what}, which HTTP/2 forbids in a name (RFC 9113 §8.2.1)`;
    }
  }
  const n = value.length;
  if (n > 0) {
    const first = value.charCodeAt(0);
    const last = value.charCodeAt(n - 1);
    if (first === 32 || first === 9 || last === 32 || last === 9) return `the value of ${shown} starts or ends with whitespace (RFC 9113 §8.2.1)`;
  }
  const isHost = name === 'host';
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if ((c < 32 && c !== 9) || c === 127) {
      const what = c === 0 ? 'NUL' : c === 10 ? 'LF' : c === 13 ? 'CR' : `the control character ${hex(c)}`;
      return `the value of ${shown} has ${what} (RFC 9113 §8.2.1, RFC 9110 §5.5)`;
    }
    if (isHost && AUTHORITY_BYTE[c] === 0) return `the Host field has the byte ${hex(c)}, which no authority has (RFC 3986 §3.2)`;
  }
  return null;
}

export class FieldTap extends Duplex {
  /** Streams whose header blocks (request or trailers) had a forbidden field: id → reason. */
  readonly malformed = new Map<number, string>();
  /** Streams the client reset (RST_STREAM): id → error code; h2-session.ts takes each when its stream closes. */
  readonly clientResets = new Map<number, number>();
  /** Streams whose HEADERS came but node:http2 has not announced (h2-session.ts takes each as it is announced). */
  readonly unannounced = new Set<number>();
  /** Told of each RST_STREAM going out to the client (stream, error code): the proxy's resets (h2-resets.ts). */
  onReset: ((stream: number, code: number) => void) | null = null;
  /** Why the tap stopped following the connection, or null. */
  brokenReason: string | null = null;
  private readonly socket: net.Socket;
  private readonly decoder: HpackDecoder;
  private readonly onBroken: (reason: string, isCompression: boolean) => void;
  private preface = PREFACE_LENGTH;
  /** Payload bytes of a frame that is not a header block, still to pass by. */
  private skip = 0;
  /** An incomplete frame header or header-block frame carried over from the last read (a copy). */
  private rest: Buffer | null = null;
  /** The stream whose block is open (HEADERS without END_HEADERS), and its fragments (copies). */
  private blockStream = 0;
  private parts: Buffer[] = [];
  /** The last stream node:http2 announced (h2-session.ts sets it): a GOAWAY the tap writes names it. */
  lastStream = 0;
  /** The highest stream a HEADERS frame opened: a later HEADERS on a lower one is trailers. */
  private lastOpened = 0;
  /** Outgoing: payload bytes still to pass, the head of a frame split between writes, whether GOAWAY went out. */
  private outSkip = 0;
  private outRest: Buffer | null = null;
  private hasSentGoaway = false;

  constructor(socket: net.Socket, onBroken: (reason: string, isCompression: boolean) => void) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    this.onBroken = onBroken;
    // SETTINGS_HEADER_TABLE_SIZE: node:http2's default, 4096, is what the session announces (h2-session.ts sets none).
    this.decoder = new HpackDecoder(4096);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
  }

  private onData(d: Buffer): void {
    if (this.brokenReason !== null) return;
    this.scan(d);
    if (this.brokenReason !== null) {
      this.socket.pause();
      return;
    }
    if (!this.push(d)) this.socket.pause();
  }

  override _read(): void {
    if (this.brokenReason === null) this.socket.resume();
  }

  // A write is done for node:http2 once the socket has taken it (its own buffer holds it), so nothing waits here
  // when the session is destroyed right after a GOAWAY; a full socket holds node:http2 back until it drains.
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.watchOut(chunk);
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.socket.cork();
    let isFull = false;
    for (const c of chunks) {
      this.watchOut(c.chunk);
      isFull = !this.socket.write(c.chunk);
    }
    this.socket.uncork();
    if (!isFull) cb();
    else this.socket.once('drain', () => cb());
  }

  /**
   * node:http2 completes each write to a JS stream one turn of the loop later and writes nothing while one is
   * pending, so the GOAWAY nghttp2 queues when it ends a connection on a protocol error (after the RST_STREAMs of
   * its open streams) never leaves it. Ending without one, the tap sends the GOAWAY nghttp2 sends over a socket's
   * handle: INTERNAL_ERROR, naming the last stream it processed.
   */
  override _final(cb: (err?: Error | null) => void): void {
    const s = this.socket;
    if (!this.hasSentGoaway && this.preface === 0 && !s.destroyed) {
      const g = Buffer.alloc(17);
      g.writeUIntBE(8, 0, 3);
      g[3] = GOAWAY;
      g.writeUInt32BE(this.lastStream & 0x7fffffff, 9);
      g.writeUInt32BE(INTERNAL_ERROR, 13);
      s.write(g);
    }
    s.end();
    cb();
  }

  /** What the socket still holds (a GOAWAY, the last DATA) goes out first; a client that takes none of it is cut. */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const s = this.socket;
    if (s.writableLength === 0 || s.destroyed) s.destroy();
    else {
      s.end();
      s.once('finish', () => s.destroy());
      setTimeout(() => s.destroy(), FLUSH_MS).unref();
    }
    cb(err);
  }

  /** Follows the frames node:http2 writes, only to know whether a GOAWAY went out (most writes hold whole frames). */
  private watchOut(chunk: Buffer): void {
    if (this.hasSentGoaway) return;
    const buf = this.outRest === null ? chunk : Buffer.concat([this.outRest, chunk]);
    this.outRest = null;
    let at = 0;
    while (at < buf.length) {
      if (this.outSkip > 0) {
        const n = Math.min(this.outSkip, buf.length - at);
        this.outSkip -= n;
        at += n;
        continue;
      }
      if (buf.length - at < 9) {
        this.outRest = Buffer.from(buf.subarray(at));
        return;
      }
      const type = buf[at + 3];
      if (type === GOAWAY) {
        this.hasSentGoaway = true;
        return;
      }
      if (type === RST_STREAM && buf.length - at >= 13) this.onReset?.(buf.readUInt32BE(at + 5) & 0x7fffffff, buf.readUInt32BE(at + 9));
      this.outSkip = buf.readUIntBE(at, 3);
      at += 9;
    }
  }

  /** Reads the frames in `chunk` (after what the last read left); header blocks are checked as they complete. */
  private scan(chunk: Buffer): void {
    const buf = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = null;
    let at = 0;
    if (this.preface > 0) {
      at = Math.min(this.preface, buf.length);
      this.preface -= at;
    }
    while (at < buf.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, buf.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      if (buf.length - at < 9) break;
      const length = buf.readUIntBE(at, 3);
      const type = buf[at + 3];
      if (length > MAX_FRAME) return this.broken(`a frame of ${length} bytes, over SETTINGS_MAX_FRAME_SIZE ${MAX_FRAME}`, false);
      if (type !== HEADERS && type !== CONTINUATION) {
        if (this.blockStream !== 0) return this.broken('a frame inside a header block (RFC 9113 §6.10)', false);
        if (type === RST_STREAM && length === 4) {
          if (buf.length - at < 13) break;
          this.note(this.clientResets, buf.readUInt32BE(at + 5) & 0x7fffffff, buf.readUInt32BE(at + 9));
        }
        this.skip = length;
        at += 9;
        continue;
      }
      if (buf.length - at < 9 + length) break;
      this.headerFrame(type, buf[at + 4], buf.readUInt32BE(at + 5) & 0x7fffffff, buf.subarray(at + 9, at + 9 + length));
      if (this.brokenReason !== null) return;
      at += 9 + length;
    }
    if (at < buf.length) this.rest = Buffer.from(buf.subarray(at));
  }

  private headerFrame(type: number, flags: number, stream: number, payload: Buffer): void {
    let fragment = payload;
    if (type === HEADERS) {
      if (this.blockStream !== 0) return this.broken('HEADERS inside a header block (RFC 9113 §6.10)', false);
      if (stream === 0) return this.broken('HEADERS on stream 0 (RFC 9113 §6.2)', false);
      let from = 0;
      let to = payload.length;
      if (flags & PADDED) {
        from = 1;
        to -= payload.length > 0 ? payload[0] : 1;
      }
      if (flags & PRIORITY) from += 5;
      if (from > to) return this.broken('HEADERS whose padding or priority exceeds its length (RFC 9113 §6.2)', false);
      fragment = payload.subarray(from, to);
      if (stream > this.lastOpened) {
        this.lastOpened = stream;
        if (this.unannounced.size >= MAX_MARKS) this.unannounced.delete(this.unannounced.values().next().value!);
        this.unannounced.add(stream);
      }
      if (flags & END_HEADERS) return this.check(stream, fragment);
      this.blockStream = stream;
      this.parts = [Buffer.from(fragment)];
      return;
    }
    if (this.blockStream === 0 || stream !== this.blockStream) return this.broken('CONTINUATION without its HEADERS (RFC 9113 §6.10)', false);
    this.parts.push(Buffer.from(fragment));
    if (this.parts.length > MAX_BLOCK_FRAMES) return this.broken(`a header block of more than ${MAX_BLOCK_FRAMES} frames`, false);
    if ((flags & END_HEADERS) === 0) return;
    this.blockStream = 0;
    const block = Buffer.concat(this.parts);
    this.parts = [];
    this.check(stream, block);
  }

  /** Decodes one whole block (the table must see every block, in order) and notes the first bad field. */
  private check(stream: number, block: Buffer): void {
    let problem: string | null = null;
    try {
      this.decoder.decode(block, (name, value) => {
        if (problem === null) problem = fieldProblem(name, value);
      });
    } catch (err) {
      if (!(err instanceof HpackError)) throw err;
      return this.broken(`a header block that does not decode: ${err.message} (RFC 7541)`, true);
    }
    if (problem === null || this.malformed.has(stream)) return;
    // An announced stream takes its mark within a tick, one nghttp2 resets itself (an upper-case name) when its
    // RST_STREAM goes out (h2-session.ts); should neither come, the oldest marks go first.
    if (this.malformed.size >= MAX_MARKS) this.malformed.delete(this.malformed.keys().next().value!);
    this.malformed.set(stream, problem);
  }

  /** Remembers at most MAX_MARKS entries: the oldest go first (a stream takes its own within a tick of closing). */
  private note(marks: Map<number, number>, stream: number, code: number): void {
    if (marks.size >= MAX_MARKS && !marks.has(stream)) marks.delete(marks.keys().next().value!);
    marks.set(stream, code);
  }

  private broken(reason: string, isCompression: boolean): void {
    this.brokenReason = reason;
    this.onBroken(reason, isCompression);
  }
}
