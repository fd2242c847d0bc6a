import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { IdleTimer, stepFor } from './idle.ts';

test('steps: a power of two at most an eighth of the timeout, within 8 … 1024 ms', () => {
  const cases: [number, number][] = [
    [100, 8],
    [128, 16],
    [1000, 64],
    [10_000, 1024],
    [60_000, 1024],
    [3_600_000, 1024],
  ];
  for (const [ms, step] of cases) assert.equal(stepFor(ms), step, `${ms} ms`);
});

test('an idle timer fires after its timeout of silence, never before; activity starts the count again; stop ends it', () => {
  mock.timers.enable({ apis: ['setInterval'] });
  try {
    let fired = 0;
    const t = new IdleTimer(() => fired++);
    t.set(100); // 8 ms steps: fires when a 14th step passes in silence
    mock.timers.tick(8 * 13);
    assert.equal(fired, 0, 'not at 104 ms: the first step may have come just after the last activity');
    mock.timers.tick(8);
    assert.equal(fired, 1);
    // Activity (a read or write zeroes the count) keeps it quiet however long it goes on.
    for (let i = 0; i < 50; i++) {
      mock.timers.tick(8 * 5);
      t.idle = 0;
    }
    assert.equal(fired, 1);
    // Silence again: it fires once a period.
    mock.timers.tick(8 * 14 * 2);
    assert.equal(fired, 3);
    t.set(1000); // a new timeout counts as activity
    mock.timers.tick(1000);
    assert.equal(fired, 3);
    t.stop();
    mock.timers.tick(10_000);
    assert.equal(fired, 3);
  } finally {
    mock.timers.reset();
  }
});
