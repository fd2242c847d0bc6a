/**
 * The differential smuggling test's cases (smuggling.test.ts): malformed or ambiguous HTTP/1.1 messages, each sent
 * through HAProxy 2.6 and through Fulcrum to a raw real server. In the style of HAProxy's reg-tests: one behaviour per
 * case, the exact bytes on the wire, the rule it comes from, and what must come out the other side.
 *
 * The cases come from RFC 9112 / RFC 9110 and from published request-smuggling research, not from Fulcrum's parser:
 *   - James Kettle, "HTTP Desync Attacks" (PortSwigger, 2019): CL.TE, TE.CL and the TE.TE obfuscations (xchunked,
 *     space before the colon, a second Transfer-Encoding, tab, vertical tab, line folding);
 *   - Regilero, "Hiding Wookiees in HTTP" (DEF CON 24, 2016): bare CR and LF, NUL, obs-fold, "+" and list lengths;
 *   - Ben Kallus and Prashant Anantharaman, "HTTP Garden" (2024): empty and list Content-Length, Host confusion,
 *     chunk-size overflow; Jeppe Bonde Weikop, "Funky chunks" (2025): bare LF in chunk extensions and trailers;
 *   - CVE-2023-40225 (HAProxy forwarded an empty Content-Length) and CVE-2023-25725 (empty header names).
 *
 * `fulcrum` is what Fulcrum must do; the test measures HAProxy live and asserts Fulcrum refuses wherever HAProxy does.
 * Where Fulcrum refuses and HAProxy 2.6 forwards, `stricter` says why Fulcrum chose so (the test insists on the note).
 *
 * Request cases: 'refuse' means a 4xx (or 501/505) from the proxy, nothing complete reaching the server, and a log
 * entry; 'forward' means the server receives exactly `server.requests` (default 1) unambiguous requests.
 * Response cases: the client sends `requests` (default one GET), the server answers each with `answer` byte for byte;
 * 'refuse' means a 502 from the proxy and a log entry; 'forward' means the client receives an unambiguous response.
 */

export type Outcome = 'refuse' | 'forward';

export interface RequestCase {
  name: string;
  /** The rule, in the reg-tests' manner. */
  rfc: string;
  /** The exact bytes (latin1). Parts of an array are sent one after another, each once the proxy answered or went quiet. */
  send: string | string[];
  fulcrum: Outcome;
  /** Fulcrum refuses where HAProxy 2.6 forwards: why. */
  stricter?: string;
  /** What the real server must receive, for 'forward' (first request; unset fields are not checked). */
  server?: { requests?: number; target?: string; host?: string; body?: string; framing?: 'none' | 'length' | 'chunked' };
  /** Fulcrum must close the client connection after its answer. */
  isClosedAfter?: boolean;
}

export interface ResponseCase {
  name: string;
  rfc: string;
  /** The client's requests, sent one after another (default: one GET /). */
  requests?: string[];
  /** The exact bytes the real server answers every request with. */
  answer: string;
  /** The real server closes the connection after answering (a body delimited by close). */
  close?: boolean;
  fulcrum: Outcome;
  stricter?: string;
  /** What the client must receive, for 'forward'. */
  client?: { status?: number; body?: string; responses?: number };
  /** Fulcrum must close its connection to the real server after the response (it cannot trust its framing). */
  isServerClosedAfter?: boolean;
}

const GET = 'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n';

export const REQUEST_CASES: RequestCase[] = [
  // ─── Content-Length and Transfer-Encoding together (RFC 9112 §6.1, §6.3) ───
  {
    // CL.TE: a front end that reads the length forwards "0\r\n\r\nG"; a back end that reads chunks ends at "0\r\n\r\n"
    // and takes "G" as the start of the next request. A proxy must forward one framing only, and close after.
    name: 'cl-te',
    rfc: 'RFC 9112 §6.1 (both: Transfer-Encoding wins, the proxy must remove Content-Length or refuse)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG',
    fulcrum: 'forward',
    server: { framing: 'chunked', body: '' },
    isClosedAfter: true,
  },
  {
    // TE.CL: the chunk carries a request a length-reading back end would see.
    name: 'te-cl',
    rfc: 'RFC 9112 §6.1',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n',
    fulcrum: 'forward',
    server: { framing: 'chunked', body: 'SMUGGLED' },
    isClosedAfter: true,
  },
  {
    // TE.TE obfuscation: a coding nobody knows; one side ignores Transfer-Encoding and reads Content-Length.
    name: 'te-xchunked',
    rfc: 'RFC 9112 §6.1 (unknown transfer coding: 501), §6.3 (chunked not final in a request: 400)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'te-space-before-colon',
    rfc: 'RFC 9112 §5.1 (whitespace between field name and colon: 400)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'te-chunked-then-identity',
    rfc: 'RFC 9112 §6.3 (request whose final coding is not chunked: 400)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked, identity\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'te-identity-then-chunked',
    rfc: 'RFC 9112 §7 ("identity" is no transfer coding since RFC 7230), §6.1 (unknown coding: 501)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'te-gzip-then-chunked',
    rfc: 'RFC 9112 §6.1 (a server that does not understand a coding SHOULD answer 501)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    // Two lines combine into one list (RFC 9110 §5.3): "chunked, identity".
    name: 'te-two-lines',
    rfc: 'RFC 9110 §5.3 (lines combine), RFC 9112 §6.3 (final coding not chunked: 400)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'te-chunked-twice',
    rfc: 'RFC 9112 §6.1 (chunked MUST NOT be applied more than once)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    // HTAB is optional whitespace: valid, and the server must get plain "chunked".
    name: 'te-tab',
    rfc: 'RFC 9110 §5.6.3 (OWS is SP or HTAB)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'forward',
    server: { framing: 'chunked', body: 'hello' },
  },
  {
    name: 'te-vertical-tab',
    rfc: 'RFC 9110 §5.5 (field values: no control characters; VT is not whitespace)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding:\x0bchunked\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'te-obs-fold',
    rfc: 'RFC 9112 §5.2 (obs-fold in a request: reject with 400 or replace by SP)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'te-uppercase',
    rfc: 'RFC 9112 §7 (transfer-coding names are case-insensitive)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'forward',
    server: { framing: 'chunked', body: 'hello' },
  },
  {
    name: 'te-quoted',
    rfc: 'RFC 9112 §7 (a transfer coding is a token, not a quoted string)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: "chunked"\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    // RFC 9110 §5.6.1 lets a recipient skip empty list elements; one that does not reads no "chunked" at all.
    name: 'te-leading-comma',
    rfc: 'RFC 9110 §5.6.1 (empty list elements), RFC 9112 §6.3 (chunked not clearly final: 400)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: , chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'te-empty-with-cl',
    rfc: 'RFC 9112 §6.3 (Transfer-Encoding present, chunked not final: 400)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: \r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'te-http10',
    rfc: 'RFC 9112 §6.1 (HTTP/1.0 with Transfer-Encoding: framing faulty)',
    send: 'POST / HTTP/1.0\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
    stricter:
      'HAProxy 2.6 forwards the chunked body of an HTTP/1.0 request; RFC 9112 §6.1 calls that framing faulty, and an HTTP/1.0 server may not know chunked.',
  },
  {
    name: 'te-nul',
    rfc: 'RFC 9110 §5.5 (NUL in a field value)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\x00\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    // CGI and WSGI gateways map "_" and "-" onto the same variable (HTTP_TRANSFER_ENCODING).
    name: 'te-underscore',
    rfc: 'RFC 3875 §4.1.18 (CGI meta-variables), research: Kettle 2019',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'A field named Transfer_Encoding or Content_Length is a framing field to CGI-style servers; Fulcrum refuses it.',
  },

  // ─── Content-Length (RFC 9112 §6.3, RFC 9110 §8.6) ───
  {
    name: 'cl-twice-same',
    rfc: 'RFC 9110 §8.6 (repeated identical lengths: reject, or replace by one)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'Fulcrum refuses any repeated Content-Length in a request (RFC 9110 §8.6 allows it to).',
  },
  {
    name: 'cl-twice-different',
    rfc: 'RFC 9112 §6.3 (invalid Content-Length in a request: 400)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    fulcrum: 'refuse',
  },
  {
    name: 'cl-list-same',
    rfc: 'RFC 9110 §8.6',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5, 5\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'Fulcrum refuses a list as Content-Length even when its members agree (RFC 9110 §8.6 allows it to).',
  },
  {
    name: 'cl-list-different',
    rfc: 'RFC 9112 §6.3',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5, 6\r\n\r\nhello!',
    fulcrum: 'refuse',
  },
  {
    name: 'cl-plus',
    rfc: 'RFC 9110 §8.6 (Content-Length = 1*DIGIT)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: +5\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'cl-negative',
    rfc: 'RFC 9110 §8.6',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: -5\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'cl-hex',
    rfc: 'RFC 9110 §8.6',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0x5\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'cl-inner-space',
    rfc: 'RFC 9110 §8.6',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 1 5\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'cl-empty',
    rfc: 'RFC 9110 §8.6; CVE-2023-40225',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: \r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'cl-overflow',
    rfc: 'RFC 9110 §8.6 (anticipate large numerals; no overflow)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 18446744073709551621\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    // Valid, but some servers read a leading zero as octal: the server must get the plain number.
    name: 'cl-leading-zeros',
    rfc: 'RFC 9110 §8.6 (1*DIGIT allows leading zeros)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0005\r\n\r\nhello',
    fulcrum: 'forward',
    server: { framing: 'length', body: 'hello' },
  },
  {
    name: 'cl-space-before-colon',
    rfc: 'RFC 9112 §5.1',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length : 5\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'cl-obs-fold',
    rfc: 'RFC 9112 §5.2',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length:\r\n 5\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'Fulcrum refuses line folding rather than unfolding it.',
  },
  {
    name: 'cl-underscore',
    rfc: 'RFC 3875 §4.1.18',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent_Length: 5\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'A field named Content_Length is a framing field to CGI-style servers; Fulcrum refuses it.',
  },
  {
    // The body looks like a request; framed by its length it stays a body.
    name: 'cl-body-is-request',
    rfc: 'RFC 9112 §6.3 ¶6 (Content-Length frames a request body)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 40\r\n\r\nGET /admin HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'forward',
    server: { requests: 1, framing: 'length' },
  },
  {
    // A proxy drops the fields its Connection header names; dropping Content-Length would leave the body unframed.
    name: 'cl-named-by-connection',
    rfc: 'RFC 9110 §7.6.1 (connection options must not name end-to-end fields)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nConnection: content-length\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'Fulcrum drops the fields a Connection header names; naming Content-Length, Transfer-Encoding or Host is refused.',
  },

  // ─── Chunked bodies (RFC 9112 §7.1) ───
  {
    name: 'chunk-size-overflow',
    rfc: 'RFC 9112 §7.1 (anticipate large hex numerals: no overflow)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'chunk-size-0x',
    rfc: 'RFC 9112 §7.1 (chunk-size = 1*HEXDIG)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'chunk-size-negative',
    rfc: 'RFC 9112 §7.1',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'chunk-size-bare-lf',
    rfc: 'RFC 9112 §7.1 (chunk-size line ends in CRLF), §2.2',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
    stricter:
      'HAProxy takes a bare LF as the chunk-size line end and re-chunks; Fulcrum forwards chunks as they came, so it refuses what a receiver could split elsewhere.',
  },
  {
    name: 'chunk-ext-bare-lf',
    rfc: 'RFC 9112 §7.1.1 (chunk-ext grammar); Funky chunks 2025',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nxx\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'chunk-ext-oversized',
    rfc: 'RFC 9112 §7.1.1 (a server ought to limit the total length of chunk extensions)',
    send: `POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5;x=${'a'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`,
    fulcrum: 'refuse',
  },
  {
    name: 'chunk-data-overrun',
    rfc: 'RFC 9112 §7.1 (chunk-data is followed by CRLF)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'chunk-trailer-bare-lf',
    rfc: 'RFC 9112 §7.1.2 (trailer fields are field lines ending in CRLF)',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy takes a bare LF in the trailer section as a line end and rewrites the trailers; Fulcrum forwards them as they came, so it refuses.',
  },
  {
    name: 'chunk-extension-valid',
    rfc: 'RFC 9112 §7.1.1 (chunk-ext = ; name [= value])',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'forward',
    server: { framing: 'chunked', body: 'hello' },
  },
  {
    name: 'chunk-trailer-valid',
    rfc: 'RFC 9112 §7.1.2',
    send: 'POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n',
    fulcrum: 'forward',
    server: { framing: 'chunked', body: 'hello' },
  },

  // ─── Field syntax (RFC 9112 §2.2, §5; RFC 9110 §5.5) ───
  {
    name: 'bare-cr-in-value',
    rfc: 'RFC 9112 §2.2 (a bare CR is invalid)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nX-A: one\rX-B: two\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'bare-lf-in-value',
    rfc: 'RFC 9112 §2.2 (lines end in CRLF)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nX-A: one\nContent-Length: 5\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'Fulcrum answers a bare LF with 400 (RFC 9112 §2.2 allows taking it as a line end).',
  },
  {
    name: 'nul-in-value',
    rfc: 'RFC 9110 §5.5 (NUL: reject)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nX-A: one\x00two\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy 2.6 forwards control characters in field values as they came; RFC 9110 §5.5 lets a recipient reject them, and C servers stop at a NUL.',
  },
  {
    name: 'control-in-value',
    rfc: 'RFC 9110 §5.5 (field-vchar excludes CTLs)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nX-A: one\x01two\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy 2.6 forwards control characters in field values as they came; RFC 9110 §5.5 lets a recipient reject them, and C servers stop at a NUL.',
  },
  {
    name: 'del-in-value',
    rfc: 'RFC 9110 §5.5 (DEL is not a field-vchar)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nX-A: one\x7ftwo\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy 2.6 forwards control characters in field values as they came; RFC 9110 §5.5 lets a recipient reject them, and C servers stop at a NUL.',
  },
  {
    name: 'nul-in-name',
    rfc: 'RFC 9110 §5.1 (field-name = token)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nX-\x00A: one\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'empty-name',
    rfc: 'RFC 9110 §5.1; CVE-2023-25725',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\n: one\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'no-colon',
    rfc: 'RFC 9112 §5 (field-line = name ":" value)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nX-A one\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'obs-fold',
    rfc: 'RFC 9112 §5.2',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nX-A: one\r\n two\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'Fulcrum refuses line folding rather than unfolding it.',
  },
  {
    name: 'space-before-first-field',
    rfc: 'RFC 9112 §2.2 (whitespace between start-line and first field: reject)',
    send: 'GET / HTTP/1.1\r\n Host: a.example\r\n\r\n',
    fulcrum: 'refuse',
  },

  // ─── Host (RFC 9112 §3.2, RFC 9110 §7.2) ───
  {
    name: 'host-twice',
    rfc: 'RFC 9112 §3.2 (more than one Host: 400)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'host-twice-same',
    rfc: 'RFC 9112 §3.2 (more than one Host field line: 400)',
    send: 'GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy merges identical Host fields; RFC 9112 §3.2 asks for 400 on any second Host line.',
  },
  {
    name: 'host-list',
    rfc: 'RFC 9112 §3.2 (invalid Host value: 400), RFC 3986 §3.2.2',
    send: 'GET / HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'Fulcrum checks Host against RFC 3986 host[:port] (a list is not one).',
  },
  {
    name: 'host-space',
    rfc: 'RFC 9112 §3.2, RFC 3986 §3.2.2',
    send: 'GET / HTTP/1.1\r\nHost: a.example b.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'Fulcrum checks Host against RFC 3986 host[:port].',
  },
  {
    name: 'host-userinfo',
    rfc: 'RFC 9110 §7.2 (Host = uri-host [":" port]: no userinfo)',
    send: 'GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'Fulcrum checks Host against RFC 3986 host[:port].',
  },

  // ─── Request target (RFC 9112 §3.2) ───
  {
    name: 'absolute-form',
    rfc: "RFC 9112 §3.2.2 (absolute-form: the target's authority is the host)",
    send: 'GET http://a.example/p?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'forward',
    server: { target: '/p?q=1', host: 'a.example' },
  },
  {
    // Which host is meant? HAProxy refuses rather than choose; so does Fulcrum. The server must never see both.
    name: 'absolute-form-other-host',
    rfc: 'RFC 9112 §3.2.2 (the target wins over Host), RFC 9112 §3.2 (invalid Host: 400)',
    send: 'GET http://a.example/p HTTP/1.1\r\nHost: b.example\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    // Absolute form without Host: Fulcrum makes origin form and names the target's host.
    name: 'absolute-form-no-host',
    rfc: 'RFC 9112 §3.2.2 (a proxy generates Host from the target)',
    send: 'GET http://a.example:8080/p HTTP/1.1\r\n\r\n',
    fulcrum: 'forward',
    server: { target: '/p', host: 'a.example:8080' },
  },
  {
    name: 'absolute-form-userinfo',
    rfc: 'RFC 9110 §4.2.4 (userinfo in an http URI: treat as an error)',
    send: 'GET http://user@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy forwards a target with userinfo; RFC 9110 §4.2.4 says to treat it as an error (phishing, and a Host that disagrees).',
  },
  {
    name: 'absolute-form-scheme',
    rfc: 'RFC 9112 §3.2.2, RFC 9110 §4.2 (http and https only)',
    send: 'GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'Fulcrum is a reverse proxy for http and https: other schemes are refused.',
  },
  {
    name: 'absolute-form-no-authority',
    rfc: 'RFC 9110 §4.2.1 (an http URI has a non-empty host)',
    send: 'GET http:///p HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy forwards an http URI without a host; RFC 9110 §4.2.1 says it is invalid.',
  },
  {
    name: 'asterisk-not-options',
    rfc: 'RFC 9112 §3.2.4 (asterisk-form only for OPTIONS)',
    send: 'GET * HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy forwards "*" for any method; RFC 9112 §3.2.4 allows it only for OPTIONS.',
  },
  {
    name: 'asterisk-options',
    rfc: 'RFC 9112 §3.2.4',
    send: 'OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'forward',
    server: { target: '*' },
  },
  {
    name: 'target-no-slash',
    rfc: 'RFC 9112 §3.2.1 (origin-form = absolute-path [ "?" query ])',
    send: 'GET p HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'target-fragment',
    rfc: 'RFC 9112 §3.2.1 (no fragment in a request target); CVE-2023-45539',
    send: 'GET /p#frag HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'target-8bit',
    rfc: 'RFC 9112 §3.2, RFC 3986 §2 (URIs are ASCII)',
    send: 'GET /caf\xe9 HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'target-control',
    rfc: 'RFC 9112 §3.2, RFC 3986 §2',
    send: 'GET /p\x01q HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'connect',
    rfc: 'RFC 9110 §9.3.6 (CONNECT is for forward proxies)',
    send: 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'Fulcrum is a reverse proxy: it does not open tunnels on CONNECT.',
  },

  // ─── Request line (RFC 9112 §3, §2.2, §2.3) ───
  {
    name: 'double-space',
    rfc: 'RFC 9112 §3 (request-line = method SP request-target SP HTTP-version)',
    send: 'GET  / HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy reads words between runs of whitespace; RFC 9112 §3 warns that such lenient parsing invites smuggling.',
  },
  {
    name: 'tab-separator',
    rfc: 'RFC 9112 §3',
    send: 'GET\t/ HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy takes a tab as the separator; RFC 9112 §3 asks for single SP.',
  },
  {
    name: 'version-lowercase',
    rfc: 'RFC 9112 §2.3 (HTTP-name is case-sensitive)',
    send: 'GET / http/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'version-2',
    rfc: 'RFC 9110 §15.6.6 (505 for an unsupported major version)',
    send: 'GET / HTTP/2.0\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
    stricter: 'HAProxy forwards an "HTTP/2.0" request line as HTTP/1.1; Fulcrum answers 505 (RFC 9110 §15.6.6).',
  },
  {
    name: 'http09',
    rfc: 'RFC 9112 §3, Appendix C.1 (no HTTP/0.9)',
    send: 'GET /\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'method-not-token',
    rfc: 'RFC 9110 §9.1 (method = token)',
    send: 'G(T / HTTP/1.1\r\nHost: a.example\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'bare-lf-lines',
    rfc: 'RFC 9112 §2.2 (lines end in CRLF; a recipient MAY take LF alone)',
    send: 'GET / HTTP/1.1\nHost: a.example\n\n',
    fulcrum: 'refuse',
    stricter: 'Fulcrum answers a bare LF with 400 at once (RFC 9112 §2.2 allows taking it as a line end).',
  },
  {
    name: 'leading-empty-line',
    rfc: 'RFC 9112 §2.2 (a server SHOULD ignore an empty line before the request-line)',
    send: `\r\n${GET}`,
    fulcrum: 'forward',
    server: { target: '/' },
  },

  // ─── Expect and pipelining (RFC 9110 §10.1.1, RFC 9112 §9.3.2) ───
  {
    name: 'expect-100-continue',
    rfc: 'RFC 9110 §10.1.1 (a proxy forwards the expectation; the client sends the body after 100)',
    send: ['POST / HTTP/1.1\r\nHost: a.example\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', 'hello'],
    fulcrum: 'forward',
    server: { framing: 'length', body: 'hello' },
  },
  {
    name: 'pipelined',
    rfc: 'RFC 9112 §9.3.2 (pipelined requests are answered in order)',
    send: `${GET}${GET}`,
    fulcrum: 'forward',
    server: { requests: 2 },
  },
];

const OK2 = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

export const RESPONSE_CASES: ResponseCase[] = [
  {
    // Response-side CL.TE: the client must get one framing, the chunked one.
    name: 'res-cl-te',
    rfc: 'RFC 9112 §6.1, §6.3 ¶3 (Transfer-Encoding overrides Content-Length; a proxy removes it)',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'forward',
    client: { status: 200, body: 'hello' },
    isServerClosedAfter: true,
  },
  {
    name: 'res-cl-twice-different',
    rfc: 'RFC 9112 §6.3 ¶5 (invalid length in a response: a proxy discards it and answers 502)',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'res-cl-twice-same',
    rfc: 'RFC 9110 §8.6',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'Fulcrum refuses any repeated Content-Length, in responses too (RFC 9110 §8.6 allows it to).',
  },
  {
    name: 'res-cl-list',
    rfc: 'RFC 9110 §8.6',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello',
    fulcrum: 'refuse',
    stricter: 'Fulcrum refuses a list as Content-Length, in responses too.',
  },
  {
    name: 'res-cl-plus',
    rfc: 'RFC 9110 §8.6',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello',
    fulcrum: 'refuse',
  },
  {
    name: 'res-te-chunked-not-last',
    rfc: 'RFC 9112 §6.1 (chunked, when applied, is the final coding)',
    answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    close: true,
    fulcrum: 'refuse',
  },
  {
    name: 'res-te-chunked-twice',
    rfc: 'RFC 9112 §6.1 (chunked MUST NOT be applied more than once)',
    answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'res-te-http10',
    rfc: 'RFC 9112 §6.1 (HTTP/1.0 message with Transfer-Encoding: framing faulty)',
    answer: 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    close: true,
    fulcrum: 'refuse',
    stricter: 'HAProxy 2.6 forwards an HTTP/1.0 response with Transfer-Encoding; RFC 9112 §6.1 calls its framing faulty.',
  },
  {
    // Response splitting: a bare CR some clients take as a line end injects a field.
    name: 'res-bare-cr-in-value',
    rfc: 'RFC 9112 §2.2',
    answer: 'HTTP/1.1 200 OK\r\nX-A: one\rSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok',
    fulcrum: 'refuse',
  },
  {
    name: 'res-bare-lf-in-value',
    rfc: 'RFC 9112 §2.2',
    answer: 'HTTP/1.1 200 OK\r\nX-A: one\nSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok',
    fulcrum: 'refuse',
    stricter: 'Fulcrum answers 502 for a bare LF in a response head (RFC 9112 §2.2 allows taking it as a line end).',
  },
  {
    name: 'res-nul-in-value',
    rfc: 'RFC 9110 §5.5',
    answer: 'HTTP/1.1 200 OK\r\nX-A: one\x00two\r\nContent-Length: 2\r\n\r\nok',
    fulcrum: 'refuse',
    stricter: 'HAProxy 2.6 forwards a NUL in a response field to the client; RFC 9110 §5.5 lets a recipient reject it.',
  },
  {
    name: 'res-obs-fold',
    rfc: 'RFC 9112 §5.2 (obs-fold in a response: 502, or replace by SP)',
    answer: 'HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nok',
    fulcrum: 'refuse',
    stricter: 'Fulcrum answers 502 for line folding rather than unfolding it.',
  },
  {
    name: 'res-space-before-colon',
    rfc: 'RFC 9112 §5.1 (a proxy removes such whitespace from a response, or refuses it)',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok',
    fulcrum: 'refuse',
  },
  {
    name: 'res-status-bare-cr',
    rfc: 'RFC 9112 §4 (reason-phrase = *( HTAB / SP / VCHAR / obs-text ))',
    answer: 'HTTP/1.1 200 OK\rSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok',
    fulcrum: 'refuse',
  },
  {
    name: 'res-status-two-digits',
    rfc: 'RFC 9112 §4 (status-code = 3DIGIT)',
    answer: 'HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok',
    fulcrum: 'refuse',
    stricter: 'HAProxy 2.6 passed this status line on and left the client waiting; Fulcrum answers 502.',
  },
  {
    name: 'res-bare-lf-lines',
    rfc: 'RFC 9112 §2.2',
    answer: 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
    fulcrum: 'refuse',
    stricter: 'Fulcrum answers 502 at once for a response head with bare LF line ends.',
  },
  {
    name: 'res-header-no-colon',
    rfc: 'RFC 9112 §5',
    answer: 'HTTP/1.1 200 OK\r\nX-A one\r\nContent-Length: 2\r\n\r\nok',
    fulcrum: 'refuse',
  },
  {
    name: 'res-named-by-connection',
    rfc: 'RFC 9110 §7.6.1',
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: content-length\r\n\r\nok',
    fulcrum: 'refuse',
    stricter: 'Fulcrum drops the fields a Connection header names; naming Content-Length, Transfer-Encoding or Host is refused.',
  },
  {
    name: 'res-101-not-asked',
    rfc: 'RFC 9110 §15.2.2 (101 only answers an Upgrade request)',
    answer: 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'res-chunk-size-overflow',
    rfc: 'RFC 9112 §7.1',
    answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    name: 'res-chunk-ext-bare-lf',
    rfc: 'RFC 9112 §7.1.1; Funky chunks 2025',
    answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nxx\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
  {
    // Bytes after a no-body response must not reach the client, nor be read as the next response.
    name: 'res-204-with-body',
    rfc: 'RFC 9110 §15.3.5, RFC 9112 §6.3 ¶1 (204 ends at its head)',
    requests: [GET, GET],
    answer: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello',
    fulcrum: 'forward',
    client: { status: 204, body: '', responses: 2 },
    isServerClosedAfter: true,
  },
  {
    name: 'res-304-with-body',
    rfc: 'RFC 9110 §15.4.5, RFC 9112 §6.3 ¶1 (304 ends at its head)',
    requests: [GET, GET],
    answer: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello',
    fulcrum: 'forward',
    client: { status: 304, body: '', responses: 2 },
  },
  {
    name: 'res-head-with-body',
    rfc: 'RFC 9110 §9.3.2, RFC 9112 §6.3 ¶1 (a response to HEAD ends at its head)',
    requests: ['HEAD / HTTP/1.1\r\nHost: a.example\r\n\r\n', 'HEAD / HTTP/1.1\r\nHost: a.example\r\n\r\n'],
    answer: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
    fulcrum: 'forward',
    client: { status: 200, body: '', responses: 2 },
  },
  {
    // Response splitting / cache poisoning: a second response after the first one's end.
    name: 'res-extra-response',
    rfc: 'RFC 9112 §9.3.2 (responses answer requests in order, one each)',
    requests: [GET, GET],
    answer: `${OK2}HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil`,
    fulcrum: 'forward',
    client: { status: 200, body: 'ok', responses: 2 },
    isServerClosedAfter: true,
  },
  {
    name: 'res-1xx-to-http10',
    rfc: 'RFC 9110 §15.2 (no 1xx to an HTTP/1.0 client)',
    requests: ['GET / HTTP/1.0\r\nHost: a.example\r\n\r\n'],
    answer: `HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n${OK2}`,
    fulcrum: 'forward',
    client: { status: 200, body: 'ok' },
  },
  {
    name: 'res-100-then-200',
    rfc: 'RFC 9110 §15.2.1 (interim responses are forwarded to HTTP/1.1 clients)',
    requests: ['POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello'],
    answer: `HTTP/1.1 100 Continue\r\n\r\n${OK2}`,
    fulcrum: 'forward',
    client: { status: 200, body: 'ok' },
  },
  {
    // TE.TE on a response: a client that ignores the unknown coding reads Content-Length.
    name: 'res-te-unknown-with-cl',
    rfc: 'RFC 9112 §6.3 ¶3–4 (Transfer-Encoding overrides Content-Length; final coding not chunked: until close)',
    answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\nContent-Length: 2\r\n\r\nhello',
    close: true,
    fulcrum: 'refuse',
  },
  {
    name: 'res-te-gzip-only',
    rfc: 'RFC 9112 §6.3 ¶4 (response whose final coding is not chunked: read until close)',
    answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello',
    close: true,
    fulcrum: 'refuse',
  },
  {
    // Valid by RFC 9112 §6.1, but a coding the client may not know; HAProxy 2.6 refuses it, and so does Fulcrum.
    name: 'res-te-gzip-chunked',
    rfc: 'RFC 9112 §6.1 (chunked is the final coding)',
    answer: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    fulcrum: 'refuse',
  },
];
