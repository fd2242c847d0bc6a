/** Choosing a server and the wait queue, in-process without sockets, on mocked timers (exact, no wall clock). */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { choose, release, type Choice, type ChooseRequest } from './dispatch.ts';
import { planServices } from './plan.ts';
import { ServiceRuntime, ServiceState, type ServerState } from './service.ts';
import { config, httpService } from './test-helpers.ts';

function runtime(queueMs: number) {
  const vs = httpService('q', 1, [], { realServers: [{ name: 'a', address: '127.0.0.1', port: 2, maxConnections: 1 }], layer7: { timeouts: { queueMs } } });
  const [plan] = planServices(config([vs]), new Map());
  return new ServiceRuntime(plan, new ServiceState('q'), Buffer.alloc(48), (_, s) => s);
}

const chosen = (c: Choice): ServerState => {
  assert.ok('server' in c, JSON.stringify(c));
  return c.server;
};

function request(): ChooseRequest & { choices: Choice[] } {
  const choices: Choice[] = [];
  return { group: '', hashKey: '', exclude: null, choices, done: (c) => choices.push(c) };
}

test('a woken waiter that finds every server full again keeps its first deadline', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const rt = runtime(300);
    const holder = request();
    choose(rt, holder);
    chosen(holder.choices[0]);
    const waiter = request();
    choose(rt, waiter);
    assert.equal(rt.state.queue.length, 1);
    mock.timers.tick(200);
    // A wake while the server is still full (another request took the slot first): back to the front of the queue.
    rt.state.wakeOne();
    assert.equal(rt.state.queue.length, 1);
    mock.timers.tick(99);
    assert.deepEqual(waiter.choices, []);
    mock.timers.tick(1);
    assert.deepEqual(waiter.choices, [{ error: 'queue-timeout' }], 'timed out 300 ms after it first queued');
    release(rt, chosen(holder.choices[0]));
  } finally {
    mock.timers.reset();
  }
});

test('a released slot goes to the longest waiter; a full queue answers at once', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const rt = runtime(1000);
    rt.plan.layer7.limits.maxQueue = 2;
    const [holder, w1, w2, w3] = [request(), request(), request(), request()];
    for (const r of [holder, w1, w2, w3]) choose(rt, r);
    assert.deepEqual(w3.choices, [{ error: 'queue-full' }]);
    release(rt, chosen(holder.choices[0]));
    assert.equal(w1.choices.length, 1);
    chosen(w1.choices[0]);
    assert.deepEqual(w2.choices, []);
  } finally {
    mock.timers.reset();
  }
});
