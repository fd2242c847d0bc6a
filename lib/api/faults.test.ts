/**
 * Faults, each automated (issue 11): the engine paused during an apply and during a state change, then resumed; the
 * console killed at each step of an apply; the engine killed, whether this console started it or adopted it. After
 * each, console and engine agree on the running version, and every change is audited exactly once.
 *
 * Real parts: the engine daemon (SIGSTOP/SIGCONT/SIGKILL on its process), a real SQLite file, the API over HTTP, and
 * a second console process for the kills. No test times anything: waits are on states, each with a deadline.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
// A stuck engine is given up on after 1.5 s for an apply and 1 s for a state change (the product's are 15 s and 5 s).
process.env.FULCRUM_ENGINE_APPLY_TIMEOUT_MS = '1500';
process.env.FULCRUM_ENGINE_STATE_TIMEOUT_MS = '1000';
import { Client, setupAdmin, spawnEngine, startHarness, type Harness } from '../testing/harness.ts';

let h: Harness;
let admin: Client;

const service = (name: string, port: number) => ({
  name,
  layer: 4,
  mode: 'nat',
  address: '127.0.0.1',
  ports: [port],
  healthCheck: { type: 'none' },
  realServers: [
    { name: 'r1', address: '127.0.0.2', port: 8080 },
    { name: 'r2', address: '127.0.0.3', port: 8080 },
  ],
});

before(async () => {
  h = await startHarness();
  admin = await setupAdmin(h);
});
after(async () => {
  await h.close();
});

async function until<T>(what: string, f: () => Promise<T | undefined | null | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const engineStatus = async () => (await import('../engine.ts')).engine().status();
const settle = async () => (await import('../config/settle.ts')).settlePending();
const auditOf = async (action: string, objectId: string) =>
  (
    (await admin.req('GET', `/audit?limit=500&action=${action}`)).body.items as {
      action: string;
      objectId: string;
      outcome: string;
      message: string | null;
      after: unknown;
    }[]
  ).filter((a) => a.action === action && a.objectId === objectId);
const version = async (id: number) => ((await admin.req('GET', '/config-versions')).body.items as { id: number; status: string }[]).find((v) => v.id === id);

async function stageAndApply(name: string, port: number): Promise<number> {
  assert.equal((await admin.req('POST', '/virtual-services', service(name, port))).status, 201);
  const r = await admin.req('POST', '/apply', { comment: name });
  assert.equal(r.status, 200, r.text);
  return r.body.version;
}

test('engine paused during an apply: 503 pending, other writes go on, the late request is refused, and the version settles failed once', async () => {
  const v1 = await stageAndApply('base', 81);
  assert.equal((await admin.req('POST', '/virtual-services', service('paused', 82))).status, 201);
  const pid = h.engineProcess!.pid!;
  process.kill(pid, 'SIGSTOP');
  let resumed = false;
  try {
    const r = await admin.req('POST', '/apply', { comment: 'while paused' });
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, 'ENGINE_APPLY_PENDING');
    const v2 = r.body.error.details.version as number;
    assert.equal((await version(v2))!.status, 'applying');
    // No transaction is held across the call: other writes go through while the engine is stuck.
    assert.equal((await admin.req('POST', '/virtual-services', service('meanwhile', 83))).status, 201);
    process.kill(pid, 'SIGCONT');
    resumed = true;
    // The engine refuses the late request when its turn comes (deadline passed), or never reads it (the console
    // had hung up): either way it cannot run it, and the console settles it failed.
    await until('the engine to answer', async () => engineStatus().catch(() => null));
    await until('the version to settle', async () => (await settle()) === 0 && (await version(v2))!.status !== 'applying');
    assert.equal((await version(v2))!.status, 'failed');
    assert.equal((await engineStatus()).running!.version, v1, 'the engine still runs version 1: it refused the late request');
    const rows = await auditOf('config.apply', String(v2));
    assert.equal(rows.length, 1, 'audited exactly once');
    assert.equal(rows[0].outcome, 'failed');
    assert.match(
      rows[0].message!,
      /after its deadline and was not applied.*Settled from the engine's own record|no record of starting version \d+ before its deadline.*Settled by its deadline/,
    );
    // The staged change is still there to apply again, and now it goes through.
    const again = await admin.req('POST', '/apply', { comment: 'after resume' });
    assert.equal(again.status, 200, again.text);
    assert.equal((await engineStatus()).running!.version, again.body.version);
  } finally {
    if (!resumed) process.kill(pid, 'SIGCONT');
  }
});

test('engine paused during a state change: the state is stored and audited at once, and sent again when the engine answers', async () => {
  const vs = ((await admin.req('GET', '/virtual-services')).body.items as { name: string; realServers: { id: string; name: string }[] }[]).find(
    (v) => v.name === 'base',
  )!;
  const rs = vs.realServers.find((r) => r.name === 'r1')!;
  const pid = h.engineProcess!.pid!;
  process.kill(pid, 'SIGSTOP');
  let resumed = false;
  try {
    const r = await admin.req('PUT', `/real-servers/${rs.id}/state`, { state: 'drain' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.engine, /stored; the engine did not take it now/);
    assert.equal((await admin.req('POST', '/virtual-services', service('meanwhile-2', 84))).status, 201, 'other writes go on');
    process.kill(pid, 'SIGCONT');
    resumed = true;
    const { resendStates } = await import('../config/settle.ts');
    await until('the drain to reach the engine', async () => {
      await resendStates().catch(() => 0);
      const st = await engineStatus();
      return st.services.find((s) => s.name === 'base')?.realServers.find((x) => x.name === 'r1')?.operator === 'drain';
    });
    assert.equal((await auditOf('real-server.state', rs.id)).length, 1, "the person's change: one row");
    const resent = await auditOf('real-server.state-resend', rs.id);
    assert.equal(resent.length, 1, 'the catch-up: one row saying so');
    assert.match(resent[0].message!, /sent again when the engine answered/);
  } finally {
    if (!resumed) process.kill(pid, 'SIGCONT');
  }
});

/** A second console process (same database and engine) that kills itself at `fault`; resolves when it has died. */
async function consoleDiesAt(fault: string, request: (c: Client) => Promise<unknown>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('lib/testing/api-process.ts')], {
    env: { ...process.env, FULCRUM_FAULT: fault },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`console process exited before listening: ${out}`)));
  });
  const c = new Client(`http://127.0.0.1:${port}`);
  c.cookie = admin.cookie;
  c.csrf = admin.csrf;
  const exited = once(child, 'exit');
  await request(c).catch(() => undefined); // the connection dies with the process
  const [, signal] = await exited;
  assert.equal(signal, 'SIGKILL', `the console died at ${fault}`);
}

test('console killed before recording the version: nothing happened, nothing is pending, nothing is audited', async () => {
  const before = (await engineStatus()).running!.version;
  const lastVersion = (await admin.req('GET', '/config-versions')).body.items[0].id as number;
  assert.equal((await admin.req('POST', '/virtual-services', service('cut-first', 87))).status, 201);
  const lastAudit = (await admin.req('GET', '/audit?limit=1')).body.items[0].id as number;
  await consoleDiesAt('apply:before-version-row', (c) => c.req('POST', '/apply', { comment: 'cut first' }));
  assert.equal((await admin.req('GET', '/config-versions')).body.items[0].id, lastVersion, 'no version was recorded');
  assert.equal(await settle(), 0);
  assert.equal((await engineStatus()).running!.version, before);
  assert.deepEqual(
    ((await admin.req('GET', '/audit?limit=5')).body.items as { id: number }[]).filter((a) => a.id > lastAudit),
    [],
  );
  assert.ok(
    (await admin.req('GET', '/changes')).body.changes.some((c: { name: string }) => c.name === 'cut-first'),
    'the change is still staged',
  );
});

test('console killed after recording the version, before the engine had it: the next start settles it failed, once', async () => {
  const before = (await engineStatus()).running!.version;
  assert.equal((await admin.req('POST', '/virtual-services', service('cut-early', 85))).status, 201);
  await consoleDiesAt('apply:after-version-row', (c) => c.req('POST', '/apply', { comment: 'cut early' }));
  const v = ((await admin.req('GET', '/config-versions')).body.items as { id: number; status: string }[])[0];
  assert.equal(v.status, 'applying');
  // What the next console start runs: the engine never had it; once its deadline has passed it is failed.
  await until('the version to settle', async () => (await settle()) === 0);
  assert.equal((await version(v.id))!.status, 'failed');
  assert.equal((await engineStatus()).running!.version, before);
  const rows = await auditOf('config.apply', String(v.id));
  assert.equal(rows.length, 1);
  assert.match(rows[0].message!, /no record of starting version \d+ before its deadline.*Settled by its deadline/);
});

test('console killed after the engine applied, before the answer was recorded: the next start settles it applied, once', async () => {
  assert.equal((await admin.req('POST', '/virtual-services', service('cut-late', 86))).status, 201);
  await consoleDiesAt('apply:after-engine-answer', (c) => c.req('POST', '/apply', { comment: 'cut late' }));
  const v = ((await admin.req('GET', '/config-versions')).body.items as { id: number; status: string }[])[0];
  assert.equal(v.status, 'applying');
  assert.equal((await engineStatus()).running!.version, v.id, 'the engine runs it');
  assert.equal(await settle(), 0);
  assert.equal((await version(v.id))!.status, 'applied');
  const rows = await auditOf('config.apply', String(v.id));
  assert.equal(rows.length, 1);
  assert.equal(rows[0].outcome, 'success');
  assert.match(rows[0].message!, /Settled from the engine's own record/);
  assert.equal(await settle(), 0, 'settling again writes nothing more');
  assert.equal((await auditOf('config.apply', String(v.id))).length, 1);
});

test('engine killed: the supervisor starts a new one, which runs the recorded version; a paused one is not doubled', async () => {
  const { createEngineSupervisor } = await import('../engine-supervisor.ts');
  const running = (await engineStatus()).running!.version;
  let started = 0;
  const logs: string[] = [];
  const sup = createEngineSupervisor({
    probe: async () => (await engineStatus()).pid,
    start: () => {
      started++;
      void spawnEngine(h.dataDir).then((child) => {
        (h as unknown as { adopted: unknown }).adopted = child;
      });
    },
    log: (_l, msg) => logs.push(msg),
    everyMs: 100,
    misses: 2,
  });
  const kind = () => sup.state.kind as string;
  await sup.check();
  assert.equal(kind(), 'running');
  // Paused: alive, not answering. The supervisor says so and starts nothing.
  const pid = h.engineProcess!.pid!;
  process.kill(pid, 'SIGSTOP');
  try {
    await sup.check();
    await sup.check();
    assert.equal(kind(), 'not-answering');
    assert.equal(started, 0);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await sup.check();
  assert.equal(kind(), 'running');
  // Killed: gone. A new engine starts and reconciles to the recorded version.
  process.kill(pid, 'SIGKILL');
  await once(h.engineProcess!, 'exit');
  await sup.check();
  await sup.check();
  assert.equal(started, 1);
  const st = await until('the new engine to answer', async () => engineStatus().catch(() => null));
  assert.notEqual(st.pid, pid);
  assert.equal(st.running!.version, running, 'the new engine runs the recorded version');
  assert.ok(logs.some((m) => /not answering/.test(m)) && logs.some((m) => /starting a new one/.test(m)));
  sup.close();
  // The harness stops the engine it started; this one is ours to stop.
  const adopted = (h as unknown as { adopted?: import('node:child_process').ChildProcess }).adopted;
  adopted?.kill('SIGTERM');
});
