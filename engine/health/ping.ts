/**
 * `ping`: one ICMP echo through the system's `ping` (iputils-ping), run without a shell.
 *
 * Why a subprocess: Node has no raw or ICMP datagram sockets (dgram speaks UDP only), so sending an echo request
 * natively would need an N-API addon opening SOCK_RAW (root) or SOCK_DGRAM/IPPROTO_ICMP (net.ipv4.ping_group_range).
 * The cost of not having one is a fork and exec per check: about 1.2 ms of CPU per ping run on the 2-core test
 * machine, plus Node's spawn. That is fine for tens of servers every few seconds; at thousands of pings a second an
 * addon would pay for itself.
 *
 *   ping's outcome                        │ result
 *   ──────────────────────────────────────┼──────────────────────────────────────────────
 *   exit 0, "time=0.045 ms"               │ L3OK with ping's round trip
 *   exit 1, nothing back                  │ L3TOUT
 *   exit 1, "Destination Host Unreachable"│ L3ERR with what the router said
 *   exit 2 and anything else              │ L3ERR with ping's own message ("connect: Network is unreachable")
 *   still running at timeoutMs            │ L3TOUT; its process group gets SIGKILL
 *
 * iputils takes `-W` in seconds with decimals (checked on 20221126); older versions warn and round, which is harmless
 * because our own timer, not ping's, decides when the check is over.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { SAFE_PATH, childEnv } from './external.ts';
import { result, targetText, type CheckResult } from './status.ts';
import type { Checker, CheckTarget } from './types.ts';

export interface PingOptions {
  /** The ping program; tests put a fake or a network-namespace wrapper here. Looked up in a fixed PATH. */
  binary?: string;
}

/**
 * The same bare environment as external checks (external.ts), plus LC_ALL=C: under some locales ping prints
 * "time=0,045 ms", and the parser expects C's decimal point.
 */
const ENV = childEnv({ PATH: SAFE_PATH, LC_ALL: 'C' });
/** Output kept: a reply or an error is one line; more is not read into memory. */
const MAX_OUTPUT = 4096;

export function createPingChecker({ binary = 'ping' }: PingOptions = {}): Checker {
  return (t) => new Promise<CheckResult>((resolve) => runPing(binary, t, resolve));
}

export const pingCheck: Checker = createPingChecker();

function runPing(binary: string, t: CheckTarget, resolve: (r: CheckResult) => void): void {
  const started = performance.now();
  const { timeoutMs } = t.check;
  const make = (code: 'L3OK' | 'L3TOUT' | 'L3ERR', params: Record<string, unknown>) =>
    result(code, { target: targetText(t.address), timeoutMs, ...params }, performance.now() - started);
  if (t.signal?.aborted) return resolve(make('L3ERR', { reason: 'the check was stopped' }));

  const seconds = String(Math.max(timeoutMs, 1) / 1000);
  const family = net.isIPv6(t.address) ? '-6' : '-4';
  const child = spawn(binary, ['-n', '-c', '1', '-W', seconds, family, '--', t.address], {
    shell: false,
    detached: true, // its own process group, so the kill below also takes a wrapper's children
    stdio: ['ignore', 'pipe', 'pipe'],
    env: ENV,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout = (stdout + d).slice(0, MAX_OUTPUT)));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(0, MAX_OUTPUT)));
  let isDone = false;

  const finish = (r: CheckResult) => {
    if (isDone) return;
    isDone = true;
    clearTimeout(timer);
    t.signal?.removeEventListener('abort', onAbort);
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: it exited between our check and the kill.
      }
    }
    child.stdout.destroy();
    child.stderr.destroy();
    resolve(r);
  };
  const onAbort = () => finish(make('L3ERR', { reason: 'the check was stopped' }));
  const timer = setTimeout(() => finish(make('L3TOUT', {})), timeoutMs);
  t.signal?.addEventListener('abort', onAbort, { once: true });

  child.on('error', (e: NodeJS.ErrnoException) => {
    const why = e.code === 'ENOENT' ? `${binary} is not installed (Debian package iputils-ping)` : `${binary} could not be started: ${e.code ?? e.message}`;
    finish(make('L3ERR', { reason: why }));
  });
  // 'close', not 'exit': by then all of ping's output has been read.
  child.on('close', (code, signal) => finish(verdict(code, signal, stdout, stderr, make)));
}

type Make = (code: 'L3OK' | 'L3TOUT' | 'L3ERR', params: Record<string, unknown>) => CheckResult;

/** Reads ping's exit and output; the shapes are iputils' (ping.c, ping_common.c). */
function verdict(code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, make: Make): CheckResult {
  if (code === 0) {
    const rtt = /time[=<]\s*([\d.]+)\s*ms/.exec(stdout)?.[1];
    return make('L3OK', { ms: rtt ?? '<unknown>' });
  }
  if (code === 1) {
    // A router's ICMP error arrives as "From 10.0.0.1 icmp_seq=1 Destination Host Unreachable".
    const from = /^From (\S+?):? .*?icmp_seq=\d+ (.+)$/m.exec(stdout);
    return from ? make('L3ERR', { reason: `${from[2].trim()} (reported by ${from[1]})` }) : make('L3TOUT', {});
  }
  if (code === null) return make('L3ERR', { reason: `ping was killed by ${signal ?? 'a signal'}` });
  const line = firstLine(stderr) || firstLine(stdout) || `ping exited with ${code}`;
  return make('L3ERR', { reason: line.replace(/^ping: /, '') });
}

const firstLine = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .find(Boolean)
    ?.slice(0, 200) ?? '';
