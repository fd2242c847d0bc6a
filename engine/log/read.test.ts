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
  ] as const) {
    const r = LogQuerySchema.safeParse(q);
    assert.equal(r.success, false);
    assert.equal(String(r.error!.issues[0].path[0] ?? (r.error!.issues[0] as { keys?: string[] }).keys?.[0]), field);
  }
});
