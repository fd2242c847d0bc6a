/**
 * Reachability probes from the appliance, for the wizard's real-server step and its final screen:
 *
 *   probeTcp     a TCP connect to a real server's address and port (answers, refuses, or stays silent);
 *   testRequest  one HTTP(S) GET through the VIP, as a client would send it, with the status line it got back.
 *
 * They go only where health checks may go: FULCRUM_HEALTH_ALLOWED_NETWORKS (comma-separated CIDRs, unset = any), so a
 * test run that names the 192.168.10.x of the Symphony examples gets "not probed" instead of traffic leaving the
 * machine. Each has its own deadline; the answer is a sentence, never an exception.
 */
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import ipaddr from 'ipaddr.js';
import { endpointText } from '../../engine/config/index.ts';

export interface ProbeResult {
  target: string;
  outcome: 'reachable' | 'refused' | 'no-answer' | 'not-probed' | 'error';
  message: string;
}

/** Why `address` may not be probed, or undefined when it may. */
export function notProbedReason(address: string, allowed = process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS): string | undefined {
  const nets = allowed
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!nets?.length) return undefined;
  try {
    const a = ipaddr.process(address);
    const ok = nets.some((n) => {
      const [net, bits] = ipaddr.parseCIDR(n);
      return net.kind() === a.kind() && a.match(net, bits);
    });
    return ok ? undefined : `Not probed: ${address} is outside the networks this appliance may probe (FULCRUM_HEALTH_ALLOWED_NETWORKS=${nets.join(',')}).`;
  } catch {
    return `Not probed: ${address} is not an IP address.`;
  }
}

/** Connects to address:port within `timeoutMs`. */
export function probeTcp(address: string, port: number, timeoutMs = 2000): Promise<ProbeResult> {
  const target = endpointText(address, port);
  const reason = notProbedReason(address);
  if (reason) return Promise.resolve({ target, outcome: 'not-probed', message: reason });
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const done = (r: Omit<ProbeResult, 'target'>) => {
      socket.destroy();
      clearTimeout(timer);
      resolve({ target, ...r });
    };
    // The deadline is the person's patience on the form, not a network property: 2 s is long for a LAN.
    const timer = setTimeout(
      () => done({ outcome: 'no-answer', message: `No answer from ${target} within ${timeoutMs / 1000} s: a firewall may drop it, or the server is off.` }),
      timeoutMs,
    );
    socket.once('connect', () => done({ outcome: 'reachable', message: `${target} accepted a TCP connection from this appliance.` }));
    socket.once('error', (e: NodeJS.ErrnoException) =>
      done(
        e.code === 'ECONNREFUSED'
          ? { outcome: 'refused', message: `${target} refused the connection: the server is up but nothing listens on port ${port}.` }
          : { outcome: 'error', message: `${target} cannot be reached from this appliance (${e.code ?? e.message}).` },
      ),
    );
  });
}

/** One GET / through the VIP, as a client would; TLS certificates are not verified (a self-signed one is expected). */
export function testRequest(address: string, port: number, isTls: boolean, timeoutMs = 3000): Promise<ProbeResult & { status?: number }> {
  const target = `${isTls ? 'https' : 'http'}://${endpointText(address, port)}/`;
  const reason = notProbedReason(address);
  if (reason) return Promise.resolve({ target, outcome: 'not-probed', message: reason });
  return new Promise((resolve) => {
    const lib = isTls ? https : http;
    const req = lib.get(
      { host: address, port, path: '/', timeout: timeoutMs, rejectUnauthorized: false, headers: { 'user-agent': 'fulcrum-wizard-test' } },
      (res) => {
        res.resume();
        resolve({
          target,
          outcome: 'reachable',
          status: res.statusCode,
          message: `${target} answered ${res.statusCode} ${res.statusMessage ?? ''}`.trim() + (res.headers.location ? ` → ${res.headers.location}` : ''),
        });
      },
    );
    req.once('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.once('error', (e: NodeJS.ErrnoException) =>
      resolve({
        target,
        outcome: e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ETIMEDOUT' ? 'no-answer' : 'error',
        message:
          e.code === 'ECONNREFUSED'
            ? `${target} refused the connection: the service is not listening there (is it applied, and programmed on this machine?).`
            : `${target} gave no answer (${e.code ?? e.message}).`,
      }),
    );
  });
}
