/**
 * encodeLine writes accessLine's bytes within lineRoom(e): each entry is written into a buffer of exactly lineRoom
 * bytes (a store past a typed array's end is dropped without a word, so a bound too small shows as a line that
 * differs), at an offset, with the bytes around it left alone. The cases are the longest each field can be written:
 * strings whose every character escapes to six bytes, numbers with the longest text JavaScript gives them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeLine, lineRoom, MAX_PATH } from './access-encode.ts';
import { accessLine, type AccessEntry } from './access-log.ts';

/** A number whose text is as long as any: "-3.0000000000000004e-301", 24 characters. */
const longest = -(0.1 + 0.2) * 1e-300;
const entry = (over: Partial<AccessEntry> = {}): AccessEntry => ({
  client: '127.0.0.1:51514',
  service: 'web',
  server: 'a',
  method: 'GET',
  path: '/',
  status: 200,
  bytesIn: 60,
  bytesOut: 120,
  timings: { requestMs: 0.1, queueMs: 0, connectMs: 0.25, responseMs: 1.5, totalMs: 1.925 },
  termination: '--',
  retries: 0,
  ...over,
});

const escapes = ['\u0001', '\u001f', '\u007f', 'é', '\u2028', '\ud800', '😀'];
const cases: [string, AccessEntry][] = [
  ['a plain entry', entry()],
  ['no server', entry({ server: undefined })],
  [
    'every number at its longest',
    entry({
      status: longest,
      bytesIn: longest,
      bytesOut: longest,
      retries: longest,
      timings: { requestMs: longest, queueMs: longest, connectMs: longest, responseMs: longest, totalMs: longest },
    }),
  ],
  ...escapes.map((c): [string, AccessEntry] => [
    `every string made of U+${c.codePointAt(0)!.toString(16).padStart(4, '0')}`,
    entry({
      client: c.repeat(40),
      service: c.repeat(70),
      server: c.repeat(70),
      method: c.repeat(20),
      path: c.repeat(MAX_PATH + 100),
      termination: c.repeat(2),
    }),
  ]),
  ['a path cut at its longest, marked', entry({ path: `${'\u0001'.repeat(MAX_PATH - 1)}ab` })],
  ['quotes and backslashes', entry({ path: '"\\'.repeat(300), client: '"'.repeat(30) })],
];

test('the longest number is as long as a number is written', () => assert.equal(String(longest).length, 24));

for (const [name, e] of cases) {
  test(`${name}: accessLine's bytes, within lineRoom`, (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 11, 6, 21, 0, 59, 7) });
    const want = Buffer.from(accessLine(e), 'latin1');
    const room = lineRoom(e);
    assert.ok(want.length <= room, `${want.length} bytes, room ${room}`);
    const b = Buffer.alloc(3 + room + 3, 0xee);
    const end = encodeLine(b, 3, e);
    assert.deepEqual(b.subarray(3, end), want);
    assert.deepEqual([...b.subarray(0, 3), ...b.subarray(end)], Array(b.length - want.length).fill(0xee), 'nothing written outside the line');
  });
}
