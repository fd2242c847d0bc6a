/**
 * Reads recent lines of the access log (every worker's access-<slot>.N.log), of the engine log (engine.N.log) or of the
 * console's log (console.N.log, lib/log.ts: the console writes it into the same directory) from a logs directory,
 * newest first, with a filter: what the engine's GET /v1/logs answers and the console's log viewer shows. Only the
 * last READ_BYTES of each file are read, so a query costs the same however large the logs have grown; older lines are
 * in the files (and in syslog, when it is set up).
 *
 *   kind     access | engine | console       status  1xx … 5xx, or "none" (no answer reached the client)
 *   level    the least level shown           text    a case-insensitive substring of the line
 *   service, server  exact names             after   only lines after this time (the viewer's live tail)
 *   cursor   read forward instead, from where the last answer's `cursor` left off (syslog-out's feed; below)
 *
 * With `cursor`, lines come oldest first, each once: the answer's `cursor` is where the next call goes on, exactly,
 * by file and byte offset, so no line is lost or repeated however many workers write at once or how late a worker's
 * buffered lines reach its file (a time cursor would skip those). "end" starts at the current end of every file
 * (nothing before it), "" at the start of every file; a cursor is a list of "<file>.<number>:<offset>" per file kind and worker, e.g.
 * "access-0.3:18230,access-1.2:99", the numbers pino-roll gives its files. A file born since (a new worker, a
 * rotation) is read from its start; a file rotated away before it was read is gone (the retention, 5 × 10 MB a
 * worker, bounds how long the reader may be away). `isTruncated`: more lines are there to read now.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const LOG_KINDS = ['access', 'engine', 'console'] as const;
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const;
const LEVELS = ['info', 'warn', 'error'] as const;
export const LOG_LIMIT_MAX = 1000;
const READ_BYTES = 4 * 1024 * 1024;

export const LogQuerySchema = z.strictObject({
  kind: z.enum(LOG_KINDS, { error: 'Give kind as access, engine or console.' }).default('access'),
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
  cursor: z
    .string()
    .max(8192)
    .regex(/^(end|(?:[a-z]+(-\d+)?\.\d+:\d+(,[a-z]+(-\d+)?\.\d+:\d+)*)?)$/, {
      error: 'Give cursor as "end" or as the cursor of the last answer, such as access-0.3:18230,access-1.2:99.',
    })
    .optional(),
});
export type LogQuery = z.infer<typeof LogQuerySchema>;
export type LogLine = Record<string, unknown> & { time: string; level: string; msg: string };

const FILES: Record<(typeof LOG_KINDS)[number], RegExp> = {
  access: /^access(-\d+)?(\.\d+)?\.log$/,
  engine: /^engine(\.\d+)?\.log$/,
  console: /^console(\.\d+)?\.log$/,
};
/** "access-1.3.log" → stream "access-1", number 3 (an unnumbered file is number 0). */
const FILE_PARTS = /^([a-z]+(?:-\d+)?)(?:\.(\d+))?\.log$/;

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

/** Lines matching `q` in `dir`, newest first, at most q.limit; `isTruncated` when more matched. With q.cursor: forward. */
export function readLogs(dir: string, q: LogQuery): { lines: LogLine[]; isTruncated: boolean; cursor?: string } {
  if (q.cursor !== undefined) return readForward(dir, q, q.cursor);
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

/** Where a reader stands in one stream of files (one worker's access log, the engine log): file number, byte offset. */
interface Position {
  n: number;
  offset: number;
}

function parseCursor(text: string): Map<string, Position> {
  const c = new Map<string, Position>();
  if (text === 'end' || text === '') return c;
  for (const part of text.split(',')) {
    const [file, offset] = part.split(':');
    const dot = file.lastIndexOf('.');
    c.set(file.slice(0, dot), { n: Number(file.slice(dot + 1)), offset: Number(offset) });
  }
  return c;
}

/**
 * The later of two cursors, stream by stream (a reader recovering from a crash between queueing lines and saving its
 * cursor holds two, and must not read anything again).
 */
export function laterCursor(a: string, b: string): string {
  const x = parseCursor(a);
  for (const [stream, p] of parseCursor(b)) {
    const q = x.get(stream);
    if (!q || p.n > q.n || (p.n === q.n && p.offset > q.offset)) x.set(stream, p);
  }
  return a === 'end' && b === 'end' ? 'end' : formatCursor(x);
}

const formatCursor = (c: Map<string, Position>) =>
  [...c]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([stream, p]) => `${stream}.${p.n}:${p.offset}`)
    .join(',');

/** The files of `kind` in `dir` by stream, each stream's in number order. */
function streams(dir: string, kind: LogQuery['kind']): Map<string, { n: number; file: string }[]> {
  const out = new Map<string, { n: number; file: string }[]>();
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    const m = FILE_PARTS.exec(name);
    if (!m || !FILES[kind].test(name)) continue;
    const list = out.get(m[1]) ?? [];
    list.push({ n: Number(m[2] ?? 0), file: path.join(dir, name) });
    out.set(m[1], list);
  }
  for (const list of out.values()) list.sort((a, b) => a.n - b.n);
  return out;
}

interface Found {
  line: LogLine;
  /** Where the stream's reader stands after this line. */
  after: Position;
}

/**
 * One stream's matching lines after `from`, at most `limit`, reading at most READ_BYTES in all; `scanned` is where it
 * stopped (past lines that did not match, never into a line still being written), `isMore` whether it left some.
 */
function readStream(files: { n: number; file: string }[], from: Position, q: LogQuery) {
  const text = q.text?.toLowerCase();
  const found: Found[] = [];
  let scanned = from;
  let budget = READ_BYTES;
  for (const f of files) {
    if (f.n < from.n) continue;
    const size = fs.statSync(f.file).size;
    // A file shorter than the offset is not the one the cursor read (made again): from its start.
    let offset = f.n === from.n && from.offset <= size ? from.offset : 0;
    if (f.n > scanned.n) scanned = { n: f.n, offset: 0 };
    const length = Math.min(size - offset, budget);
    if (length <= 0) continue;
    const buf = Buffer.alloc(length);
    const fd = fs.openSync(f.file, 'r');
    try {
      fs.readSync(fd, buf, 0, length, offset);
    } finally {
      fs.closeSync(fd);
    }
    budget -= length;
    let start = 0;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
      const raw = buf.toString('utf8', start, nl);
      offset += nl + 1 - start;
      start = nl + 1;
      scanned = { n: f.n, offset };
      if (raw === '' || (text !== undefined && !raw.toLowerCase().includes(text))) continue;
      let l: LogLine;
      try {
        l = JSON.parse(raw);
      } catch {
        continue; // not ours
      }
      if (typeof l.time !== 'string' || !matches(l, q)) continue;
      found.push({ line: l, after: scanned });
      if (found.length === q.limit) return { found, scanned, isMore: true };
    }
    if (budget === 0) return { found, scanned, isMore: true };
  }
  return { found, scanned, isMore: false };
}

/** The offset just past the file's last whole line (a line being written is read whole next time). */
function endOfLastLine(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    const nl = tail.lastIndexOf(10);
    return nl === -1 ? size - tail.length : size - tail.length + nl + 1;
  } finally {
    fs.closeSync(fd);
  }
}

/** The cursor form of readLogs (the header's "With cursor"): every stream read on, merged by time, oldest first. */
function readForward(dir: string, q: LogQuery, cursorText: string): { lines: LogLine[]; isTruncated: boolean; cursor: string } {
  const all = streams(dir, q.kind);
  const cursor = parseCursor(cursorText);
  if (cursorText === 'end') {
    for (const [name, files] of all) {
      const last = files[files.length - 1];
      cursor.set(name, { n: last.n, offset: endOfLastLine(last.file) });
    }
    return { lines: [], isTruncated: false, cursor: formatCursor(cursor) };
  }
  const read = [...all].map(([name, files]) => ({ name, ...readStream(files, cursor.get(name) ?? { n: -1, offset: 0 }, q) }));
  const merged = read.flatMap((r) => r.found.map((f) => ({ ...f, name: r.name })));
  merged.sort((a, b) => (a.line.time < b.line.time ? -1 : a.line.time > b.line.time ? 1 : 0));
  const taken = merged.slice(0, q.limit);
  let isTruncated = merged.length > taken.length;
  for (const r of read) {
    const mine = taken.filter((t) => t.name === r.name);
    // All it found was taken: on past what it scanned; else just past the last line taken (the rest comes next time).
    const next = mine.length === r.found.length ? r.scanned : mine.length ? mine[mine.length - 1].after : undefined;
    if (next && next.n >= 0) cursor.set(r.name, next);
    isTruncated ||= r.isMore;
  }
  return { lines: taken.map((t) => t.line), isTruncated, cursor: formatCursor(cursor) };
}
