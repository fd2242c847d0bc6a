/** The data plane's lifecycle policies on their own: the restart backoff, how an exit is told, the close grace. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeGrace, exitText, RestartBackoff } from './lifecycle.ts';

test('restarts wait 100 ms doubling to 30 s while workers keep dying; a stable minute starts again at 100 ms', () => {
  const b = new RestartBackoff();
  const crashes = Array.from({ length: 12 }, () => b.next(5));
  assert.deepEqual(crashes, [100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000]);
  assert.equal(b.next(60_000), 100, 'a worker that ran a minute resets the count');
  assert.equal(b.next(59_999), 200, 'one that ran a little less does not');
  const many = new RestartBackoff({ initialMs: 1, maxMs: 1000 });
  for (let i = 0; i < 2000; i++) many.next(0);
  assert.equal(many.next(0), 1000, 'the count never overflows the cap');
});

test('an exit is told by its signal, else its code', () => {
  assert.equal(exitText(null, 'SIGKILL'), 'was killed by SIGKILL');
  assert.equal(exitText(1, null), 'exited with code 1');
  assert.equal(exitText(null, null), 'exited with code ?');
});

test('the close grace: the option, else FULCRUM_L7_CLOSE_GRACE_MS, else 5 s; a bad value is reported, not taken', () => {
  const cases: [number | undefined, string | undefined, number, boolean][] = [
    [undefined, undefined, 5000, false],
    [200, '9000', 200, false],
    [undefined, '2500', 2500, false],
    [undefined, ' 0 ', 0, false],
    [undefined, '600000', 600_000, false],
    [undefined, '', 5000, false],
    [undefined, '600001', 5000, true],
    [undefined, '-1', 5000, true],
    [undefined, '1.5', 5000, true],
    [undefined, '10s', 5000, true],
  ];
  for (const [option, env, ms, hasProblem] of cases) {
    const g = closeGrace(option, env);
    assert.equal(g.ms, ms, `${option} ${env}`);
    assert.equal(g.problem !== undefined, hasProblem, `${option} ${env}: ${g.problem}`);
  }
  assert.match(
    closeGrace(undefined, '10s').problem!,
    /^FULCRUM_L7_CLOSE_GRACE_MS="10s" is not a whole number of milliseconds from 0 to 600000; using 5000 ms$/,
  );
});
