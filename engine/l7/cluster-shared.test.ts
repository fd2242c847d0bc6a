/**
 * The default accept mode ('shared': every worker accepts on the listening socket the primary created), as the
 * daemon runs it: programming, a taken port reported per service, traffic, and a clean close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { createL7DataPlane } from './index.ts';
import { config, freePort, httpService, RawClient, startBackend } from './test-helpers.ts';

// A backstop for awaits without their own deadline (a request the proxy never answers): the test fails, not hangs.
test('shared accept: a taken port fails only its service; traffic flows on both workers; close leaves nothing', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-shared-'));
  const dp = createL7DataPlane({ dataDir: dir, workers: 2, closeGraceMs: 300 });
  const a = await startBackend('a');
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const busy = (taken.address() as net.AddressInfo).port;
  const port = await freePort();
  try {
    const res = await dp.apply({ config: config([httpService('busy', busy, [a]), httpService('ok', port, [a])]), decisions: new Map() });
    assert.deepEqual(
      res.map((r) => [r.name, r.status, r.code]),
      [
        ['busy', 'failed', 'PROXY_LISTEN_FAILED'],
        ['ok', 'programmed', undefined],
      ],
    );
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await RawClient.connect(port);
      statuses.push((await c.request('GET', '/')).status);
      c.close();
    }
    assert.deepEqual([...new Set(statuses)], [200]);
    const counters = (await dp.counters()).get('ok')!;
    assert.equal(counters.service.requests, 20, 'the counters of both workers add up');
  } finally {
    const pids = dp.workerPids();
    await dp.close();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    taken.close();
    await a.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
