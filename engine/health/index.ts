/** The health module as the engine uses it: the monitor, and the checker of each kind (checkers.ts). */
export { defaultAgentChecker, defaultCheckers } from './checkers.ts';
export { HealthMonitor } from './monitor.ts';
export type { MonitorTransition } from './monitor.ts';
