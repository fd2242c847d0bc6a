/**
 * The engine as it is shipped: compiled to JavaScript (engine/tsconfig.build.json, as scripts/ensure-build.mjs builds
 * it for npm start) and run by plain Node, without a TypeScript loader, down to its layer 7 workers and its health
 * monitor's child process. It starts, applies a checked layer 7 service and carries a request to a real server on
 * loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createEngineClient } from '../client/index.ts';

const OUT = path.resolve('.tmp', 'engine-build-test');

const freePort = () =>
  new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });

test('the compiled engine runs without a TypeScript loader, its workers and health checks too, and proxies a request', { timeout: 120_000 }, async (t) => {
  fs.rmSync(OUT, { recursive: true, force: true });
  execFileSync(process.execPath, [path.resolve('node_modules/typescript/bin/tsc'), '-p', 'engine/tsconfig.build.json', '--outDir', OUT], { stdio: 'inherit' });
  assert.ok(fs.existsSync(path.join(OUT, 'daemon', 'main.js')));
  assert.ok(!fs.readFileSync(path.join(OUT, 'daemon', 'engine.js'), 'utf8').includes("from '../config/index.ts'"), 'imports point at .js files');

  const backend = http.createServer((_req, res) => res.end('from the real server'));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  t.after(() => backend.close());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-compiled-'));
  const socket = path.join(dataDir, 'engine.sock');
  const daemon = spawn(process.execPath, [path.join(OUT, 'daemon', 'main.js')], {
    env: {
      PATH: process.env.PATH,
      FULCRUM_DATA_DIR: dataDir,
      FULCRUM_ENGINE_SOCKET: socket,
      FULCRUM_HEALTH_ALLOWED_NETWORKS: '127.0.0.0/8',
      NODE_OPTIONS: '',
    } as unknown as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => daemon.kill('SIGTERM'));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    daemon.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('engine listening')) resolve();
    });
    daemon.once('exit', (code) => reject(new Error(`the compiled engine exited (${code}): ${out}`)));
  });
  daemon.stdout!.resume();
  const port = await freePort();
  const client = createEngineClient(socket);
  const answer = await client.apply(1, 'h', {
    virtualServices: [
      {
        name: 'web',
        layer: 7,
        mode: 'http',
        address: '127.0.0.1',
        ports: [port],
        healthCheck: { type: 'connect' },
        realServers: [{ name: 'a', address: '127.0.0.1', port: (backend.address() as net.AddressInfo).port }],
      },
    ],
  });
  assert.equal(answer.ok, true, JSON.stringify(answer));
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port }, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve(b));
      })
      .on('error', reject);
  });
  assert.equal(body, 'from the real server');
  // Its workers, and the health monitor's child process, are plain Node on the compiled worker.js and runner-child.js.
  const children = execFileSync('pgrep', ['-P', String(daemon.pid)], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter(Boolean);
  const cmdlines = children.map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
  assert.ok(
    cmdlines.some((c) => /l7\/worker\.js/.test(c)),
    'the proxy runs in worker processes',
  );
  assert.equal(cmdlines.filter((c) => /health\/runner-child\.js/.test(c)).length, 1, 'the checks run in one child process');
  for (const cmdline of cmdlines) {
    assert.match(cmdline, /l7\/worker\.js|health\/runner-child\.js/);
    assert.doesNotMatch(cmdline, /tsx/);
  }
  assert.doesNotMatch(fs.readFileSync(`/proc/${daemon.pid}/cmdline`, 'utf8'), /tsx/);
});
