/**
 * Ping: the real iputils ping on loopback; a real time-out inside a network namespace this test creates (only its
 * own loopback, told to ignore echo requests); and fake `ping` programs for the outputs loopback cannot produce.
 * Fakes never send; the real ping only ever targets loopback (also in fake outputs, so no other address appears here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { HealthCheckSchema } from '../config/index.ts';
import { createPingChecker, pingCheck } from './ping.ts';
import type { Checker } from './types.ts';

// iputils-ping is installed by scripts/install-system-deps.sh; without it the tests below fail, not skip.
const hasPing = spawnSync('ping', ['-V']).status === 0;
const hasIpv6Loopback = hasPing && spawnSync('ping', ['-n', '-c', '1', '-W', '1', '-6', '::1']).status === 0;
const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-ping-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

function ping(checker: Checker, address: string, timeoutMs = 2000, signal?: AbortSignal) {
  const check = HealthCheckSchema.parse({ type: 'ping', timeoutMs, intervalMs: Math.max(timeoutMs, 5000) });
  return checker({ address, vip: '127.0.0.1', check, signal });
}

function fakePing(name: string, body: string): Checker {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return createPingChecker({ binary: file });
}

test("127.0.0.1 answers → L3OK with ping's round trip", { timeout: 10_000 }, async () => {
  const r = await ping(pingCheck, '127.0.0.1');
  assert.equal(r.code, 'L3OK', r.message);
  assert.match(r.message, /^Echo reply from 127\.0\.0\.1 in \d+(\.\d+)? ms$/);
});

test('::1 answers → L3OK', { skip: !hasIpv6Loopback, timeout: 10_000 }, async () => {
  const r = await ping(pingCheck, '::1');
  assert.equal(r.code, 'L3OK', r.message);
  assert.match(r.message, /^Echo reply from \[::1\] in /);
});

test('no echo reply inside a fresh network namespace → L3TOUT', { skip: !canNetns && 'needs root and ip netns', timeout: 15_000 }, async (t) => {
  const ns = `fulcrum-ping-${process.pid}`;
  const ip = (...args: string[]) => assert.equal(spawnSync('ip', args).status, 0, `ip ${args.join(' ')}`);
  ip('netns', 'add', ns);
  t.after(() => spawnSync('ip', ['netns', 'del', ns]));
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  ip('netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.icmp_echo_ignore_all=1');
  const inNs = fakePing('ping-in-ns', `exec ip netns exec ${ns} ping "$@"`);
  const r = await ping(inNs, '127.0.0.1', 300);
  assert.equal(r.code, 'L3TOUT', r.message);
  assert.equal(r.message, 'No echo reply from 127.0.0.1 within 300 ms');
});

test('fake ping: parses its reply, its errors and ICMP unreachable', { timeout: 10_000 }, async () => {
  const ok = fakePing('ok', `echo '64 bytes from 127.0.0.61: icmp_seq=1 ttl=64 time=12.3 ms'; exit 0`);
  assert.equal((await ping(ok, '127.0.0.61')).message, 'Echo reply from 127.0.0.61 in 12.3 ms');
  const unreachable = fakePing(
    'unreach',
    `echo 'PING 127.0.0.61 (127.0.0.61) 56(84) bytes of data.'; echo 'From 127.0.0.1 icmp_seq=1 Destination Host Unreachable'; exit 1`,
  );
  const u = await ping(unreachable, '127.0.0.61');
  assert.equal(u.code, 'L3ERR');
  assert.equal(u.message, 'Ping to 127.0.0.61 failed: Destination Host Unreachable (reported by 127.0.0.1)');
  const lost = fakePing('lost', `echo '1 packets transmitted, 0 received, 100% packet loss, time 0ms'; exit 1`);
  assert.equal((await ping(lost, '127.0.0.61')).code, 'L3TOUT');
  const err = fakePing('err', `echo 'ping: connect: Network is unreachable' >&2; exit 2`);
  assert.equal((await ping(err, '127.0.0.61')).message, 'Ping to 127.0.0.61 failed: connect: Network is unreachable');
});

test('fake ping: receives the flags, and one that hangs is killed at the timeout', { timeout: 10_000 }, async () => {
  const argsFile = path.join(dir, 'args.txt');
  const spy = fakePing('spy', `printf '%s ' "$@" > ${argsFile}; echo 'time=0.1 ms'`);
  await ping(spy, '::1', 1500);
  assert.equal(fs.readFileSync(argsFile, 'utf8').trim(), '-n -c 1 -W 1.5 -6 -- ::1');
  const pidFile = path.join(dir, 'hang.pid');
  const hang = fakePing('hang', `echo $$ > ${pidFile}; exec sleep 30`);
  const r = await ping(hang, '127.0.0.61', 300);
  assert.equal(r.code, 'L3TOUT');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  const deadline = Date.now() + 5000;
  while (isRunning(pid)) {
    assert.ok(Date.now() < deadline, `fake ping ${pid} still running 5 s after the time-out`);
    await new Promise((res) => setTimeout(res, 20));
  }
});

test('missing ping program, and a stopped check → L3ERR', { timeout: 10_000 }, async () => {
  const missing = createPingChecker({ binary: path.join(dir, 'no-such-ping') });
  assert.match((await ping(missing, '127.0.0.1')).message, /is not installed \(Debian package iputils-ping\)$/);
  const ac = new AbortController();
  const pending = ping(fakePing('slow', 'exec sleep 30'), '127.0.0.1', 60_000, ac.signal);
  ac.abort();
  const r = await pending;
  assert.equal(r.code, 'L3ERR');
  assert.match(r.message, /the check was stopped$/);
});

/** Gone, or a zombie nobody has reaped yet (it runs nothing). */
function isRunning(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}
