/**
 * Reads recent lines of the access log (every worker's access-<slot>.N.log) or of the engine log (engine.N.log) from
 * a logs directory, newest first, with a filter: what the engine's GET /v1/logs answers and the console's log viewer
 * shows. Only the last READ_BYTES of each file are read, so a query costs the same however large the logs have grown;
 * older lines are in the files (and in syslog, when it is set up).
 *
 *   kind     access | engine                 status  1xx … 5xx, or "none" (no answer reached the client)
 *   level    the least level shown           text    a case-insensitive substring of the line
 *   service, server  exact names             after   only lines after this time (the viewer's live tail)
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const LOG_KINDS = ['access', 'engine'] as const;
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const;
const LEVELS = ['info', 'warn', 'error'] as const;
export const LOG_LIMIT_MAX = 1000;
const READ_BYTES = 4 * 1024 * 1024;

export const LogQuerySchema = z.strictObject({
  kind: z.enum(LOG_KINDS, { error: 'Give kind as access or engine.' }).default('access'),
  level: z.enum(LEVELS, { error: 'Give level as info, warn or error.' }).optional(),
  service: z.string().min(1).max(200).optional(),
  server: z.string().min(1).max(200).optional(),
  status: z.enum(STATUS_CLASSES, { error: 'Give status as 1xx, 2xx, 3xx, 4xx, 5xx or none.' }).optional(),
  text: z.string().min(1).max(200).optional(),
  after: z.iso.datetime({ error: 'Give after as an ISO 8601 time such as 2026-12-01T21:00:00.000Z.' }).optional(),
  limit: z.coerce
    .number({ error: `Give limit as a whole number from 1 to ${LOG_LIMIT_MAX}.` })
    .int()
    .min(1, `Give limit from 1 to ${LOG_LIMIT_MAX}.`)
    .max(LOG_LIMIT_MAX, `Give limit from 1 to ${LOG_LIMIT_MAX}.`)
    .default(200),
});
export type LogQuery = z.infer<typeof LogQuerySchema>;
export type LogLine = Record<string, unknown> & { time: string; level: string; msg: string };

const FILES: Record<(typeof LOG_KINDS)[number], RegExp> = { access: /^access(-\d+)?(\.\d+)?\.log$/, engine: /^engine(\.\d+)?\.log$/ };

/** The last READ_BYTES of a file as whole lines. */
function tailLines(file: string): string[] {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const start = Math.max(0, size - READ_BYTES);
    const buf = Buffer.alloc(size - start);
    fs.readSync(fd, buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // cut mid-line
    return lines;
  } finally {
    fs.closeSync(fd);
  }
}

function statusClass(status: unknown): string {
  return typeof status === 'number' && status >= 100 ? `${Math.floor(status / 100)}xx` : 'none';
}

function matches(l: LogLine, q: LogQuery): boolean {
  if (q.after !== undefined && !(l.time > q.after)) return false;
  if (q.level !== undefined && LEVELS.indexOf(l.level as (typeof LEVELS)[number]) < LEVELS.indexOf(q.level)) return false;
  if (q.service !== undefined && l.service !== q.service) return false;
  if (q.server !== undefined && l.server !== q.server) return false;
  if (q.status !== undefined && statusClass(l.status) !== q.status) return false;
  return true;
}

/** Lines matching `q` in `dir`, newest first, at most q.limit; `isTruncated` when more matched. */
export function readLogs(dir: string, q: LogQuery): { lines: LogLine[]; isTruncated: boolean } {
  if (!fs.existsSync(dir)) return { lines: [], isTruncated: false };
  const text = q.text?.toLowerCase();
  const found: LogLine[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!FILES[q.kind].test(name)) continue;
    for (const raw of tailLines(path.join(dir, name))) {
      if (raw === '' || (text !== undefined && !raw.toLowerCase().includes(text))) continue;
      let l: LogLine;
      try {
        l = JSON.parse(raw);
      } catch {
        continue; // a line being written, or not ours
      }
      if (typeof l.time === 'string' && matches(l, q)) found.push(l);
    }
  }
  found.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  return { lines: found.slice(0, q.limit), isTruncated: found.length > q.limit };
}
