/**
 * The data of a chunked body, for a client that cannot take chunked framing (HTTP/2 carries a body in DATA frames,
 * RFC 9113 §8.2.2). It runs over bytes ChunkedTracker (chunked.ts) has already scanned and accepted, so it does not
 * check syntax again: it skips each size line (size, extensions) to its LF, passes `size` bytes of data on, and
 * skips the CRLF after them. From the last chunk on (size 0) nothing more is data; what follows it (the trailer
 * section and its final CRLF) is kept in `trailerSection`, for HTTP/2 trailers.
 */
enum S {
  Size,
  Line,
  Data,
  DataEnd,
  Trailers,
}

export class ChunkDecoder {
  private state = S.Size;
  private size = 0;
  private remaining = 0;
  /** Of the CRLF after chunk data, how many bytes are still to skip. */
  private crlf = 0;
  /** The bytes after the last chunk's line (trailer fields, then CRLF), latin1; bounded by ChunkedTracker. */
  trailerSection = '';

  /** Calls `out` with each run of chunk data in buf[0, end) (subarrays of buf: borrowed, copy what you keep). */
  decode(buf: Buffer, end: number, out: (data: Buffer) => void): void {
    let i = 0;
    while (i < end) {
      switch (this.state) {
        case S.Size: {
          const c = buf[i];
          const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d === -1) this.state = S.Line;
          else {
            this.size = this.size * 16 + d;
            i++;
          }
          break;
        }
        case S.Line:
          if (buf[i++] === 10) {
            this.remaining = this.size;
            this.size = 0;
            this.state = this.remaining === 0 ? S.Trailers : S.Data;
          }
          break;
        case S.Data: {
          const n = Math.min(this.remaining, end - i);
          out(buf.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.state = S.DataEnd;
            this.crlf = 2;
          }
          break;
        }
        case S.DataEnd:
          i++;
          if (--this.crlf === 0) this.state = S.Size;
          break;
        case S.Trailers:
          this.trailerSection += buf.toString('latin1', i, end);
          i = end;
          break;
      }
    }
  }
}
