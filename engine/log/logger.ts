/**
 * The one way Fulcrum makes a log: pino, one JSON line per event, to the terminal and to a file in the data
 * directory's logs/ rotated by size with a retained count (pino-roll), every line redacted by the one list in
 * redact.ts. The engine's log (engine-log.ts, `src: "engine"`) and the console's (lib/log.ts, `src: "console"`) are
 * both made here, so they share their line shape, their redaction and their rotation:
 *
 *   {"level":"warn","time":"2026-12-01T21:15:30.123Z","src":"engine","version":7,"msg":"apply failed; …"}
 *
 * (The layer 7 access log is not made here: one line per request, written by hand for its cost; access-log.ts.)
 */
import pino, { type Logger } from 'pino';
import pinoRoll from 'pino-roll';
import { redactFields, redactText } from './redact.ts';

export type LogLevel = 'info' | 'warn' | 'error';
/** An open rolled file (pino-roll's SonicBoom stream). */
export type RolledFile = Awaited<ReturnType<typeof pinoRoll>>;
export type LogFn = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface RolledFileOptions {
  /** The file's name; pino-roll numbers it (engine.log → engine.1.log, engine.2.log …, the highest is the active one). */
  file: string;
  /** Rotate at this size ("10m", "512k"). Default 10m. */
  size?: string;
  /** Rotated files kept besides the active one (older ones are removed, also those an earlier run left). Default 5. */
  keep?: number;
  /** Each line reaches the file before the call returns (a crash loses nothing; for logs of a few lines a minute). */
  isSync?: boolean;
}

/** Opens `file` for appending, 0600, rotated and pruned as the options say. */
export function openRolledFile(o: RolledFileOptions): Promise<RolledFile> {
  return pinoRoll({
    file: o.file,
    size: o.size ?? '10m',
    mkdir: true,
    mode: 0o600,
    sync: o.isSync ?? false,
    limit: { count: o.keep ?? 5, removeOtherLogFiles: true },
  });
}

/** pino's options for a Fulcrum log line from `src`: ISO time, the level by name, `msg`, redacted fields and message. */
export function lineOptions(src: string): pino.LoggerOptions {
  return {
    base: { src },
    level: 'info',
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }), log: (o: Record<string, unknown>) => redactFields(o) },
    hooks: {
      // The message is not a field, so formatters.log never sees it: a key pasted into an error text is cleaned here.
      logMethod(args, method) {
        const [first, ...rest] = args as unknown[];
        if (typeof first === 'string') return method.apply(this, [redactText(first), ...rest] as Parameters<typeof method>);
        if (typeof rest[0] === 'string') return method.apply(this, [first, redactText(rest[0]), ...rest.slice(1)] as Parameters<typeof method>);
        return method.apply(this, args);
      },
    },
  };
}

/** A pino logger from `src` over `streams` (the terminal, a rolled file, or both), as a LogFn. */
export function makeLogger(src: string, streams: pino.StreamEntry[]): { logger: Logger; log: LogFn } {
  const logger = pino(lineOptions(src), pino.multistream(streams));
  return { logger, log: (level, msg, fields = {}) => logger[level](fields, msg) };
}

/** Ends a rolled file, resolving once what was written is on disk. */
export function closeRolledFile(file: RolledFile | null): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!file) return resolve();
    file.once('close', () => resolve());
    file.end();
  });
}
