/**
 * IPVS's connection timeouts (ipvsadm --set tcp tcpfin udp), from the configuration's `layer4.timeouts`. They belong
 * to the whole kernel, not to a service: the engine sets only the ones the configuration names, and only when the
 * kernel's differ, so an unset timeout stays whatever the kernel (or its operator) has. Removing one from the
 * configuration leaves the kernel's value as it was last set; the engine keeps no record of the value before it.
 */
import type { IpvsTimeouts } from '../config/index.ts';
import type { IpvsPort } from './client.ts';
import type { Timeouts } from './model.ts';

export interface TimeoutsReport {
  /** What was changed now, in seconds (empty when the kernel already had it, or nothing is configured). */
  changed: Partial<Timeouts>;
  /** The kernel's refusal, when it refused. */
  error?: string;
}

/** The configuration's timeouts in the codec's words; only the fields that are set. */
export function wantedTimeouts(t: IpvsTimeouts | undefined): Partial<Timeouts> {
  const out: Partial<Timeouts> = {};
  if (t?.tcpSeconds !== undefined) out.tcp = t.tcpSeconds;
  if (t?.tcpFinSeconds !== undefined) out.tcpFin = t.tcpFinSeconds;
  if (t?.udpSeconds !== undefined) out.udp = t.udpSeconds;
  return out;
}

/** Reads the kernel's timeouts and sets those that differ from `t` in one SET_CONFIG (0 in it means "unchanged"). */
export async function ensureTimeouts(client: IpvsPort, t: IpvsTimeouts | undefined): Promise<TimeoutsReport> {
  const want = wantedTimeouts(t);
  if (Object.keys(want).length === 0) return { changed: {} };
  const have = await client.timeouts();
  const changed: Partial<Timeouts> = {};
  for (const k of Object.keys(want) as (keyof Timeouts)[]) if (have[k] !== want[k]) changed[k] = want[k];
  if (Object.keys(changed).length === 0) return { changed };
  const r = await client.setTimeouts(changed);
  return r.ok ? { changed } : { changed: {}, error: r.error?.message ?? r.errno ?? 'refused' };
}

/** "tcp 7200 s, udp 60 s". */
export function timeoutsText(t: Partial<Timeouts>): string {
  const names: Record<keyof Timeouts, string> = { tcp: 'tcp', tcpFin: 'tcpfin', udp: 'udp' };
  return (Object.keys(t) as (keyof Timeouts)[]).map((k) => `${names[k]} ${t[k]} s`).join(', ');
}
