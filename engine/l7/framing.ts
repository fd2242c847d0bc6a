/**
 * Where the messages of one exchange begin and end, as the proxy acts on them: the real server's response head read
 * across chunks, the extent of its body, and the extent of the client's request body (RFC 9112 §6). The rules
 * themselves (what a head may say, chunk syntax) are the codec's (http-codec.ts, chunked.ts); these are the small
 * state machines that apply them to a stream of chunks, shared by HTTP/1.1 (http-exchange.ts) and HTTP/2
 * (h2-exchange.ts, whose ResponseBody adds de-chunking and trailers in h2-body.ts).
 *
 * Chunks given here are borrowed (reader.ts): what is kept past a call is copied.
 */
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  type BodyMode,
  ChunkedTracker,
  CRLFCRLF,
  partialHeadError,
  parseResponseHead,
  parseResponseText,
  requestBody,
  type RequestHead,
  responseBody,
  type ResponseHead,
} from './http-codec.ts';
import { HttpParseError } from './http-refusals.ts';
import { own } from './reader.ts';

/** Answers up to this size are converted to one latin1 string at once: the head is parsed and the body sliced from it. */
export const SMALL_RESPONSE = 32_768;
/** Response heads are the server's business, but a runaway one must not eat memory. */
export const MAX_RESPONSE_HEAD = 65_536;
const EMPTY = Buffer.alloc(0);

/**
 * A response head as it arrives. read() gives each head (interim ones too) once it is complete; after a head, `rest`
 * holds the bytes that came after it in the same chunk and, when that chunk was small, `text` is all of it as latin1
 * with the body starting at `bodyAt` (one string for head and body: the usual answer leaves in one write).
 */
export class ResponseHeadReader {
  rest: Buffer = EMPTY;
  text: string | null = null;
  bodyAt = 0;
  /** A head not yet complete (copied). */
  private pending: Buffer | null = null;

  /** Whether any byte of a head has come and not yet made a head (a retry is then unsafe). */
  get isPartial(): boolean {
    return this.pending !== null;
  }

  /** Lets go of the last head's chunk (taken by then): an exchange keeps its reader while the body streams. */
  clear(): void {
    this.rest = EMPTY;
    this.text = null;
  }

  /** The head completed by `chunk`, or null while it is incomplete. Throws HttpParseError for a head that cannot be. */
  read(chunk: Buffer): ResponseHead | null {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    const all = buf.length <= SMALL_RESPONSE ? buf.toString('latin1') : null;
    const end = all !== null ? all.indexOf('\r\n\r\n') : buf.indexOf(CRLFCRLF);
    if (end === -1) {
      if (buf.length > MAX_RESPONSE_HEAD) throw new HttpParseError('H1_RESPONSE_HEAD_TOO_LARGE', true);
      // A bare LF would never be followed by CRLFCRLF: refuse it now rather than at the server timeout.
      const bad = partialHeadError(buf);
      if (bad !== undefined) throw new HttpParseError(bad, true);
      this.pending = this.pending === null ? own(chunk) : buf;
      return null;
    }
    this.pending = null;
    const res = all !== null ? parseResponseText(all, end, buf) : parseResponseHead(buf, end);
    this.rest = buf.subarray(end + 4);
    this.text = all;
    this.bodyAt = end + 4;
    return res;
  }
}

/** A response body as the server frames it (RFC 9112 §6.3): its extent in each chunk. */
export class BodyFraming {
  readonly mode: BodyMode;
  isEnded = false;
  private remaining = 0;
  private readonly chunks: ChunkedTracker | null = null;

  constructor(res: ResponseHead, method: string) {
    this.mode = responseBody(res, method);
    if (this.mode === BODY_CHUNKED) this.chunks = new ChunkedTracker(true);
    else if (this.mode === BODY_LENGTH) this.remaining = res.contentLength;
    this.isEnded = this.mode === BODY_NONE;
  }

  /** How much of `chunk` belongs to the body; sets isEnded when the body ends in it. Throws HttpParseError on bad chunking. */
  extent(chunk: Buffer): number {
    if (this.mode === BODY_LENGTH) {
      const take = Math.min(this.remaining, chunk.length);
      this.remaining -= take;
      if (this.remaining === 0) this.isEnded = true;
      return take;
    }
    if (this.mode === BODY_CHUNKED) {
      const end = this.chunks!.scan(chunk);
      if (end === -1) return chunk.length;
      this.isEnded = true;
      return end;
    }
    return chunk.length;
  }
}

/** An HTTP/1.1 request body as the client frames it: Content-Length or chunked (requestBody), with the size limit. */
export class RequestBody {
  readonly mode: BodyMode;
  isDone: boolean;
  /** Body bytes taken so far (framing included, as they go to the server). */
  bytes = 0;
  private remaining = 0;
  private readonly chunks: ChunkedTracker | null = null;
  private readonly maxBytes: number;

  /** The announced length is over the limit: the request is refused before any of it is read (H1_BODY_TOO_LARGE). */
  readonly isTooLarge: boolean;

  constructor(head: RequestHead, maxBytes: number) {
    this.mode = requestBody(head);
    this.maxBytes = maxBytes;
    this.isTooLarge = this.mode === BODY_LENGTH && head.contentLength > maxBytes;
    this.isDone = this.mode === BODY_NONE || this.isTooLarge;
    if (this.mode === BODY_CHUNKED) this.chunks = new ChunkedTracker();
    else if (this.mode === BODY_LENGTH) this.remaining = head.contentLength;
  }

  /**
   * How many of `chunk`'s bytes belong to the body (what follows is the next pipelined request); sets isDone when
   * it ends in them. Throws HttpParseError on bad chunking or a chunked body over the limit.
   */
  take(chunk: Buffer): number {
    let take = chunk.length;
    if (this.mode === BODY_LENGTH) {
      take = Math.min(this.remaining, chunk.length);
      this.remaining -= take;
      if (this.remaining === 0) this.isDone = true;
    } else {
      const tracker = this.chunks!;
      const end = tracker.scan(chunk);
      if (end !== -1) {
        take = end;
        this.isDone = true;
      }
      if (tracker.dataBytes > this.maxBytes) throw new HttpParseError('H1_BODY_TOO_LARGE');
    }
    this.bytes += take;
    return take;
  }
}

/** Whether a server's connection stays open after this response (RFC 9112 §9.3: persistence by version and Connection). */
export function keepsServerConnection(res: ResponseHead): boolean {
  return !res.connection.includes('close') && (res.minor === 1 || res.connection.includes('keep-alive'));
}
