/** exchange-retry.ts in-process: which failures are retried, and where a retry goes (dispatch with a real runtime). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSafeToRetry, isWithinAttempts, retryElsewhere, type Retrying } from './exchange-retry.ts';
import type { Choice } from './dispatch.ts';
import { planServices } from './plan.ts';
import { ServiceRuntime, ServiceState, type ServerState } from './service.ts';
import { config, httpService } from './test-helpers.ts';

function runtime(persistence?: object) {
  const vs = httpService('r', 1, [], {
    realServers: [
      { name: 'a', address: '127.0.0.1', port: 2 },
      { name: 'b', address: '127.0.0.1', port: 3 },
    ],
    ...(persistence ? { persistence } : {}),
  } as never);
  const [plan] = planServices(config([vs]), new Map());
  return new ServiceRuntime(plan, new ServiceState('r'), Buffer.alloc(48), (_, s) => s);
}

function exchange(server: ServerState, persistentName?: string): Retrying & { choices: Choice[] } {
  const choices: Choice[] = [];
  return { group: '', hashKey: '', exclude: null, server, isFreshOnly: false, persistentName, phase: 'wait', choices, done: (c) => choices.push(c) };
}

const picked = (c: Choice | undefined) => (c !== undefined && 'server' in c ? c.server.name : JSON.stringify(c));

test('only what cannot have been acted on is retried', () => {
  assert.equal(isSafeToRetry(true, 'POST', true, false, true), true, 'a failed connect sent nothing');
  assert.equal(isSafeToRetry(false, 'GET', false, false, false), true);
  assert.equal(isSafeToRetry(false, 'POST', false, false, false), false, 'not idempotent');
  assert.equal(isSafeToRetry(false, 'PUT', true, false, false), false, 'a body was sent');
  assert.equal(isSafeToRetry(false, 'GET', false, true, false), false, 'a response byte came');
  assert.equal(isSafeToRetry(false, 'GET', false, false, true), false, 'the server may still be working');
});

test('each server once, plus two fresh connections', () => {
  const rt = runtime();
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => isWithinAttempts(rt, n)),
    [true, true, true, false],
  );
});

test('a failed server is excluded and the request goes to another; persistence lets go of it', () => {
  const rt = runtime({ type: 'source-ip' });
  const a = rt.byName.get('a')!;
  a.active++;
  const ex = exchange(a, 'a');
  retryElsewhere(rt, ex, a, false, true);
  assert.equal(a.active, 0, 'the failed server was released');
  assert.equal(ex.exclude?.has(a), true);
  assert.equal(ex.persistentName, undefined);
  assert.equal(ex.server, null);
  assert.equal(ex.phase, 'choose');
  assert.equal(picked(ex.choices[0]), 'b');
});

test('a reused connection the server had closed is retried on the same server, fresh, its idle ones dropped', () => {
  const rt = runtime({ type: 'source-ip' });
  const a = rt.byName.get('a')!;
  let dropped = 0;
  a.pool.closeIdle = () => void dropped++;
  a.active++;
  const ex = exchange(a, 'a');
  retryElsewhere(rt, ex, a, true, false);
  assert.equal(ex.isFreshOnly, true);
  assert.equal(dropped, 1);
  assert.equal(ex.exclude, null, 'not the server’s fault');
  assert.equal(ex.persistentName, 'a');
  assert.equal(picked(ex.choices[0]), 'a');
});
