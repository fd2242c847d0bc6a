/**
 * Writing to sockets without the stream machinery (the other half of reader.ts).
 *
 * socket.write() runs Writable's state machine for every chunk: a write request object, the length bookkeeping,
 * and a process.nextTick for the callback even when the kernel took every byte at once — profiled here at about a
 * tenth of a worker's user time per proxied request. `writeDirect` hands the chunk to the socket's handle itself,
 * which tries the write at once (libuv's try-write) and, for the rest, queues it in libuv in order after anything
 * queued before. Almost every write of a proxy ends there, synchronously, and costs nothing more.
 *
 * It is used only when nothing can overtake or be overtaken: a plain TCP socket set up by reader.ts (never TLS:
 * its writes always complete later), connected, not ended, with nothing held in Writable's own buffer and not
 * corked. Otherwise it is socket.write(). A chunk libuv has to keep (the kernel's send buffer was full) makes it
 * return false, like write() past the high-water mark, and the socket emits 'drain' once every such chunk is gone;
 * so callers pause the other side exactly as they did with write(). `end()` stays Writable's: libuv shuts the
 * socket down only after the writes it holds.
 *
 * The handle methods and the write request type are Node internals (process.binding('stream_wrap')); if a Node
 * version lacks them, every write is socket.write().
 */
import type net from 'node:net';
import util from 'node:util';
import { kPlain } from './reader.ts';
import { kIdle, touch, type IdleTimer } from './idle.ts';

interface WriteReq {
  oncomplete: ((this: WriteReq, status: number) => void) | null;
  socket: DirectSocket | null;
  /** Keeps a Buffer alive while libuv holds a pointer into it. */
  buffer: Uint8Array | null;
}
type Handle = {
  writeLatin1String(req: WriteReq, s: string): number;
  writeBuffer(req: WriteReq, b: Uint8Array): number;
  [kIdle]?: IdleTimer;
  [kPlain]?: boolean;
};
const kPending = Symbol('fulcrum.pendingWrites');
type DirectSocket = net.Socket & { _handle?: Handle | null; [kPending]?: number };

const binding = (() => {
  try {
    const b = (process as unknown as { binding(name: string): Record<string, unknown> }).binding('stream_wrap');
    const state = b.streamBaseState as Int32Array | undefined;
    const WriteWrap = b.WriteWrap as (new () => WriteReq) | undefined;
    if (typeof WriteWrap !== 'function' || !(state instanceof Int32Array) || typeof b.kLastWriteWasAsync !== 'number') return null;
    return { WriteWrap, state, kAsync: b.kLastWriteWasAsync };
  } catch {
    return null;
  }
})();

/**
 * A request object that went through a write completed at once is not kept by Node (no native request is attached
 * to it), so one spare serves every synchronous write; a write that went asynchronous keeps its object, and a new
 * spare is made.
 */
let spare: WriteReq | null = binding ? new binding.WriteWrap() : null;

function writeError(status: number): Error {
  return Object.assign(new Error(`write ${util.getSystemErrorName(status)}`), { code: util.getSystemErrorName(status), errno: status, syscall: 'write' });
}

function onComplete(this: WriteReq, status: number): void {
  const s = this.socket!;
  this.socket = null;
  this.buffer = null;
  s[kPending]!--;
  if (s.destroyed) return;
  touch(s);
  if (status < 0) {
    s.destroy(writeError(status));
    return;
  }
  if (s[kPending] === 0) s.emit('drain');
}

/**
 * Writes `data` (a string is written as latin1: bytes as they came) and returns false when the caller should wait
 * for 'drain' before writing more. A Buffer may be the caller's: it is not copied, and libuv keeps it only when it
 * had to (then this keeps a reference), so it must not be a borrowed chunk of reader.ts's shared buffer.
 */
export function writeDirect(socket: net.Socket, data: string | Uint8Array): boolean {
  const s = socket as DirectSocket;
  const h = s._handle;
  // Write activity keeps the socket's inactivity timeout (idle.ts) from firing.
  const t = h == null ? undefined : h[kIdle];
  if (t !== undefined) t.idle = 0;
  else touch(s);
  if (spare === null || h == null || h[kPlain] !== true || s.connecting || s.destroyed || s.writableEnded || s.writableLength !== 0 || s.writableCorked !== 0) {
    return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
  }
  const req = spare;
  const err = typeof data === 'string' ? h.writeLatin1String(req, data) : h.writeBuffer(req, data);
  if (err !== 0) {
    s.destroy(writeError(err));
    return false;
  }
  if (binding!.state[binding!.kAsync] === 0) return true;
  spare = new binding!.WriteWrap();
  req.socket = s;
  req.buffer = typeof data === 'string' ? null : data;
  req.oncomplete = onComplete;
  s[kPending] = (s[kPending] ?? 0) + 1;
  return false;
}

/** True while libuv holds chunks written by writeDirect (tests). */
export function hasPendingWrites(socket: net.Socket): boolean {
  return ((socket as DirectSocket)[kPending] ?? 0) > 0;
}
