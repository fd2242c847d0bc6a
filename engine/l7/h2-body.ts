/**
 * The message parts an HTTP/2 stream needs besides its exchange (h2-exchange.ts): where a real server's HTTP/1.1
 * response body ends and which of its bytes are data (DATA frames carry no chunked framing, RFC 9113 §8.1), how a
 * request body is framed for the real server, and HTTP/1.1 fields as HTTP/2 ones.
 */
import type http2 from 'node:http2';
import { BODY_CHUNKED, type ResponseHead } from './http-codec.ts';
import { BodyFraming } from './framing.ts';
import { ChunkDecoder } from './chunk-decoder.ts';
import { fieldProblem } from './h2-tap.ts';

/** Fields HTTP/2 forbids (RFC 9113 §8.2.2); the codec's hop-by-hop list covers most, the framing ones are here. */
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);
const CRLF = Buffer.from('\r\n');
/** Trailer fields not passed on (RFC 9110 §6.5.1: framing, routing and connection fields cannot be trailers). */
const NO_TRAILER = new Set([...H2_FORBIDDEN, 'content-length', 'host', 'trailer']);

/** A chunked response's trailers as HTTP/2 fields, or why they cannot go on (a field HTTP/2 forbids). */
export type Trailers = { fields: http2.OutgoingHttpHeaders } | { problem: string };

/**
 * A response body as the server frames it (framing.ts: BodyFraming), and its data as DATA frames carry it: chunked
 * framing removed (RFC 9113 §8.1), the trailers kept for a HEADERS frame.
 */
export class ResponseBody extends BodyFraming {
  private readonly decoder: ChunkDecoder | null = null;

  constructor(res: ResponseHead, method: string) {
    super(res, method);
    if (this.mode === BODY_CHUNKED) this.decoder = new ChunkDecoder();
  }

  /**
   * The trailer section of a chunked body that has ended (ChunkedTracker accepted its syntax and size), as HTTP/2
   * fields: names lower case, OWS around values removed, repeated names as one array, framing fields left out.
   */
  trailers(): Trailers {
    const fields: http2.OutgoingHttpHeaders = {};
    for (const line of (this.decoder?.trailerSection ?? '').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
      const problem = fieldProblem(name, value);
      if (problem !== null) return { problem: `a trailer of the response: ${problem}` };
      if (NO_TRAILER.has(name)) continue;
      const prev = fields[name];
      if (prev === undefined) fields[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else fields[name] = [String(prev), value];
    }
    return { fields };
  }

  /** The data in buf[0, take) (a part extent() accepted), given to `out` as subarrays of buf (borrowed). */
  data(buf: Buffer, take: number, out: (d: Buffer) => void): void {
    if (this.decoder !== null) this.decoder.decode(buf, take, out);
    else out(take === buf.length ? buf : buf.subarray(0, take));
  }
}

/** One chunk of a request body sent on chunked (RFC 9112 §7.1): the stream had no Content-Length. */
export function chunkOf(d: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${d.length.toString(16)}\r\n`, 'latin1'), d, CRLF]);
}

/**
 * A name/value list as HTTP/2 header fields: names lower case (RFC 9113 §8.2.1), connection-specific fields dropped
 * (§8.2.2), Content-Length dropped when the body came chunked (the DATA frames carry it now), repeated names as one
 * array (each becomes its own field line; Set-Cookie must, §8.2.3 allows only Cookie to be joined).
 */
export function h2Fields(out: string[], status: number, isChunked: boolean): http2.OutgoingHttpHeaders {
  const h: http2.OutgoingHttpHeaders = { ':status': status };
  for (let i = 0; i < out.length; i += 2) {
    const name = out[i].toLowerCase();
    if (H2_FORBIDDEN.has(name) || (isChunked && name === 'content-length')) continue;
    const prev = h[name];
    if (prev === undefined) h[name] = out[i + 1];
    else if (Array.isArray(prev)) prev.push(out[i + 1]);
    else h[name] = [String(prev), out[i + 1]];
  }
  return h;
}
