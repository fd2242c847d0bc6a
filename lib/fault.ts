/**
 * Fault points for the fault tests (lib/api/faults.test.ts): FULCRUM_FAULT=<name> makes the console kill itself with
 * SIGKILL exactly there, as a power cut or the OOM killer would, so a test can prove that what was half done is
 * settled correctly by the next start. Unset (always, outside those tests) it does nothing.
 */
export function faultPoint(name: string): void {
  if (process.env.FULCRUM_FAULT === name) process.kill(process.pid, 'SIGKILL');
}
