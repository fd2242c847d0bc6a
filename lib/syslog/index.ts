/**
 * The console's one syslog forwarder (started by server.ts, reconfigured by the API). Kept on globalThis because
 * Next's bundle and the custom server load separate copies of this module in one process (as lib/bus.ts).
 */
import { SyslogForwarder } from './forwarder.ts';
import { readSyslogSettings } from './settings.ts';

const g = globalThis as unknown as { __fulcrumSyslog?: SyslogForwarder };

/** Polls every 5 s for rows written without a bus event (refusals, the settler); bus events make it sooner. */
export function startSyslog(dataDir: string): SyslogForwarder {
  g.__fulcrumSyslog ??= new SyslogForwarder({ dataDir, settings: readSyslogSettings(dataDir), pollMs: 5000 });
  g.__fulcrumSyslog.kick();
  return g.__fulcrumSyslog;
}

export const runningSyslog = (): SyslogForwarder | undefined => g.__fulcrumSyslog;

/** Tests: forget the running forwarder. */
export function stopSyslog(): void {
  g.__fulcrumSyslog?.close();
  g.__fulcrumSyslog = undefined;
}
