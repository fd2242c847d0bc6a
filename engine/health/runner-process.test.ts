/**
 * The monitor with its checks in its own child process, as the engine runs it: real child, real sockets on
 * loopback. Transitions cross the channel and reach only the monitor's callback; the child runs at a lower CPU
 * priority (every thread); last results come back with refresh(); runNow reaches the child; a child that dies is
 * logged and started again with every check, and the servers keep the health last reported meanwhile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { ConfigSchema } from '../config/index.ts';
import { HealthMonitor, type MonitorTransition } from './monitor.ts';

const listen = (port = 0) =>
  new Promise<net.Server>((resolve) => {
    const s = net.createServer((c) => c.destroy()).listen(port, '127.0.0.1', () => resolve(s));
  });
const close = (s: net.Server) => new Promise<void>((r) => s.close(() => r()));

/** This process's children running the monitor's child entry. */
function monitorChildren(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
        return (
          Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid &&
          fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('runner-child')
        );
      } catch {
        return false;
      }
    });
}

/** Niceness of every thread of `pid` (/proc/PID/task/TID/stat, field 19). */
function threadNiceness(pid: number): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

async function until<T>(what: string, f: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (a deadline, not a measure)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('checks in the child process: transitions over IPC, lower priority, refresh, runNow, restart after a crash', { timeout: 60_000 }, async (t) => {
  let server = await listen();
  const port = (server.address() as net.AddressInfo).port;
  const transitions: MonitorTransition[] = [];
  const logs: string[] = [];
  const m = new HealthMonitor({
    runner: 'process',
    allowedNetworks: ['127.0.0.0/8'],
    onTransitions: (b) => transitions.push(...b),
    onFeedback: () => undefined,
    log: (level, msg) => logs.push(`${level} ${msg}`),
  });
  t.after(() => m.close());
  t.after(() => server.close());
  const seen = () => transitions.map((x) => `${x.key} ${x.previous}→${x.health} ${x.code}`);
  m.update(
    ConfigSchema.parse({
      virtualServices: [
        {
          name: 'web',
          layer: 7,
          mode: 'http',
          address: '127.0.0.1',
          ports: [80],
          realServers: [{ name: 'a', address: '127.0.0.1', port }],
          healthCheck: { type: 'connect', intervalMs: 500, timeoutMs: 200, rise: 2, fall: 2 },
        },
      ],
    }),
  );
  assert.equal(m.healthOf('web/a'), 'unknown', 'known at once on this side, before the child has run anything');
  await until('first pass', () => m.healthOf('web/a') === 'up');
  assert.deepEqual(seen(), ['web/a unknown→up L4OK']);

  const [child] = await until('the child', () => (monitorChildren().length === 1 ? monitorChildren() : undefined));
  const nice = threadNiceness(child);
  assert.ok(nice.length > 1, 'several threads');
  // Niceness 10, or this process's own if it already runs lower (a priority is only ever lowered).
  assert.deepEqual(new Set(nice), new Set([Math.max(10, os.getPriority())]), 'every thread of the child at niceness 10');

  await m.refresh();
  const st = m.statusOf('web/a')!;
  assert.equal(st.code, 'L4OK');
  assert.equal(st.message, `TCP connect to 127.0.0.1:${port} succeeded`);
  assert.ok(st.lastCheckAt, "the last check's time came back with refresh");

  await close(server);
  await until('down after fall', () => m.healthOf('web/a') === 'down');
  assert.match(transitions.at(-1)!.message, /connection refused/);

  // The child dies: logged, started again with the server still down; no transition comes of the crash.
  process.kill(child, 'SIGKILL');
  await until('restart logged', () => logs.some((l) => /^error health monitor process \d+ was killed by SIGKILL; .*starts again in 100 ms/.test(l)));
  const [replacement] = await until('a new child', () => {
    const c = monitorChildren();
    return c.length === 1 && c[0] !== child ? c : undefined;
  });
  assert.notEqual(replacement, child);
  assert.equal(m.healthOf('web/a'), 'down');
  const before = transitions.length;
  await m.refresh();
  assert.equal(transitions.length, before, "a crash changes no server's health");

  // The replacement checks: the server back, up after rise passes (2), counted from the new child's first pass.
  server = await listen(port);
  m.runNow();
  await until('up again', () => m.healthOf('web/a') === 'up');
  assert.deepEqual(seen(), ['web/a unknown→up L4OK', 'web/a up→down L4CON', 'web/a down→up L4OK']);

  m.close();
  await until('the child ends with the monitor', () => monitorChildren().length === 0);
});
