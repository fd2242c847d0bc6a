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
import { openIpvsProcess, revive } from './ipvs-process.ts';

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
