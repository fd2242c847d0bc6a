/**
 * GET /v1/logs on the engine's real socket, through the typed client: the engine log written by the engine's own
 * logger and an access log file are read back filtered, newest first; a bad query is refused naming its field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from './engine.ts';
import { createEngineServer, listenOnSocket } from './server.ts';
import { createEngineClient } from '../client/index.ts';
import { createEngineLog } from '../log/engine-log.ts';
import type { DataPlane } from '../dataplane.ts';

const plane: DataPlane = {
  name: 'l7',
  capabilities: async () => ({ dataPlane: 'l7', isAvailable: true }),
  apply: async () => [],
  counters: async () => new Map(),
  close: async () => undefined,
};

test('the engine and access logs read back over the socket, filtered; a bad query names its field', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-logs-endpoint-'));
  const logsDir = path.join(dir, 'logs');
  const engineLog = await createEngineLog({ file: path.join(logsDir, 'engine.log'), isStdout: false });
  engineLog.log('info', 'applied', { version: 1 });
  engineLog.log('warn', 'real server web/a is down: connection refused');
  await engineLog.close();
  fs.writeFileSync(
    path.join(logsDir, 'access-0.1.log'),
    [
      { time: '2026-12-01T21:00:01.000Z', level: 'info', msg: 'access', service: 'web', server: 'a', status: 200, path: '/ok', termination: '--' },
      { time: '2026-12-01T21:00:02.000Z', level: 'info', msg: 'access', service: 'web', server: 'a', status: 503, path: '/down', termination: 'SC' },
    ]
      .map((l) => JSON.stringify(l))
      .join('\n') + '\n',
  );
  const e = new Engine(dir, [plane], () => undefined);
  const server = createEngineServer(e, () => undefined, logsDir);
  const socket = path.join(dir, 'engine.sock');
  await listenOnSocket(server, socket);
  try {
    const client = createEngineClient(socket);
    const warn = await client.logs({ kind: 'engine', level: 'warn' });
    assert.deepEqual(
      warn.lines.map((l) => [l.level, l.msg, l.src]),
      [['warn', 'real server web/a is down: connection refused', 'engine']],
    );
    const errors = await client.logs({ status: '5xx' });
    assert.deepEqual(
      errors.lines.map((l) => [l.path, l.termination]),
      [['/down', 'SC']],
    );
    assert.deepEqual(
      (await client.logs({})).lines.map((l) => l.path),
      ['/down', '/ok'],
    );
    await assert.rejects(
      client.logs({ status: 'bad' }),
      (err: Error & { code: string }) => err.code === 'ENGINE_BAD_REQUEST' && /^.*status: Give status as 1xx/.test(err.message),
    );
  } finally {
    server.close();
    server.closeAllConnections();
    await e.close();
  }
});
