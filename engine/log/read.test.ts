/**
 * The log reader on a real directory: both workers' access files and the engine log kept apart, newest first, each
 * filter (service, server, status class, level, text, after), the limit, and queries refused naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogQuerySchema, readLogs } from './read.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-read-'));
const at = (s: number) => `2026-12-01T21:00:${String(s).padStart(2, '0')}.000Z`;
const access = (s: number, over: object) =>
  JSON.stringify({ time: at(s), level: 'info', msg: 'access', service: 'web', server: 'a', status: 200, path: `/p${s}`, ...over });
fs.writeFileSync(
  path.join(dir, 'access-0.1.log'),
  [access(1, {}), access(3, { status: 502, server: 'b', termination: 'SC' }), access(5, { service: 'api' })].join('\n') + '\n',
);
fs.writeFileSync(
  path.join(dir, 'access-1.1.log'),
  [access(2, { status: 404 }), access(4, { status: -1, termination: 'CH' }), '{"time":"2026-12-01T21:00:06'].join('\n'),
);
fs.writeFileSync(
  path.join(dir, 'engine.1.log'),
  [
    JSON.stringify({ time: at(1), level: 'info', src: 'engine', msg: 'applied', version: 3 }),
    JSON.stringify({ time: at(2), level: 'warn', src: 'engine', msg: 'real server web/a is down: connection refused' }),
    JSON.stringify({ time: at(3), level: 'error', src: 'engine', msg: 'rollback failed' }),
  ].join('\n') + '\n',
);

const paths = (q: object) => readLogs(dir, LogQuerySchema.parse(q)).lines.map((l) => l.path ?? l.msg);

test('access lines of every worker, newest first; a half-written last line is skipped', () => {
  assert.deepEqual(paths({}), ['/p5', '/p4', '/p3', '/p2', '/p1']);
});

test('filters: service, server, status class (none: no answer), text, after, limit', () => {
  assert.deepEqual(paths({ service: 'api' }), ['/p5']);
  assert.deepEqual(paths({ server: 'b' }), ['/p3']);
  assert.deepEqual(paths({ status: '5xx' }), ['/p3']);
  assert.deepEqual(paths({ status: '4xx' }), ['/p2']);
  assert.deepEqual(paths({ status: 'none' }), ['/p4']);
  assert.deepEqual(paths({ text: 'sc"' }), ['/p3']);
  assert.deepEqual(paths({ after: at(3) }), ['/p5', '/p4']);
  const r = readLogs(dir, LogQuerySchema.parse({ limit: '2' }));
  assert.deepEqual([r.lines.map((l) => l.path), r.isTruncated], [['/p5', '/p4'], true]);
});

test("the console's log apart", () => {
  fs.writeFileSync(
    path.join(dir, 'console.1.log'),
    `${JSON.stringify({ time: at(2), level: 'error', src: 'console', msg: 'unexpected error in API route' })}\n`,
  );
  assert.deepEqual(paths({ kind: 'console' }), ['unexpected error in API route']);
  assert.ok(!paths({ kind: 'engine' }).includes('unexpected error in API route'));
});

test('the engine log apart, with the least level', () => {
  assert.deepEqual(paths({ kind: 'engine' }), ['rollback failed', 'real server web/a is down: connection refused', 'applied']);
  assert.deepEqual(paths({ kind: 'engine', level: 'warn' }), ['rollback failed', 'real server web/a is down: connection refused']);
  assert.deepEqual(paths({ kind: 'engine', text: 'DOWN' }), ['real server web/a is down: connection refused']);
});

test('a query is refused naming the field', () => {
  for (const [q, field] of [
    [{ status: '6xx' }, 'status'],
    [{ limit: '0' }, 'limit'],
    [{ after: 'yesterday' }, 'after'],
    [{ kind: 'audit' }, 'kind'],
    [{ colour: 'red' }, 'colour'],
    [{ cursor: 'access-0:12' }, 'cursor'],
    [{ cursor: '../etc.1:0' }, 'cursor'],
  ] as const) {
    const r = LogQuerySchema.safeParse(q);
    assert.equal(r.success, false);
    assert.equal(String(r.error!.issues[0].path[0] ?? (r.error!.issues[0] as { keys?: string[] }).keys?.[0]), field);
  }
});

test('cursor: from the end, every line once, oldest first across workers, late and half-written lines, rotation', () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-read-cursor-'));
  const file = (name: string) => path.join(d, name);
  const line = (s: number, p: string, over: object = {}) => `${access(s, { path: p, ...over })}\n`;
  fs.writeFileSync(file('access-0.1.log'), line(1, '/before-0'));
  fs.writeFileSync(file('access-1.1.log'), line(1, '/before-1') + access(2, { path: '/b2' }).slice(0, 20));
  fs.writeFileSync(file('engine.1.log'), `${JSON.stringify({ time: at(1), level: 'info', msg: 'not an access line' })}\n`);
  const read = (cursor: string, over: object = {}) => readLogs(d, LogQuerySchema.parse({ cursor, ...over }));

  const start = read('end');
  // The end is the end of the last whole line: worker 1's line being written is read whole next time.
  assert.deepEqual(
    [start.lines, start.isTruncated, start.cursor],
    [[], false, `access-0.1:${line(1, '/before-0').length},access-1.1:${line(1, '/before-1').length}`],
  );
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-read-empty-'));
  const none = readLogs(empty, LogQuerySchema.parse({ cursor: 'end' }));
  assert.equal(none.cursor, '', 'no files yet: every file will be read from its start');
  fs.writeFileSync(path.join(empty, 'access-0.1.log'), line(3, '/first'));
  assert.deepEqual(
    readLogs(empty, LogQuerySchema.parse({ cursor: none.cursor })).lines.map((l) => l.path),
    ['/first'],
  );

  // Worker 1's buffered line from second 2 reaches its file after worker 0's from second 4: both come, by time.
  fs.appendFileSync(file('access-0.1.log'), line(4, '/a4'));
  fs.appendFileSync(file('access-1.1.log'), `${access(2, { path: '/b2' }).slice(20)}\n` + line(5, '/b5') + access(6, { path: '/b6' }).slice(0, 30));
  const first = read(start.cursor!, { limit: '2' });
  assert.deepEqual([first.lines.map((l) => l.path), first.isTruncated], [['/b2', '/a4'], true]);
  const second = read(first.cursor!, { limit: '2' });
  assert.deepEqual([second.lines.map((l) => l.path), second.isTruncated], [['/b5'], false], 'the half-written line waits');
  assert.deepEqual(read(second.cursor!).lines, [], 'nothing twice');

  // The rest of the half-written line, a rotation of worker 0 (file 2, and 1 removed), and a new worker 2.
  fs.appendFileSync(file('access-1.1.log'), `${access(6, { path: '/b6' }).slice(30)}\n`);
  fs.appendFileSync(file('access-0.1.log'), line(7, '/a7'));
  fs.writeFileSync(file('access-0.2.log'), line(8, '/a8', { status: 503 }));
  fs.writeFileSync(file('access-2.1.log'), line(9, '/c9'));
  const third = read(second.cursor!);
  assert.deepEqual(
    third.lines.map((l) => l.path),
    ['/b6', '/a7', '/a8', '/c9'],
  );
  fs.rmSync(file('access-0.1.log'));
  fs.appendFileSync(file('access-0.2.log'), line(10, '/a10'));
  // Filters apply; the cursor still moves past what they leave out.
  const fourth = read(third.cursor!, { status: '5xx' });
  assert.deepEqual(fourth.lines, []);
  assert.deepEqual(read(fourth.cursor!).lines, []);
  assert.match(fourth.cursor!, /^access-0\.2:\d+,access-1\.1:\d+,access-2\.1:\d+$/);
  // A reader that never had a cursor for a stream reads it from its first file.
  assert.deepEqual(
    read('access-0.2:0').lines.map((l) => l.path),
    ['/before-1', '/b2', '/b5', '/b6', '/a8', '/c9', '/a10'],
  );
});
