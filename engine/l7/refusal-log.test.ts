/**
 * Refusals reach the proxy's log: from a cluster worker through the primary to the data plane's `log` option, with
 * the reason, and at most 50 a second per worker (the rest are counted in the next entry).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, exchangeUntilClose, freePort, httpService, startBackend, waitFor, type Backend } from './test-helpers.ts';
import { logRefusal, setProxyLog } from './proxy-log.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-refusal-log-'));
let dp: L7DataPlane | undefined;
let backend: Backend | undefined;

after(async () => {
  await dp?.close();
  await backend?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a refusal in a worker is logged by the primary, with the service, the client, the status and the reason', async () => {
  const entries: { level: string; msg: string; fields?: object }[] = [];
  dp = createL7DataPlane({ dataDir: dir, workers: 1, closeGraceMs: 200, log: (level, msg, fields) => entries.push({ level, msg, fields }) });
  backend = await startBackend('a');
  const port = await freePort();
  const applied = await dp.apply({ config: config([httpService('logged', port, [backend])]), decisions: new Map() });
  assert.equal(applied[0].status, 'programmed');
  const answer = await exchangeUntilClose(
    net.connect({ port, host: '127.0.0.1' }),
    'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  );
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /Content-Length is given more than once/);
  await waitFor(() => entries.some((e) => e.msg.includes('refused')), 'the refusal in the primary log');
  const e = entries.find((x) => x.msg.includes('refused'))!;
  assert.equal(e.level, 'warn');
  assert.match(e.msg, /^layer 7 service logged refused a request from 127\.0\.0\.1 with 400: Content-Length is given more than once/);
  assert.deepEqual(
    { ...(e.fields as object) },
    {
      code: 'H1_CONTENT_LENGTH_REPEATED',
      status: 400,
      reason: 'Content-Length is given more than once, or as a list (RFC 9110 §8.6).',
      service: 'logged',
      client: '127.0.0.1',
      side: 'request',
    },
  );
});

test('at most 50 entries a second; the next entry says how many were left out', async () => {
  const msgs: string[] = [];
  const previous = setProxyLog((_l, msg) => msgs.push(msg));
  try {
    // Start at the beginning of a second, so all 60 fall into one.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    for (let i = 0; i < 60; i++) logRefusal({ code: 'H1_BARE_LF', status: 400, reason: 'r', service: 's', client: `c${i}`, side: 'request' });
    assert.equal(msgs.length, 50);
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    logRefusal({ code: 'H1_BARE_LF', status: 400, reason: 'r', service: 's', client: 'late', side: 'request' });
    assert.match(msgs.at(-1)!, /from late with 400: r \(10 more refusals were not logged\)$/);
  } finally {
    setProxyLog(previous);
  }
});
