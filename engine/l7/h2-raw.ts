/**
 * A raw HTTP/2 client for tests: it writes exactly the frames a test spells out (RFC 9113 §4.1), including the
 * malformed and abusive ones a real client library refuses to send, and records every frame the proxy sends back.
 * Header blocks are HPACK literals without indexing and without Huffman coding (RFC 7541 §6.2.2), so the bytes on
 * the wire are the fields as written. Loopback only.
 *
 *   frame = length (24) | type (8) | flags (8) | R (1) stream id (31) | payload
 */
import net from 'node:net';
import { H2_PREFACE } from './h2-session.ts';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;
export const ERR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11 } as const;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1), the prefix's other bits zero. */
function hpackInt(n: number, bits: number): number[] {
  const max = (1 << bits) - 1;
  if (n < max) return [n];
  const out = [max];
  n -= max;
  while (n >= 128) {
    out.push((n % 128) + 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(b.length, 7)), b]);
}

/** A header block: each field a literal without indexing, with a new name (0x00), no Huffman. */
export function hpack(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0]), hpackString(n), hpackString(v)]));
}

/** The pseudo-fields of a GET for `path`, then `more`. */
export function get(path = '/', more: [string, string][] = []): [string, string][] {
  return [[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'www.example'], ...more];
}

export function settings(entries: [number, number][]): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(FRAME.SETTINGS, 0, 0, p);
}

export function rstStream(stream: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, stream, p);
}

export class RawH2 {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  isClosed = false;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.isClosed = true;
      this.wake();
    });
  }

  /** Connects and sends the client preface and an empty SETTINGS frame (RFC 9113 §3.4). */
  static connect(port: number): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.off('error', reject);
        const c = new RawH2(s);
        s.write(Buffer.concat([H2_PREFACE, settings([])]));
        resolve(c);
      });
      s.once('error', reject);
    });
  }

  send(...frames: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(frames));
  }

  /** The first frame (from `from` on) that `pred` accepts, or null once the connection closed without one. */
  async until(pred: (f: Frame) => boolean, from = 0): Promise<Frame | null> {
    for (;;) {
      const hit = this.frames.slice(from).find(pred);
      if (hit) return hit;
      if (this.isClosed) return null;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async closed(): Promise<void> {
    while (!this.isClosed) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** The GOAWAY's error code, or undefined when none came. */
  goawayCode(): number | undefined {
    const g = this.frames.find((f) => f.type === FRAME.GOAWAY);
    return g?.payload.readUInt32BE(4);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      if (this.buf.length < 9 + len) break;
      const f = { type: this.buf[3], flags: this.buf[4], stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
      this.buf = this.buf.subarray(9 + len);
      this.frames.push(f);
      // The proxy's SETTINGS are acknowledged, as a client must (§6.5.3).
      if (f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0) this.send(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}
