/** External checks against real /bin/sh scripts written to a temporary directory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HealthCheckSchema } from '../config/index.ts';
import { externalCheck } from './external.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-external-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string, mode = 0o755): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode });
  return file;
}

function run(command: string, opts: { args?: string[]; isDynamicWeight?: boolean; timeoutMs?: number; signal?: AbortSignal } = {}) {
  const check = HealthCheckSchema.parse({
    type: 'external',
    timeoutMs: opts.timeoutMs ?? 5000,
    intervalMs: Math.max(opts.timeoutMs ?? 5000, 10_000),
    external: { command, args: opts.args ?? [], isDynamicWeight: opts.isDynamicWeight ?? false },
  });
  return externalCheck({ address: '10.0.0.61', port: 8080, vip: '10.0.0.100', vipPort: 80, check, signal: opts.signal });
}

test('exit 0 → PROCOK; exit 1 → PROCERR with the first line of stderr', { timeout: 10_000 }, async () => {
  const ok = script('ok.sh', 'exit 0');
  assert.deepEqual(pick(await run(ok)), { code: 'PROCOK', message: `${ok} exited with 0`, weight: undefined });
  const bad = script('bad.sh', 'echo "starting" ; echo "  database is read-only  " >&2; echo "second line" >&2; exit 1');
  assert.deepEqual(pick(await run(bad)), { code: 'PROCERR', message: `${bad} exited with 1: database is read-only`, weight: undefined });
  const quiet = script('quiet.sh', 'exit 3');
  assert.equal((await run(quiet)).message, `${quiet} exited with 3`);
  const chatty = script('chatty.sh', `printf '%0300d\\n' 0; exit 1`);
  const reason = (await run(chatty)).message.slice(`${chatty} exited with 1: `.length);
  assert.equal(reason.length, 200);
});

test('isDynamicWeight: 0 up, 1 down, 2 → weight 0, 52 → weight 50', { timeout: 10_000 }, async () => {
  const exit = (n: number) => script(`exit-${n}.sh`, `exit ${n}`);
  assert.deepEqual(pick(await run(exit(0), { isDynamicWeight: true })), { code: 'PROCOK', message: `${exit(0)} exited with 0`, weight: undefined });
  assert.equal((await run(exit(1), { isDynamicWeight: true })).code, 'PROCERR');
  assert.deepEqual(pick(await run(exit(2), { isDynamicWeight: true })), { code: 'PROCOK', message: `${exit(2)} exited with 2`, weight: 0 });
  assert.deepEqual(pick(await run(exit(52), { isDynamicWeight: true })), { code: 'PROCOK', message: `${exit(52)} exited with 52`, weight: 50 });
  assert.equal((await run(exit(52))).code, 'PROCERR'); // without isDynamicWeight any non-zero exit fails
});

test('arguments, environment and working directory the program receives', { timeout: 10_000 }, async () => {
  const out = path.join(dir, 'seen.txt');
  process.env.FULCRUM_TEST_SECRET = 'must-not-leak';
  const spy = script('spy.sh', `for a in "$@"; do echo "arg=$a"; done > ${out}; env | sort >> ${out}; echo "cwd=$(pwd)" >> ${out}`);
  const r = await run(spy, { args: ['--pool', 'a b'] });
  delete process.env.FULCRUM_TEST_SECRET;
  assert.equal(r.code, 'PROCOK');
  const seen = fs.readFileSync(out, 'utf8').split('\n');
  assert.deepEqual(
    seen.filter((l) => l.startsWith('arg=')),
    ['arg=--pool', 'arg=a b', 'arg=10.0.0.100', 'arg=80', 'arg=10.0.0.61', 'arg=8080'],
  );
  for (const v of [
    'FULCRUM_VIP=10.0.0.100',
    'FULCRUM_VIP_PORT=80',
    'FULCRUM_RIP=10.0.0.61',
    'FULCRUM_RIP_PORT=8080',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'cwd=/',
  ]) {
    assert.ok(seen.includes(v), `${v} in ${seen.join(' | ')}`);
  }
  assert.ok(!seen.some((l) => l.includes('must-not-leak')), 'the engine environment leaked');
});

test('past the timeout → PROCTOUT, and the grandchild it started is killed too', { timeout: 15_000 }, async () => {
  const pidFile = path.join(dir, 'grandchild.pid');
  const hang = script('hang.sh', `sleep 30 &\necho $! > ${pidFile}\nsleep 30`);
  const r = await run(hang, { timeoutMs: 300 });
  assert.equal(r.code, 'PROCTOUT');
  assert.equal(r.message, `${hang} did not finish within 300 ms and was killed`);
  const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(grandchild > 1);
  const deadline = Date.now() + 5000;
  while (isAlive(grandchild)) {
    assert.ok(Date.now() < deadline, `grandchild ${grandchild} still alive 5 s after the time-out`);
    await new Promise((res) => setTimeout(res, 20));
  }
});

test('missing or non-executable command, killed by a signal, stopped → PROCERR in words', { timeout: 10_000 }, async () => {
  const missing = path.join(dir, 'no-such-check');
  assert.deepEqual(pick(await run(missing)), { code: 'PROCERR', message: `${missing} could not be started: no such file`, weight: undefined });
  const plain = script('not-executable.sh', 'exit 0', 0o644);
  assert.match((await run(plain)).message, /could not be started: permission denied/);
  const killed = script('killed.sh', 'kill -TERM $$');
  assert.equal((await run(killed)).message, `${killed} was killed by SIGTERM`);
  const ac = new AbortController();
  const pending = run(script('long.sh', 'sleep 30'), { timeoutMs: 60_000, signal: ac.signal });
  ac.abort();
  const stopped = await pending;
  assert.equal(stopped.code, 'PROCERR');
  assert.match(stopped.message, /was stopped before it finished$/);
});

function pick(r: { code: string; message: string; weight?: number }) {
  return { code: r.code, message: r.message, weight: r.weight };
}

/**
 * kill(pid, 0) succeeds for a zombie too; a SIGKILLed grandchild is a zombie until whoever adopted it reaps it, and on
 * a machine whose init does not reap, that is never. A zombie runs nothing, so it counts as gone.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}
