/**
 * Kernel answers → coded engine errors with sentences a person can act on. The errno meanings are those of
 * net/netfilter/ipvs/ip_vs_ctl.c for each command:
 *
 *   errno   │ command                     │ meaning                                   │ we report
 *   ────────┼─────────────────────────────┼───────────────────────────────────────────┼──────────────────────────
 *   EEXIST  │ NEW_SERVICE, NEW_DEST       │ already there                             │ success (idempotent add)
 *   ESRCH   │ DEL_SERVICE, *_DEST, SET_*  │ no such service                           │ success for deletes
 *   ENOENT  │ DEL_DEST, SET_DEST          │ no such destination                       │ success for deletes
 *   ENOENT  │ NEW_SERVICE, SET_SERVICE    │ scheduler (or persistence engine) missing │ IPVS_SCHEDULER_MISSING
 *   EPERM   │ any                         │ no CAP_NET_ADMIN                          │ IPVS_PERMISSION
 *   other   │ any                         │                                           │ IPVS_KERNEL
 */
import { os } from './os-errno.ts';
import { EngineError } from '../errors.ts';
import { serviceText, endpoint } from './model.ts';
import type { Command } from './codec.ts';

export function errnoName(errno: number): string {
  return os.get(errno) ?? `errno ${errno}`;
}

export function isHarmless(c: Command, errno: number): boolean {
  const name = errnoName(errno);
  if (name === 'EEXIST') return c.cmd === 'new-service' || c.cmd === 'new-dest';
  if (name === 'ESRCH') return c.cmd === 'del-service' || c.cmd === 'del-dest';
  if (name === 'ENOENT') return c.cmd === 'del-dest';
  return false;
}

function describeCommand(c: Command): string {
  switch (c.cmd) {
    case 'new-service':
      return `adding service ${serviceText(c.service)}`;
    case 'set-service':
      return `changing service ${serviceText(c.service)}`;
    case 'del-service':
      return `removing service ${serviceText(c.service)}`;
    case 'get-service':
      return `reading service ${serviceText(c.service)}`;
    case 'get-services':
      return 'listing services';
    case 'new-dest':
      return `adding real server ${endpoint(c.destination.address, c.destination.port)} to ${serviceText(c.service)}`;
    case 'set-dest':
      return `changing real server ${endpoint(c.destination.address, c.destination.port)} of ${serviceText(c.service)}`;
    case 'del-dest':
      return `removing real server ${endpoint(c.destination.address, c.destination.port)} from ${serviceText(c.service)}`;
    case 'get-dests':
      return `listing real servers of ${serviceText(c.service)}`;
    case 'get-info':
      return 'reading IPVS version';
    case 'get-config':
      return 'reading IPVS timeouts';
    case 'set-config':
      return 'setting IPVS timeouts';
    case 'new-daemon':
      return `starting the ${c.daemon.state} sync daemon`;
    case 'del-daemon':
      return `stopping the ${c.state} sync daemon`;
    case 'get-daemons':
      return 'listing sync daemons';
    case 'zero':
      return 'zeroing counters';
  }
}

/** The coded error for a refused command. */
export function kernelError(c: Command, errno: number): EngineError {
  const name = errnoName(errno);
  if (name === 'EPERM' || name === 'EACCES') return new EngineError('IPVS_PERMISSION', {}, { errno: name });
  if (name === 'ENOENT' && (c.cmd === 'new-service' || c.cmd === 'set-service')) {
    if (c.service.peName)
      return new EngineError('IPVS_KERNEL', {
        operation: describeCommand(c),
        errno: `persistence engine ${c.service.peName} or scheduler ${c.service.scheduler} is not available (ENOENT)`,
      });
    return new EngineError('IPVS_SCHEDULER_MISSING', { scheduler: c.service.scheduler });
  }
  if (name === 'ESRCH')
    return new EngineError('IPVS_KERNEL', {
      operation: describeCommand(c),
      errno: 'the service is not in the kernel (ESRCH); it was removed by someone else — the next apply re-creates it',
    });
  return new EngineError('IPVS_KERNEL', { operation: describeCommand(c), errno: name });
}
