/**
 * Machinery of the differential smuggling test (smuggling.test.ts), kept apart from the case table:
 *
 *   - `frame`: a strict reference framer written from RFC 9112 — deliberately not Fulcrum's codec. It splits a
 *     byte stream into messages and lists every reason a lenient receiver could frame the same bytes differently
 *     (both lengths, two lengths, a coding other than plain chunked, bare CR or LF, control characters, folding,
 *     Host against an absolute target …). An empty list means there is one reading only.
 *   - `RawServer`: a real server that records exactly the bytes it receives, per connection, and answers each
 *     request it can frame (with a fixed 200, or with a case's exact bytes).
 *   - `startHaproxy`: HAProxy from a generated config, one frontend/backend pair per case, stopped by its pid.
 *   - `converse`: a raw client that sends a case's bytes and collects everything that comes back.
 * Loopback only.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface Message {
  startLine: string;
  /** Field lines as sent: name, value (trimmed). */
  fields: [string, string][];
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** The body's data (chunk data joined), latin1. */
  body: string;
  method: string;
  target: string;
  /** Responses only. */
  status: number;
}

export interface Framing {
  messages: Message[];
  /** Why a lenient receiver could read the stream differently; empty when it cannot. */
  violations: string[];
  /** A message had begun and not ended when the bytes ran out. */
  isIncomplete: boolean;
  /** Head of the incomplete message, when its head was complete (Expect: 100-continue). */
  pending?: Message;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ ]+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const CHUNK_LINE =
  /^([0-9A-Fa-f]{1,16})((?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[^"\\]|\\.)*"))?)*)[ \t]*$/;

/** The first byte in s[from, to) that makes a head or a chunk line ambiguous: bare CR, bare LF, or a control character. */
function lineBreakViolation(s: string, from: number, to: number): string | undefined {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 10 && (i === from || s.charCodeAt(i - 1) !== 13)) return 'a bare LF';
    if (c === 13 && i + 1 < s.length && s.charCodeAt(i + 1) !== 10) return 'a bare CR';
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) return `control character 0x${c.toString(16).padStart(2, '0')}`;
  }
  return undefined;
}

type Step = { end: number; msg: Message } | { violation: string } | { need: true; pending?: Message };

/** Splits `buf` into requests or responses (`methods`: the request method each response answers, for HEAD). */
export function frame(buf: Buffer, kind: 'request' | 'response', opts: { methods?: string[]; isClosed?: boolean } = {}): Framing {
  const s = buf.toString('latin1');
  const out: Framing = { messages: [], violations: [], isIncomplete: false };
  let at = 0;
  let answered = 0;
  while (at < s.length) {
    if (kind === 'request' && s.startsWith('\r\n', at)) {
      at += 2; // RFC 9112 §2.2: an empty line before a request line is ignored
      continue;
    }
    const method = opts.methods?.[answered] ?? 'GET';
    const step = frameOne(s, at, kind, method, opts.isClosed ?? false);
    if ('violation' in step) {
      out.violations.push(step.violation);
      return out;
    }
    if ('need' in step) {
      out.isIncomplete = true;
      out.pending = step.pending;
      return out;
    }
    out.messages.push(step.msg);
    at = step.end;
    if (kind === 'response' && step.msg.status >= 200) answered++;
    if (step.msg.status === 101) return out; // a tunnel follows
  }
  return out;
}

function frameOne(s: string, at: number, kind: 'request' | 'response', method: string, isClosed: boolean): Step {
  const headEnd = s.indexOf('\r\n\r\n', at);
  const bad = lineBreakViolation(s, at, headEnd === -1 ? s.length : headEnd + 4);
  if (bad) return { violation: `${bad} in the head` };
  if (headEnd === -1) return { need: true };
  const lines = s.slice(at, headEnd).split('\r\n');
  const msg: Message = { startLine: lines[0], fields: [], framing: 'none', body: '', method: '', target: '', status: 0 };
  let minor: number;
  if (kind === 'request') {
    const m = REQUEST_LINE.exec(lines[0]);
    if (!m) return { violation: `a malformed request line ${JSON.stringify(lines[0])}` };
    msg.method = m[1];
    msg.target = m[2];
    minor = Number(m[3]);
  } else {
    const m = STATUS_LINE.exec(lines[0]);
    if (!m) return { violation: `a malformed status line ${JSON.stringify(lines[0])}` };
    minor = Number(m[1]);
    msg.status = Number(m[2]);
  }
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) return { violation: 'a folded field line (obs-fold)' };
    const colon = line.indexOf(':');
    const name = colon === -1 ? '' : line.slice(0, colon);
    if (!TOKEN.test(name)) return { violation: `a malformed field line ${JSON.stringify(line)}` };
    msg.fields.push([name, line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')]);
  }
  const all = (n: string) => msg.fields.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  if (msg.fields.some(([k]) => /^(content_length|transfer_encoding)$/i.test(k)))
    return { violation: 'a field named like a framing field with "_" (CGI maps it onto the real one)' };
  const cl = all('content-length');
  const te = all('transfer-encoding');
  if (cl.length > 1) return { violation: `Content-Length given ${cl.length} times` };
  if (cl.length === 1 && !/^\d{1,15}$/.test(cl[0])) return { violation: `Content-Length ${JSON.stringify(cl[0])} is not 1*DIGIT` };
  if (cl.length === 1 && /^0\d/.test(cl[0])) return { violation: 'Content-Length with leading zeros (octal to some readers)' };
  if (cl.length > 0 && te.length > 0) return { violation: 'both Content-Length and Transfer-Encoding' };
  if (te.length > 0 && minor === 0) return { violation: 'Transfer-Encoding in an HTTP/1.0 message' };
  let isChunked = false;
  if (kind === 'request') {
    if (te.length > 1 || (te.length === 1 && te[0].toLowerCase() !== 'chunked'))
      return { violation: `Transfer-Encoding ${JSON.stringify(te.join(', '))} is not exactly "chunked"` };
    isChunked = te.length === 1;
    const hosts = all('host');
    if (hosts.length > 1) return { violation: 'two Host fields' };
    const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(msg.target);
    if (abs && hosts.length === 1 && abs[1].toLowerCase() !== hosts[0].toLowerCase())
      return { violation: `an absolute target for ${abs[1]} with Host ${hosts[0]}` };
  } else if (te.length > 0) {
    const codings = te
      .join(',')
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .filter(Boolean);
    if (codings.some((c) => !TOKEN.test(c))) return { violation: 'a transfer coding that is not a token' };
    const chunked = codings.filter((c) => c === 'chunked').length;
    if (chunked > 1 || (chunked === 1 && codings.at(-1) !== 'chunked')) return { violation: `transfer codings ${JSON.stringify(codings.join(', '))}` };
    isChunked = chunked === 1;
  }
  let bodyAt = headEnd + 4;
  const noBody = kind === 'response' && (method === 'HEAD' || msg.status < 200 || msg.status === 204 || msg.status === 304);
  if (noBody) return { end: bodyAt, msg };
  if (isChunked) {
    msg.framing = 'chunked';
    const r = readChunked(s, bodyAt);
    if ('violation' in r) return r;
    if ('need' in r) return { need: true, pending: msg };
    msg.body = r.body;
    return { end: r.end, msg };
  }
  if (cl.length === 1) {
    msg.framing = 'length';
    const n = Number(cl[0]);
    if (s.length < bodyAt + n) return { need: true, pending: msg };
    msg.body = s.slice(bodyAt, bodyAt + n);
    return { end: bodyAt + n, msg };
  }
  if (kind === 'request') return { end: bodyAt, msg };
  msg.framing = 'close';
  if (!isClosed) return { need: true, pending: msg };
  msg.body = s.slice(bodyAt);
  bodyAt = s.length;
  return { end: bodyAt, msg };
}

function readChunked(s: string, at: number): { end: number; body: string } | { violation: string } | { need: true } {
  let body = '';
  let i = at;
  for (;;) {
    const eol = s.indexOf('\r\n', i);
    const bad = lineBreakViolation(s, i, eol === -1 ? s.length : eol);
    if (bad) return { violation: `${bad} in a chunk-size line` };
    if (eol === -1) return { need: true };
    const m = CHUNK_LINE.exec(s.slice(i, eol));
    if (!m) return { violation: `a malformed chunk-size line ${JSON.stringify(s.slice(i, Math.min(eol, i + 40)))}` };
    const size = parseInt(m[1], 16);
    if (size > 2 ** 40) return { violation: 'a chunk size beyond any body limit' };
    i = eol + 2;
    if (size === 0) break;
    if (s.length < i + size + 2) return { need: true };
    body += s.slice(i, i + size);
    if (!s.startsWith('\r\n', i + size)) return { violation: 'chunk data not followed by CRLF' };
    i += size + 2;
  }
  // Trailer section: field lines, then an empty line.
  for (;;) {
    const eol = s.indexOf('\r\n', i);
    const bad = lineBreakViolation(s, i, eol === -1 ? s.length : eol);
    if (bad) return { violation: `${bad} in the trailer section` };
    if (eol === -1) return { need: true };
    if (eol === i) return { end: i + 2, body };
    const line = s.slice(i, eol);
    const colon = line.indexOf(':');
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return { violation: `a malformed trailer line ${JSON.stringify(line)}` };
    i = eol + 2;
  }
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

/**
 * A real server that records, per connection, exactly the bytes it receives. Each request it can frame is answered
 * with `answer` (a case's exact bytes) or a plain 200; a request it cannot frame unambiguously gets a 400 and the
 * connection closes, as a strict server would do.
 */
export class RawServer {
  readonly connections: { bytes: Buffer; isClosed: boolean }[] = [];
  port = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(answer?: string, closeAfterAnswer = false) {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      const rec = { bytes: Buffer.alloc(0), isClosed: false };
      this.connections.push(rec);
      let answered = 0;
      let isDone = false;
      let sent100 = false;
      socket.on('data', (d) => {
        rec.bytes = Buffer.concat([rec.bytes, d]);
        if (isDone) return;
        const f = frame(rec.bytes, 'request');
        for (; answered < f.messages.length && !isDone; answered++) {
          socket.write(answer ?? OK, 'latin1');
          if (closeAfterAnswer) {
            isDone = true;
            socket.end();
          }
        }
        if (isDone) return;
        if (f.violations.length > 0) {
          isDone = true;
          socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 'latin1');
        } else if (
          answer === undefined &&
          !sent100 &&
          f.pending &&
          /^POST|^PUT/.test(f.pending.method) &&
          f.pending.fields.some(([k, v]) => k.toLowerCase() === 'expect' && v.toLowerCase() === '100-continue')
        ) {
          sent100 = true;
          socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        rec.isClosed = true;
        this.sockets.delete(socket);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Every request received, over all connections, framed strictly. */
  received(): Framing {
    const all: Framing = { messages: [], violations: [], isIncomplete: false };
    for (const c of this.connections) {
      const f = frame(c.bytes, 'request', { isClosed: c.isClosed });
      all.messages.push(...f.messages);
      all.violations.push(...f.violations);
      all.isIncomplete ||= f.isIncomplete;
    }
    return all;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export interface Conversation {
  bytes: Buffer;
  /** The proxy closed the connection. */
  isClosed: boolean;
}

/**
 * Sends each part in turn — the next once the proxy has answered (and gone quiet for 150 ms) or after 600 ms of
 * silence — and collects what comes back until the proxy closes, or goes quiet (400 ms after its last byte, 1.5 s
 * when it sends nothing at all).
 */
export function converse(port: number, parts: string[]): Promise<Conversation> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let bytes = Buffer.alloc(0);
    let isClosed = false;
    let wake: (() => void) | null = null;
    let lastData = 0;
    socket.on('data', (d) => {
      bytes = Buffer.concat([bytes, d]);
      lastData = Date.now();
      wake?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      isClosed = true;
      wake?.();
    });
    const settle = (quietMs: number, silentMs: number) =>
      new Promise<void>((r) => {
        const sentAt = Date.now();
        const before = bytes.length;
        const check = () => {
          const now = Date.now();
          const hasAnswer = bytes.length > before;
          if (isClosed || (hasAnswer && now - lastData >= quietMs) || (!hasAnswer && now - sentAt >= silentMs)) {
            wake = null;
            clearInterval(timer);
            r();
          }
        };
        const timer = setInterval(check, 25);
        wake = check;
      });
    socket.once('connect', async () => {
      for (let i = 0; i < parts.length && !isClosed; i++) {
        socket.write(parts[i], 'latin1');
        await (i < parts.length - 1 ? settle(150, 600) : settle(400, 1500));
      }
      socket.destroy();
      resolve({ bytes, isClosed });
    });
  });
}

/** The status of the first final response in `bytes` (1xx skipped), or null when none began. */
export function firstStatus(bytes: Buffer): number | null {
  const s = bytes.toString('latin1');
  const re = /HTTP\/1\.[01] (\d\d\d)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    const status = Number(m[1]);
    if (status >= 200 || status === 101) return status;
  }
  return null;
}

export interface HaproxyRoute {
  name: string;
  port: number;
  serverPort: number;
}

/**
 * HAProxy with one frontend and backend per route, started in the foreground (-db) and stopped by its pid. Plain
 * defaults otherwise: what is measured is HAProxy's own parser.
 */
export async function startHaproxy(routes: HaproxyRoute[]): Promise<{ pid: number; version: string; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-smuggling-haproxy-'));
  const cfg = path.join(dir, 'haproxy.cfg');
  let text = 'global\n  maxconn 2000\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n  timeout http-request 2s\n';
  for (const r of routes) {
    text += `frontend f_${r.name}\n  bind 127.0.0.1:${r.port}\n  default_backend b_${r.name}\n`;
    text += `backend b_${r.name}\n  server s 127.0.0.1:${r.serverPort}\n`;
  }
  fs.writeFileSync(cfg, text);
  const { execFileSync } = await import('node:child_process');
  const version = execFileSync('haproxy', ['-v']).toString().split('\n')[0];
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Should the test process end without after() (a crash, a runner timeout), HAProxy must not outlive it.
  const onExit = () => child.exitCode === null && child.signalCode === null && process.kill(child.pid!, 'SIGKILL');
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Ready once every frontend accepts.
  const deadline = Date.now() + 10_000;
  for (const r of routes) {
    for (;;) {
      if (child.exitCode !== null) {
        await stop();
        throw new Error(`haproxy exited: ${stderr}`);
      }
      const isUp = await new Promise<boolean>((resolve) => {
        const s = net.connect({ port: r.port, host: '127.0.0.1' }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (isUp) break;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`haproxy did not listen on ${r.port}: ${stderr}`);
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  return { pid: child.pid!, version, stop };
}
