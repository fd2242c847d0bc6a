/**
 * The HA page in a real browser, with a real peer: the browser's console (the e2e appliance) shows a one-time
 * pairing code; a second console — its own process, data directory, SQLite file and engine, serving the API and the
 * peer link on loopback (lib/ha/testing/console.ts) — pairs with it as the secondary over mutual TLS. The page shows
 * the peer live, the secondary refuses edits naming this node, and unpairing (confirmed) forgets the pair on both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { test, expect } from '@playwright/test';
import { Client, spawnEngine } from '../lib/testing/harness.ts';
import { ADMIN, signIn } from './sign-in.ts';

/** The e2e console's peer link: FULCRUM_PEER_PORT's default. */
const PEER_LINK = 'https://127.0.0.1:9444';

test.describe.configure({ mode: 'serial' });

let peerDir = '';
let peerEngine: ChildProcess | undefined;
let peerConsole: ChildProcess | undefined;
let peer: Client;

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  return port;
}

test.beforeAll(async () => {
  peerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-e2e-peer-'));
  peerEngine = await spawnEngine(peerDir);
  peerConsole = spawn(process.execPath, ['--import', 'tsx', path.resolve('lib/ha/testing/console.ts')], {
    env: {
      ...process.env,
      FULCRUM_DATA_DIR: peerDir,
      FULCRUM_ENGINE_SOCKET: path.join(peerDir, 'engine.sock'),
      FULCRUM_INSECURE_HTTP: '1',
      FULCRUM_HA_NODE: 'fulcrum-b',
      FULCRUM_PEER_PORT: String(await freePort()),
      FULCRUM_HA_HEARTBEAT_MS: '500',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    peerConsole!.stdout!.on('data', (c) => {
      out += c;
      const m = /listening (\d+) (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    peerConsole!.on('exit', (code) => reject(new Error(`peer console exited (${code}): ${out}`)));
  });
  peer = new Client(`http://127.0.0.1:${port}`);
  await peer.req('GET', '/setup');
  const token = fs.readFileSync(path.join(peerDir, 'setup-token'), 'utf8').trim();
  expect((await peer.req('POST', '/setup', { token, ...ADMIN })).status).toBe(201);
  expect((await peer.login(ADMIN.username, ADMIN.password)).status).toBe(200);
});

test.afterAll(async () => {
  for (const c of [peerConsole, peerEngine]) {
    if (c && c.exitCode === null) {
      c.kill('SIGTERM');
      await once(c, 'exit');
    }
  }
  if (peerDir) fs.rmSync(peerDir, { recursive: true, force: true });
});

test('pair with a second console from the HA page, see it live, and unpair', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'High availability' }).click();
  await expect(page.getByRole('heading', { name: 'High availability' })).toBeVisible();
  await expect(page.getByTestId('node-role').first()).toHaveText(/not paired/);
  // Nothing to hand over without keepalived: the action is there but disabled, and says why.
  await expect(page.getByRole('button', { name: /Move the service to/ })).toBeDisabled();
  await expect(page.getByText(/no HA block, so keepalived does not run on this node/)).toBeVisible();

  await page.getByRole('button', { name: 'Show a pairing code' }).click();
  const code = (await page.getByTestId('pairing-code').textContent())!.trim();
  expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);

  // The other node enters the code (through its API: it has no browser here). A wrong code first: refused.
  const wrong = await peer.req('POST', '/ha/pair', { url: PEER_LINK, code: code.replace(/^./, (c) => (c === '0' ? '1' : '0')) });
  expect(wrong.body.error.code).toBe('HA_PAIRING_CODE_INVALID');
  const paired = await peer.req('POST', '/ha/pair', { url: PEER_LINK, code });
  expect(paired.status, paired.text).toBe(201);

  // This page hears it on the live feed, without a reload.
  await expect(page.getByTestId('node-name').nth(1)).toHaveText('fulcrum-b');
  await expect(page.getByText('fulcrum-b, this node is the')).toBeVisible();
  await expect(page.getByTestId('node-role').nth(1)).toHaveText(/secondary/);
  await expect(page.getByTestId('node-role').first()).toHaveText(/primary/);
  await expect(page.getByRole('heading', { name: 'Configuration sync' })).toBeVisible();
  await page.screenshot({ path: '.tmp/e2e-results/ha-paired.png', fullPage: true });

  // The secondary refuses edits and names this node.
  const edit = await peer.req('POST', '/certificates', { name: 'x', certificatePem: 'x', privateKeyPem: 'x' });
  expect(edit.status).toBe(409);
  expect(edit.body.error.code).toBe('HA_SECONDARY_READ_ONLY');
  expect(edit.body.error.message).toMatch(/make changes on .+ \(https:\/\/127\.0\.0\.1:\d+\)/);

  // Unpairing asks first, then both nodes forget the pair.
  await page.getByRole('button', { name: 'Unpair…' }).click();
  await expect(page.getByRole('dialog')).toContainText('Pairing again needs a new code');
  await page.getByRole('button', { name: 'Unpair both nodes' }).click();
  await expect(page.getByRole('heading', { name: 'Pair with the other node' })).toBeVisible();
  await expect.poll(async () => (await peer.req('GET', '/ha')).body.pair).toBeNull();
});
