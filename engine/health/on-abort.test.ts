/**
 * on-abort.ts: one 'abort' listener per signal however many runs wait on it, each waiting run called once, a run
 * that settled (offAbort) not called at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { offAbort, onAbort } from './on-abort.ts';

/** A signal whose addEventListener calls are counted. */
function countedSignal() {
  const ac = new AbortController();
  const add = ac.signal.addEventListener.bind(ac.signal);
  const counter = { adds: 0 };
  ac.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
    counter.adds++;
    return add(...args);
  }) as AbortSignal['addEventListener'];
  return { ac, counter };
}

test('a thousand runs on one signal add one listener; only the runs still waiting hear the abort, once each', () => {
  const { ac, counter } = countedSignal();
  const calls: number[] = [];
  for (let run = 0; run < 1000; run++) {
    const f = () => calls.push(run);
    onAbort(ac.signal, f);
    offAbort(ac.signal, f);
  }
  const a = () => calls.push(-1);
  const b = () => calls.push(-2);
  const settled = () => calls.push(-3);
  onAbort(ac.signal, a);
  onAbort(ac.signal, b);
  onAbort(ac.signal, settled);
  offAbort(ac.signal, settled);
  offAbort(ac.signal, settled);
  assert.equal(counter.adds, 1);
  ac.abort();
  ac.abort();
  assert.deepEqual(calls, [-1, -2]);
});

test('signals are apart: aborting one calls nothing waiting on another', () => {
  const one = new AbortController();
  const two = new AbortController();
  const calls: string[] = [];
  onAbort(one.signal, () => calls.push('one'));
  onAbort(two.signal, () => calls.push('two'));
  one.abort();
  assert.deepEqual(calls, ['one']);
  two.abort();
  assert.deepEqual(calls, ['one', 'two']);
});

test('offAbort on a signal never used is harmless', () => {
  assert.doesNotThrow(() => offAbort(new AbortController().signal, () => undefined));
});
