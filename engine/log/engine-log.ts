/**
 * The engine's own log: pino, one JSON line per event, to stdout (the terminal, journald) and to
 * `<data dir>/logs/engine.log`, rotated by size with a retained count (pino-roll, as the access log). The line keeps
 * the shape the hand-written logger had, so it stays readable by eye and by the console's log viewer:
 *
 *   {"time":"2026-12-01T21:15:30.123Z","level":"warn","src":"engine","msg":"apply failed; …","version":7}
 *
 * Values under secret-looking keys are redacted by the one list in redact.ts (shared with the console's lib/log.ts).
 * stdout is written synchronously (a crash loses nothing there); the file asynchronously, flushed by close().
 */
import pino, { type Logger } from 'pino';
import pinoRoll from 'pino-roll';
import { redactFields } from './redact.ts';

export type LogLevel = 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

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

export const LINE_OPTIONS = {
  base: { src: 'engine' },
  messageKey: 'msg',
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }), log: (o: Record<string, unknown>) => redactFields(o) },
} as const;

export async function createEngineLog(
  opts: EngineLogOptions = {},
): Promise<{ log: LogFn; stream: Awaited<ReturnType<typeof pinoRoll>> | null; close(): Promise<void> }> {
  const streams: pino.StreamEntry[] = [];
  if (opts.isStdout !== false) streams.push({ level: 'info', stream: pino.destination({ fd: 1, sync: true }) });
  const file = opts.file
    ? await pinoRoll({ file: opts.file, size: opts.size ?? '10m', mkdir: true, mode: 0o600, limit: { count: opts.keep ?? 5, removeOtherLogFiles: true } })
    : null;
  if (file) streams.push({ level: 'info', stream: file });
  const logger: Logger = pino({ ...LINE_OPTIONS, level: 'info' }, pino.multistream(streams));
  return {
    log: (level, msg, fields = {}) => logger[level](fields, msg),
    /** The file's stream (tests wait on its 'write' and 'cleanup-complete' events). */
    stream: file,
    close: () =>
      new Promise<void>((resolve) => {
        if (!file) return resolve();
        file.once('close', () => resolve());
        file.end();
      }),
  };
}
