/**
 * The engine's IPVS calls in their own process (ipvs-process.ts). Without IPVS (this machine, unprivileged) the
 * child's reason comes back as the open's error, with its code and its sentence; with IPVS (the test kernel, where
 * every layer 4 and HA kernel test goes through it) the calls answer. The wire form of errors keeps an EngineError
 * an EngineError: code, status, sentence and details.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { EngineError } from '../errors.ts';
import { InProcessGate, openIpvsProcess, revive } from './ipvs-process.ts';

test("IPVS process: unavailable is the open's error, with its code; available, the table and daemons can be read", async () => {
  const hasIpvs = fs.existsSync('/proc/net/ip_vs') && process.getuid?.() === 0;
  if (!hasIpvs) {
    await assert.rejects(openIpvsProcess(), (e: Error & { code?: string }) => {
      assert.ok(e instanceof EngineError, `an EngineError, not ${e.constructor.name}`);
      assert.match(e.code ?? '', /^IPVS_(UNAVAILABLE|PERMISSION)$/);
      assert.ok(e.message.length > 20, e.message);
      return true;
    });
    return;
  }
  const [a, b] = await Promise.all([openIpvsProcess(), openIpvsProcess()]);
  try {
    assert.ok(Array.isArray(await a.daemons()));
    assert.ok(Array.isArray(await b.table(new Set())));
    assert.equal(typeof (await a.info()).version, 'string');
  } finally {
    a.close();
    b.close();
  }
});

test('IPVS process: an error crosses as the EngineError it was; any other error keeps its code and sentence', () => {
  const sent = new EngineError('IPVS_KERNEL', { operation: 'adding service 10.0.0.1:80', errno: 'EINVAL' }, { hint: 1 });
  const e = revive({ code: sent.code, message: sent.message, status: sent.status, details: sent.details }) as EngineError;
  assert.ok(e instanceof EngineError);
  assert.deepEqual([e.name, e.code, e.status, e.message, e.details], ['EngineError', 'IPVS_KERNEL', 502, sent.message, { hint: 1 }]);
  const other = revive({ code: 'ENOBUFS', message: 'recvmsg ENOBUFS' });
  assert.ok(!(other instanceof EngineError));
  assert.deepEqual([(other as Error & { code?: string }).code, other.message], ['ENOBUFS', 'recvmsg ENOBUFS']);
});

test('IPVS process: a daemon start waits for the in-process calls running, and while it is asked for, calls go to the helper', async () => {
  const log: string[] = [];
  let opened = 0;
  let closed = 0;
  const gate = new InProcessGate(async () => {
    opened++;
    return { close: () => void closed++ };
  });
  const later = () => {
    let resolve!: (v: string) => void;
    return { promise: new Promise<string>((r) => (resolve = r)), resolve };
  };
  const turn = () => new Promise((r) => setImmediate(r));

  // A call in this process, still running.
  const inFlight = later();
  const first = gate.run(
    () => {
      log.push('in-process 1');
      return inFlight.promise;
    },
    async () => 'helper 1',
  );
  await turn();
  // A daemon start asked for now is not sent yet: the call above may be inside the kernel's genl lock's queue.
  const daemon = later();
  const start = gate.exclusive(() => {
    log.push('daemon start sent');
    return daemon.promise;
  });
  // Calls asked for meanwhile go to the helper, and are answered there while the start waits.
  assert.equal(
    await gate.run(
      async () => 'in-process 2',
      async () => 'helper 2',
    ),
    'helper 2',
  );
  await turn();
  assert.deepEqual(log, ['in-process 1']);
  inFlight.resolve('in-process 1 answered');
  assert.equal(await first, 'in-process 1 answered');
  await turn();
  assert.deepEqual(log, ['in-process 1', 'daemon start sent']);
  // Until the start is answered, still the helper; after it, this process again.
  assert.equal(
    await gate.run(
      async () => 'in-process 3',
      async () => 'helper 3',
    ),
    'helper 3',
  );
  daemon.resolve('started');
  assert.equal(await start, 'started');
  assert.equal(
    await gate.run(
      async () => 'in-process 4',
      async () => 'helper 4',
    ),
    'in-process 4',
  );
  assert.equal(opened, 1, 'one client, opened on first use');
  gate.close();
  await turn();
  assert.equal(closed, 1);
});

test('IPVS process: where the in-process client cannot be opened, every call goes to the helper', async () => {
  const gate = new InProcessGate<{ close(): void }>(async () => {
    throw new Error('EPERM');
  });
  for (let i = 0; i < 2; i++)
    assert.equal(
      await gate.run(
        async () => 'in-process',
        async () => 'helper',
      ),
      'helper',
    );
});
