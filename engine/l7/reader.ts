/**
 * Reading from sockets without the stream machinery.
 *
 * A proxy reads a chunk and, almost always, writes what it needs from it straight away. Node's Readable path
 * allocates a 64 KiB buffer per read, wraps it, pushes it through the stream state machine and emits 'data'. Here
 * the socket's handle reads into one buffer we own (`useUserBuffer`, what net's `onread` option uses) and calls our
 * own read callback, which hands the chunk to the socket's Reader and marks the socket active (idle.ts) — nothing
 * else: no per-read timer refresh, no lookups of net's internal slots. End of input and errors still go to Node's
 * own callback, so 'end', 'error' and 'close' behave as ever.
 *
 * The buffer is shared by every socket of the worker and reused on the next read, so a chunk handed to a Reader is
 * *borrowed*: copy what you keep past the callback (a partial head, a body chunk queued for writing). Everything
 * stays synchronous, so one buffer per process is safe.
 *
 * TLS sockets read the same way once their handshake is done: their handle (TLSWrap) decrypts into the shared
 * buffer and calls the same callback (enableDirectReadTls).
 *
 * The handle's `onread` slot, `useUserBuffer` and the read-result array are Node internals (process.binding
 * ('stream_wrap')). If a Node version lacks them, `enableDirectRead` says so and the caller falls back to 'data'
 * events.
 */
import net from 'node:net';
import { kIdle, touch, type IdleTimer } from './idle.ts';

/** Called with the `self` given to setReader as `this` (a shared method serves every socket: no closure per socket). */
export type Reader = (this: unknown, chunk: Buffer) => void;

const kReader = Symbol('fulcrum.reader');
const kSelf = Symbol('fulcrum.reader-self');
const kDirect = Symbol('fulcrum.direct');
/**
 * Marks a plain TCP socket set up here, and its handle (writer.ts reads it there: every handle has one shape);
 * writer.ts writes to such handles directly. Not TLS sockets: their handle takes one write at a time and completes
 * it later, which Writable's queue is there for.
 */
export const kPlain = Symbol('fulcrum.plain');
const kHeld = Symbol('fulcrum.held');

type OnRead = (this: Handle, arrayBuffer: unknown) => unknown;
type Handle = {
  reading: boolean;
  readStart(): number;
  readStop(): number;
  useUserBuffer?(b: Buffer): void;
  onread: OnRead;
  /** The socket's reader and inactivity timer, kept on the handle too: every handle has the same shape, sockets do not. */
  [kReader]?: Reader;
  [kSelf]?: unknown;
  [kIdle]?: IdleTimer;
  [kPlain]?: boolean;
};
type Direct = net.Socket & { [kReader]?: Reader; [kSelf]?: unknown; [kDirect]?: boolean; [kPlain]?: boolean; [kHeld]?: boolean; _handle?: Handle | null };

const SHARED = Buffer.allocUnsafe(64 * 1024);

const readState = (() => {
  try {
    const b = (process as unknown as { binding(name: string): Record<string, unknown> }).binding('stream_wrap');
    const state = b.streamBaseState;
    return state instanceof Int32Array && typeof b.kReadBytesOrError === 'number' ? { state, kRead: b.kReadBytesOrError } : null;
  } catch {
    return null;
  }
})();

/** Node's own read callback (net's onStreamRead), taken from the first handle: EOF and errors go to it. */
let nodeOnRead: OnRead | null = null;

/** A destroyed socket's handle gets net's no-op read callback, so this only ever runs for a live socket. */
function onDirectRead(this: Handle, arrayBuffer: unknown): unknown {
  const nread = readState!.state[readState!.kRead];
  if (nread > 0) {
    const t = this[kIdle];
    if (t !== undefined) t.idle = 0;
    const r = this[kReader];
    if (r !== undefined) r.call(this[kSelf], SHARED.subarray(0, nread));
    return undefined;
  }
  return nodeOnRead!.call(this, arrayBuffer);
}

/** Points a socket's handle at the shared buffer and our read callback. False when this Node cannot. */
function direct(socket: net.Socket): boolean {
  const s = socket as Direct;
  const handle = s._handle;
  if (readState === null || !handle || typeof handle.useUserBuffer !== 'function' || typeof handle.onread !== 'function') return false;
  if (nodeOnRead === null) nodeOnRead = handle.onread;
  else if (handle.onread !== nodeOnRead) return false;
  handle.useUserBuffer(SHARED);
  handle[kReader] = s[kReader];
  handle[kSelf] = s[kSelf];
  const t = (s as net.Socket & { [kIdle]?: IdleTimer })[kIdle];
  if (t !== undefined) handle[kIdle] = t;
  handle.onread = onDirectRead;
  s[kDirect] = true;
  s.read = heldRead;
  return true;
}

/**
 * Reading of a direct socket is driven here only, at the handle: Readable's own resume schedules a read(0) on the
 * next tick, which would restart reading that we have just paused. So `read` refuses while held.
 */
function heldRead(this: Direct, n?: number): unknown {
  if (this[kHeld]) return null;
  return net.Socket.prototype.read.call(this, n);
}

function markPlain(s: Direct): void {
  s[kPlain] = true;
  s._handle![kPlain] = true;
}

/** Stops reading (backpressure, or a request waiting its turn). */
export function pauseReading(socket: net.Socket): void {
  const s = socket as Direct;
  if (!s[kDirect]) {
    socket.pause();
    return;
  }
  s[kHeld] = true;
  const h = s._handle;
  if (h && h.reading && !s.destroyed) {
    h.reading = false;
    h.readStop();
  }
}

export function resumeReading(socket: net.Socket): void {
  const s = socket as Direct;
  if (!s[kDirect]) {
    socket.resume();
    return;
  }
  s[kHeld] = false;
  const h = s._handle;
  if (h && !h.reading && !s.destroyed && !s.connecting) {
    h.reading = true;
    h.readStart();
  }
}

export function isReadingPaused(socket: net.Socket): boolean {
  const s = socket as Direct;
  return s[kDirect] ? s[kHeld] === true : socket.isPaused();
}

/** Sets who gets this socket's chunks (borrowed, see above): `reader`, called with `self` as `this`. */
export function setReader<T>(socket: net.Socket, reader: ((this: T, chunk: Buffer) => void) | undefined, self?: T): void {
  const s = socket as Direct;
  s[kReader] = reader as Reader | undefined;
  s[kSelf] = self;
  if (s[kDirect] && s._handle) {
    s._handle[kReader] = reader as Reader | undefined;
    s._handle[kSelf] = self;
  }
}

/**
 * For a socket accepted with pauseOnConnect: read into the shared buffer and start reading. Returns false when
 * that is not possible here; the socket then gets 'data' events routed to its reader, and is resumed.
 */
export function enableDirectRead(socket: net.Socket): boolean {
  if (direct(socket)) {
    markPlain(socket as Direct);
    // Flowing, so that the end of input still becomes an 'end' event.
    socket.resume();
    return true;
  }
  routeDataEvents(socket);
  socket.resume();
  return false;
}

/**
 * For a TLS socket whose handshake is done and whose reader is set: decrypt into the shared buffer from now on.
 * What it decrypted along with the handshake waits in its Readable buffer; that goes to the reader first. Returns
 * false when that is not possible here (then the caller routes 'data' events).
 */
export function enableDirectReadTls(socket: net.Socket): boolean {
  if (!direct(socket)) return false;
  const s = socket as Direct;
  while (s.readableLength > 0 && !s.destroyed) {
    const chunk = net.Socket.prototype.read.call(s) as Buffer | null;
    if (chunk === null) break;
    touch(s);
    s[kReader]?.call(s[kSelf], chunk);
  }
  socket.resume();
  return true;
}

/** 'data' events to the socket's reader (the fallback, and TLS to real servers). */
export function routeDataEvents(socket: net.Socket): void {
  socket.on('data', (d: Buffer) => {
    touch(socket);
    const r = (socket as Direct)[kReader];
    if (r !== undefined) r.call((socket as Direct)[kSelf], d);
  });
}

/** A plain TCP connection that reads into the shared buffer (or, where it cannot, through 'data' events). */
export function connectDirect(host: string, port: number): net.Socket {
  const socket = net.connect({ host, port, noDelay: true });
  // net.connect made the handle synchronously; reading starts once connected.
  if (direct(socket)) markPlain(socket as Direct);
  else routeDataEvents(socket);
  return socket;
}

/** A copy that survives the next read. */
export function own(chunk: Buffer): Buffer {
  const b = Buffer.allocUnsafe(chunk.length);
  b.set(chunk);
  return b;
}
