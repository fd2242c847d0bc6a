/**
 * The engine's own log: to stdout (the terminal, journald) and to `<data dir>/logs/engine.log`, rotated by size with
 * a retained count. Made by logger.ts, as the console's log is (lib/log.ts): the same line shape, the same redaction
 * list (redact.ts), the same rotation. The console's log viewer reads these lines (read.ts):
 *
 *   {"level":"warn","time":"2026-12-01T21:15:30.123Z","src":"engine","version":7,"msg":"apply failed; …"}
 *
 * stdout is written synchronously (a crash loses nothing there); the file asynchronously, flushed by close().
 */
import pino from 'pino';
import { closeRolledFile, type LogFn, makeLogger, openRolledFile } from './logger.ts';

export type { LogFn, LogLevel } from './logger.ts';

export interface EngineLogOptions {
  /** The active file (rotated ones are numbered beside it: engine.1.log …); undefined: stdout only. */
  file?: string;
  /** Rotate at this size ("10m", "512k"). */
  size?: string;
  /** Rotated files kept. */
  keep?: number;
  /** Also write to stdout (default true). */
  isStdout?: boolean;
}

export async function createEngineLog(
  opts: EngineLogOptions = {},
): Promise<{ log: LogFn; stream: Awaited<ReturnType<typeof openRolledFile>> | null; close(): Promise<void> }> {
  const streams: pino.StreamEntry[] = [];
  if (opts.isStdout !== false) streams.push({ level: 'info', stream: pino.destination({ fd: 1, sync: true }) });
  const file = opts.file ? await openRolledFile({ file: opts.file, size: opts.size, keep: opts.keep }) : null;
  if (file) streams.push({ level: 'info', stream: file });
  const { log } = makeLogger('engine', streams);
  return {
    log,
    /** The file's stream (tests wait on its 'write' and 'cleanup-complete' events). */
    stream: file,
    close: () => closeRolledFile(file),
  };
}
