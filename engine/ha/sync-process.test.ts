/**
 * The sync daemon's kernel calls in their own process (sync-process.ts): on a machine without IPVS the child's
 * reason comes back as the open's error, with its code; with IPVS (the test kernel: ha.kernel.test.ts moves the
 * daemons through it at every takeover) the calls answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { openSyncProcess } from './sync-process.ts';

test('sync process: IPVS unavailable is the open\'s error, with its code; available, the daemons can be read', async () => {
  const hasIpvs = fs.existsSync('/proc/net/ip_vs') && process.getuid?.() === 0;
  if (!hasIpvs) {
    await assert.rejects(openSyncProcess(), (e: Error & { code?: string }) => {
      assert.match(e.code ?? '', /^IPVS_(UNAVAILABLE|PERMISSION)$/);
      assert.ok(e.message.length > 20, e.message);
      return true;
    });
    return;
  }
  const port = await openSyncProcess();
  try {
    assert.ok(Array.isArray(await port.daemons()));
  } finally {
    port.close();
  }
});
