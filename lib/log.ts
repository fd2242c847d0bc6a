/**
 * The console's own log: one JSON line per event, made by the engine's logger factory (engine/log/logger.ts, pino),
 * so it has the engine log's shape with `src: "console"`, its redaction list (engine/log/redact.ts: a password, key,
 * token, cookie or Authorization value never reaches a line) and its rotation:
 *
 *   {"level":"warn","time":"2026-12-01T21:15:30.123Z","src":"console","requestId":"…","msg":"…"}
 *
 * To the terminal always (errors to stderr, the rest to stdout, as before), and once server.ts has called
 * openConsoleLogFile, to `<data dir>/logs/console.log` too (numbered by pino-roll: console.1.log …), rotated at 10 MB
 * with 5 kept. The file is written synchronously: the console logs a few lines a minute, and a line about a crash
 * must be on disk before the process goes.
 *
 * Kept on globalThis because Next's bundle and the custom server load separate copies of this module in one process
 * (as lib/bus.ts): one logger, one open file.
 */
import pino from 'pino';
import { closeRolledFile, type LogFn, type LogLevel, makeLogger, openRolledFile, type RolledFile, type RolledFileOptions } from '../engine/log/logger.ts';

export type { LogLevel };

interface ConsoleLog {
  log: LogFn;
  file: RolledFile | null;
}
const g = globalThis as unknown as { __fulcrumConsoleLog?: ConsoleLog };

// pino's multistream tells a stream marked with this symbol each line's level (lastLevel), so one stream can split.
const METADATA = Symbol.for('pino.metadata');
const ERROR_LEVEL = 50;
let terminalStream: pino.DestinationStream | undefined;
function terminal(): pino.DestinationStream {
  if (terminalStream) return terminalStream;
  const out = pino.destination({ fd: 1, sync: true });
  const err = pino.destination({ fd: 2, sync: true });
  const split = {
    [METADATA]: true,
    lastLevel: 0,
    write(line: string) {
      (split.lastLevel >= ERROR_LEVEL ? err : out).write(line);
    },
  };
  terminalStream = split;
  return split;
}

function current(): ConsoleLog {
  g.__fulcrumConsoleLog ??= { log: makeLogger('console', [{ level: 'info', stream: terminal() }]).log, file: null };
  return g.__fulcrumConsoleLog;
}

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  current().log(level, msg, fields);
}

export interface ConsoleLogFileOptions extends Omit<RolledFileOptions, 'isSync'> {
  /** Also to the terminal (default true; tests read the file alone). */
  isTerminal?: boolean;
}

/**
 * From now on lines go to `o.file` too (rotated by o.size, o.keep kept). A file that cannot be opened (a logs
 * directory another user owns) leaves the log on the terminal and says so there; answers whether the file is open.
 */
export async function openConsoleLogFile(o: ConsoleLogFileOptions): Promise<boolean> {
  let file: RolledFile;
  try {
    file = await openRolledFile({ file: o.file, size: o.size, keep: o.keep, isSync: true });
  } catch (e) {
    log('warn', `the console's log file cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); logging to the terminal only`, {
      file: o.file,
    });
    return false;
  }
  const previous = current().file;
  const streams: pino.StreamEntry[] = [{ level: 'info', stream: file }];
  if (o.isTerminal !== false) streams.push({ level: 'info', stream: terminal() });
  g.__fulcrumConsoleLog = { log: makeLogger('console', streams).log, file };
  await closeRolledFile(previous);
  return true;
}

/** The file's stream, if one is open (tests wait on its events). */
export const consoleLogFile = (): RolledFile | null => current().file;

/** Closes the file (if any); later lines go to the terminal only. */
export async function closeConsoleLog(): Promise<void> {
  const previous = g.__fulcrumConsoleLog?.file ?? null;
  g.__fulcrumConsoleLog = undefined;
  await closeRolledFile(previous);
}
