/** status.ts: a kept verdict makes the same CheckResult as result() with the same code and params. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { result, resultOf, verdict, type CheckCode } from './status.ts';

const cases: [CheckCode, Record<string, unknown>][] = [
  ['L4OK', { target: '10.0.0.61:80' }],
  ['L7OK', { detail: 'HTTP 200 from /health on 10.0.0.61:80' }],
  ['L4CON', { target: '[2001:db8::61]:80', reason: 'connection refused (nothing listens on that port)' }],
  ['L7STS', { status: 503, path: '/health', target: '10.0.0.61:80', expected: '200-399' }],
];

test('resultOf(verdict(code, params), ms) equals result(code, params, ms), duration rounded alike', () => {
  for (const [code, params] of cases) {
    for (const ms of [0, 0.04, 1.26, 999.95]) assert.deepEqual(resultOf(verdict(code, params), ms), result(code, params, ms), `${code} ${ms}`);
  }
});

test('one verdict serves many runs, each result its own object with its own duration', () => {
  const v = verdict('L4OK', { target: '10.0.0.61:80' });
  const a = resultOf(v, 1.2);
  const b = resultOf(v, 3.4);
  assert.notEqual(a, b);
  assert.deepEqual([a.durationMs, b.durationMs, a.message], [1.2, 3.4, 'TCP connect to 10.0.0.61:80 succeeded']);
});

test('a verdict missing a placeholder throws, as result() does', () => {
  assert.throws(() => verdict('L4CON', { target: '10.0.0.61:80' }), /needs \{reason\}/);
});
