/**
 * The rate limit with node:test's fake timers (no sleeps): a flapping server costs one message at once and one
 * summary at the end of the interval; a quiet interval lets the next alert through at once; the summary says where
 * each subject stands now; beyond maxHeld alerts are counted, not listed.
 */
import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertLimiter } from './limiter.ts';
import { messageOf, type Alert } from './types.ts';

const MIN = 60_000;
beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-12-01T19:00:00Z') }));
afterEach(() => mock.timers.reset());

const flap = (i: number): Alert => {
  const isDown = i % 2 === 0;
  return {
    kind: isDown ? 'server-down' : 'server-up',
    at: new Date().toISOString(),
    subject: 'symphony-web/sym-app-1',
    severity: isDown ? 'warning' : 'info',
    title: `Real server sym-app-1 of symphony-web is ${isDown ? 'down' : 'up again'}`,
    text: '',
  };
};

test('a server flapping 21 times in 5 minutes: one message at once, one summary when the 15 minutes end, nothing else', () => {
  const sent: { at: number; alerts: Alert[]; omitted: number }[] = [];
  const l = new AlertLimiter((alerts, omitted) => sent.push({ at: Date.now(), alerts, omitted }), { intervalMs: 15 * MIN });
  const t0 = Date.now();
  for (let i = 0; i < 21; i++) {
    l.push(flap(i));
    mock.timers.tick(15_000);
  }
  assert.equal(sent.length, 1, 'only the first went at once');
  assert.equal(sent[0].alerts[0].kind, 'server-down');
  assert.equal(l.heldCount, 20);
  mock.timers.tick(15 * MIN - 21 * 15_000 - 1);
  assert.equal(sent.length, 1, 'not a moment before the interval ends');
  mock.timers.tick(1);
  assert.equal(sent.length, 2);
  assert.equal(sent[1].at - t0, 15 * MIN);
  assert.equal(sent[1].alerts.length, 20);
  const m = messageOf(sent[1].alerts, sent[1].omitted);
  assert.match(m.subject, /^\[Fulcrum\] 20 alerts since 19:00 UTC: Real server sym-app-1 of symphony-web is down$/);
  assert.match(m.text, /Latest state:\n {2}Real server sym-app-1 of symphony-web is down\n/);
  mock.timers.tick(60 * MIN);
  assert.equal(sent.length, 2, 'nothing more while nothing happens');
});

test('after a quiet interval the next alert goes at once; one held alert alone is sent as itself', () => {
  const sent: Alert[][] = [];
  const l = new AlertLimiter((alerts) => sent.push(alerts), { intervalMs: 10 * MIN });
  l.push(flap(0));
  mock.timers.tick(MIN);
  l.push(flap(1));
  mock.timers.tick(9 * MIN);
  assert.equal(sent.length, 2);
  assert.equal(messageOf(sent[1]).subject, '[Fulcrum] Real server sym-app-1 of symphony-web is up again');
  mock.timers.tick(10 * MIN);
  l.push(flap(2));
  assert.equal(sent.length, 3, 'quiet for the interval: straight through');
});

test('beyond maxHeld the summary counts what it does not list', () => {
  const sent: { alerts: Alert[]; omitted: number }[] = [];
  const l = new AlertLimiter((alerts, omitted) => sent.push({ alerts, omitted }), { intervalMs: MIN, maxHeld: 5 });
  for (let i = 0; i < 12; i++) l.push(flap(i));
  mock.timers.tick(MIN);
  assert.deepEqual(
    sent.map((s) => [s.alerts.length, s.omitted]),
    [
      [1, 0],
      [5, 6],
    ],
  );
  assert.match(messageOf(sent[1].alerts, 6).text, /… and 6 more/);
});
