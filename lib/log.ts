/**
 * One log line per event, JSON, to stdout/stderr. Fields are the caller's; values under secret-looking keys are
 * replaced before writing, so a password or key never reaches a log file.
 */
const SECRET = /pass(word)?|secret|token|privateKey|authorization|cookie/i;

export type LogLevel = 'info' | 'warn' | 'error';

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  const clean: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) clean[k] = SECRET.test(k) ? '[redacted]' : v;
  const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...clean });
  (level === 'error' ? process.stderr : process.stdout).write(line + '\n');
}
