/**
 * Reading from sockets without the stream machinery.
 *
 * A proxy reads a chunk and, almost always, writes what it needs from it straight away. Node's Readable path
 * allocates a 64 KiB buffer per read, wraps it, pushes it through the stream state machine and emits 'data'; the
 * `onread` option of net sockets instead reads into one buffer we own and calls us back. That buffer is shared by
 * every socket of the worker and reused on the next read, so a chunk handed to a Reader is *borrowed*: copy what
 * you keep past the callback (a partial head, a body chunk queued for writing). Everything stays synchronous, so
 * one buffer per process is safe.
 *
 * Client sockets arrive from net.Server, which has no `onread` option; they are accepted paused
 * (pauseOnConnect) and switched to the same mode through the socket's internal slots, found once by their
 * description. If a Node version renames them, `enableDirectRead` says so and the caller falls back to 'data'
 * events (TLS sockets always use 'data': they decrypt in their own layer).
 */
import net from 'node:net';

export type Reader = (chunk: Buffer) => void;

const kReader = Symbol('fulcrum.reader');
type WithReader = net.Socket & { [kReader]?: Reader; _handle?: { useUserBuffer?(b: Buffer): void } | null };

const SHARED = Buffer.allocUnsafe(64 * 1024);

function dispatch(socket: WithReader, nread: number, buf: Buffer): void {
  const r = socket[kReader];
  if (r !== undefined) r(buf.subarray(0, nread));
}

/** The internal symbols net uses for `onread`, read off a throwaway socket. */
const slots = (() => {
  const probe = new net.Socket({ onread: { buffer: Buffer.alloc(1), callback: () => undefined } } as net.SocketConstructorOpts);
  const syms = Object.getOwnPropertySymbols(probe);
  const find = (d: string) => syms.find((s) => s.description === d);
  const kBuffer = find('kBuffer');
  const kBufferCb = find('kBufferCb');
  probe.destroy();
  return kBuffer && kBufferCb ? { kBuffer, kBufferCb } : null;
})();

const kDirect = Symbol('fulcrum.direct');
const kHeld = Symbol('fulcrum.held');
type Handle = { reading: boolean; readStart(): number; readStop(): number; useUserBuffer?(b: Buffer): void };
type Direct = net.Socket & { [kDirect]?: boolean; [kHeld]?: boolean; _handle?: Handle | null };

/**
 * Reading of a direct socket is driven here only, at the handle: Readable's own resume schedules a read(0) on the next
 * tick, which in `onread` mode would restart reading that we have just paused. So `read` refuses while held.
 */
function markDirect(socket: net.Socket): void {
  const s = socket as Direct;
  s[kDirect] = true;
  s.read = function (this: Direct, n?: number) {
    if (this[kHeld]) return null;
    return net.Socket.prototype.read.call(this, n);
  };
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

/** True for a socket set up here (plain TCP, read into the shared buffer); writer.ts writes to such handles directly. */
export function isDirect(socket: net.Socket): boolean {
  return (socket as Direct)[kDirect] === true;
}

export function isReadingPaused(socket: net.Socket): boolean {
  const s = socket as Direct;
  return s[kDirect] ? s[kHeld] === true : socket.isPaused();
}

/** Sets who gets this socket's chunks (borrowed, see above). */
export function setReader(socket: net.Socket, reader: Reader | undefined): void {
  (socket as WithReader)[kReader] = reader;
}

/**
 * For a socket accepted with pauseOnConnect: read into the shared buffer and start reading. Returns false when
 * that is not possible here; the socket then gets 'data' events routed to its reader, and is resumed.
 */
export function enableDirectRead(socket: net.Socket): boolean {
  const s = socket as unknown as WithReader & Record<symbol, unknown>;
  const handle = s._handle;
  if (slots && handle && typeof handle.useUserBuffer === 'function') {
    s[slots.kBuffer] = SHARED;
    s[slots.kBufferCb] = (nread: number, buf: Buffer) => dispatch(s, nread, buf);
    handle.useUserBuffer(SHARED);
    markDirect(socket);
    // Flowing, so that the end of input still becomes an 'end' event.
    socket.resume();
    return true;
  }
  routeDataEvents(socket);
  socket.resume();
  return false;
}

/** 'data' events to the socket's reader (TLS sockets, and the fallback). */
export function routeDataEvents(socket: net.Socket): void {
  socket.on('data', (d: Buffer) => {
    const r = (socket as WithReader)[kReader];
    if (r !== undefined) r(d);
  });
}

/** A plain TCP connection that reads into the shared buffer. */
export function connectDirect(host: string, port: number): net.Socket {
  const socket: WithReader = net.connect({
    host,
    port,
    noDelay: true,
    onread: { buffer: SHARED, callback: (nread: number, buf: Buffer) => dispatch(socket, nread, buf) },
  } as unknown as net.NetConnectOpts);
  markDirect(socket);
  return socket;
}

/** A copy that survives the next read. */
export function own(chunk: Buffer): Buffer {
  const b = Buffer.allocUnsafe(chunk.length);
  b.set(chunk);
  return b;
}
