/**
 * The error tables: every message renders with its parameters and none is left as "{name}"; a throw site that
 * forgets one fails (under test the constructors throw); errors keep what caused them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, ERRORS, fieldIssues, type ErrorCode } from './errors.ts';
import { EngineError, fillMessage, unfilledParams } from '../engine/errors.ts';

test('every code renders a sentence with no placeholder left when given its parameters', () => {
  for (const [code, def] of Object.entries(ERRORS)) {
    const names = [...def.message.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const params = Object.fromEntries(names.map((n) => [n, `<${n}>`]));
    const e = new ApiError(code as ErrorCode, params);
    assert.doesNotMatch(e.message, /\{\w+\}/, code);
    for (const n of names) assert.ok(e.message.includes(`<${n}>`), `${code} uses ${n}`);
    assert.equal(e.status, def.status);
  }
});

test('a missing message parameter fails under test, naming the code and the parameter', async () => {
  assert.ok(process.env.NODE_TEST_CONTEXT !== undefined || process.env.NODE_ENV === 'test', 'this file runs under node --test');
  const reports: string[] = [];
  const report = unfilledParams.report;
  unfilledParams.report = (text) => void reports.push(text);
  try {
    new ApiError('AUTH_FORBIDDEN', { role: 'viewer', action: 'apply' });
    new EngineError('IPVS_KERNEL', { operation: 'add service' });
    new ApiError('AUTH_THROTTLED', { seconds: 0 }); // zero is given, not missing
    const relayed = new ApiError('HA_PAIRING_CODE_EXPIRED', {}); // given its filled sentence at once: not a miss
    (relayed as { message: string }).message = 'This pairing code expired at 10:00; make a new one.';
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    unfilledParams.report = report;
  }
  assert.equal(reports.length, 2, reports.join('\n'));
  assert.match(reports[0], /^AUTH_FORBIDDEN was built without its message parameter needed: "Your role \(viewer\) may not apply; ask an \{needed\}\."/);
  assert.match(reports[1], /^IPVS_KERNEL was built without its message parameter errno/);
  assert.equal(fillMessage('{n} s', { n: 0 }), '0 s');
});

test("errors keep their cause; the engine's error relayed keeps its code, message and the engine error", () => {
  const io = Object.assign(new Error('SQLITE_FULL'), { code: 'SQLITE_FULL' });
  assert.equal(new ApiError('API_STORAGE_FULL', {}, undefined, undefined, { cause: io }).cause, io);
  assert.equal(new EngineError('ENGINE_UNREACHABLE', { socket: '/s', reason: 'gone' }, undefined, { cause: io }).cause, io);
  const engine = new EngineError('ENGINE_APPLY_FAILED', { version: 3, previous: 2, reason: 'web: refused' });
  const relayed = ApiError.from(engine);
  assert.deepEqual([relayed.code, relayed.status, relayed.message], ['ENGINE_APPLY_FAILED', 502, engine.message]);
  assert.equal(relayed.cause, engine);
});

test('an unknown key is a sentence that names the field by its full path', () => {
  const [one] = fieldIssues([{ code: 'unrecognized_keys', keys: ['wieght'], path: ['realServers', 1], message: 'Unrecognized key: "wieght"' }]);
  assert.deepEqual(one, { path: 'realServers.1.wieght', message: 'Unknown field "realServers.1.wieght"; remove it (check the spelling).' });
  const [two] = fieldIssues([{ code: 'unrecognized_keys', keys: ['a', 'b'], path: [], message: 'Unrecognized keys: "a", "b"' }]);
  assert.equal(two.message, 'Unknown fields "a", "b"; remove them (check the spelling).');
});
