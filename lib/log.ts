/**
 * One log line per event, JSON, to stdout/stderr. Fields are the caller's; values under secret-looking keys (the one
 * list in engine/log/redact.ts, shared with the engine's logs) are replaced before writing, at the top level and one
 * level down, so a password or key never reaches a log file.
 */
import { redactFields } from '../engine/log/redact.ts';

export type LogLevel = 'info' | 'warn' | 'error';

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...redactFields(fields) });
  (level === 'error' ? process.stderr : process.stdout).write(line + '\n');
}
