/**
 * Chunked framing (RFC 9112 §7.1), scanned across as many buffers as it takes. The bytes are forwarded as they came;
 * this finds where the message ends and refuses what two receivers could split differently:
 *
 *   chunk       = chunk-size [ BWS ] [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size  = 1*HEXDIG            at most 12 significant digits (2^48), leading zeros free
 *   chunk-ext   = *( ";" … )          any field-value bytes up to CRLF, at most 4096 per line; no bare CR or LF
 *   last-chunk  = 1*("0") [ chunk-ext ] CRLF
 *   trailers    = *( field-name ":" field-value CRLF ) CRLF      at most 16 KiB in all
 *
 * Each refusal is an HttpParseError with its code (http-refusals.ts).
 */
import { HttpParseError, type RefusalCode } from './http-refusals.ts';
import { FIELD, TOKEN } from './http-syntax.ts';

const MAX_SIZE_DIGITS = 12;
const MAX_EXTENSION = 4096;
const MAX_TRAILERS = 16_384;

enum S {
  Size,
  SizeSpace,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLf,
  FinalLf,
}

export class ChunkedTracker {
  private state = S.Size;
  private remaining = 0;
  private digits = 0;
  private hasDigit = false;
  private lineBytes = 0;
  private trailerBytes = 0;
  private readonly isResponse: boolean;
  isDone = false;
  /** Body bytes (chunk data only) seen so far, for body limits. */
  dataBytes = 0;

  /** `isResponse`: refusals are the server's (502 to the client). */
  constructor(isResponse = false) {
    this.isResponse = isResponse;
  }

  private fail(code: RefusalCode): never {
    throw new HttpParseError(code, this.isResponse);
  }

  /** Returns the index just after the message's end within `buf`, or -1 when the message goes on past `buf`. */
  scan(buf: Buffer, start = 0): number {
    let i = start;
    const n = buf.length;
    while (i < n) {
      const c = buf[i];
      switch (this.state) {
        case S.Size: {
          const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (v >= 0) {
            this.hasDigit = true;
            if ((this.remaining !== 0 || v !== 0) && ++this.digits > MAX_SIZE_DIGITS) this.fail('H1_CHUNK_SIZE');
            this.remaining = this.remaining * 16 + v;
          } else if (!this.hasDigit) this.fail('H1_CHUNK_SIZE');
          else this.afterSize(c);
          i++;
          break;
        }
        case S.SizeSpace:
          this.afterSize(c);
          i++;
          break;
        case S.Extension:
          // Extensions are passed on, not interpreted: only their line end has to be unambiguous.
          while (i < n && buf[i] !== 13) {
            if (FIELD[buf[i]] === 0 || ++this.lineBytes > MAX_EXTENSION) this.fail('H1_CHUNK_EXT');
            i++;
          }
          if (i < n) {
            this.state = S.SizeLf;
            i++;
          }
          break;
        case S.SizeLf:
          if (c !== 10) this.fail('H1_CHUNK_CRLF');
          i++;
          this.digits = 0;
          this.hasDigit = false;
          this.lineBytes = 0;
          if (this.remaining === 0) this.state = S.TrailerStart;
          else {
            this.dataBytes += this.remaining;
            this.state = S.Data;
          }
          break;
        case S.Data: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = S.DataCr;
          break;
        }
        case S.DataCr:
          if (c !== 13) this.fail('H1_CHUNK_CRLF');
          this.state = S.DataLf;
          i++;
          break;
        case S.DataLf:
          if (c !== 10) this.fail('H1_CHUNK_CRLF');
          this.state = S.Size;
          i++;
          break;
        default:
          // The trailer section, a byte at a time (it is rare and short).
          if (this.trailerByte(c)) {
            this.isDone = true;
            return i + 1;
          }
          i++;
      }
    }
    return -1;
  }

  /** One byte of the trailer section; true when it was the message's last. */
  private trailerByte(c: number): boolean {
    const state = this.state;
    if (state === S.FinalLf) {
      if (c !== 10) this.fail('H1_CHUNK_CRLF');
      return true;
    }
    if (state === S.TrailerLf) {
      if (c !== 10) this.fail('H1_TRAILER');
      this.lineBytes = 0;
      this.state = S.TrailerStart;
      return false;
    }
    if (state === S.TrailerStart && c === 13) {
      this.state = S.FinalLf;
      return false;
    }
    if (++this.trailerBytes > MAX_TRAILERS) this.fail('H1_TRAILER');
    if (state === S.TrailerValue) {
      if (c === 13) this.state = S.TrailerLf;
      else if (FIELD[c] === 0) this.fail('H1_TRAILER');
    } else if (c === 58 && this.lineBytes > 0) this.state = S.TrailerValue;
    else if (TOKEN[c] === 1) {
      this.lineBytes++;
      this.state = S.TrailerName;
    } else this.fail('H1_TRAILER');
    return false;
  }

  /** The byte after a chunk size's digits: optional whitespace, then an extension or the line's CR. */
  private afterSize(c: number): void {
    if (c === 13) this.state = S.SizeLf;
    else if (c === 59) this.state = S.Extension;
    else if (c === 32 || c === 9) this.state = S.SizeSpace;
    else this.fail('H1_CHUNK_SIZE');
  }
}
