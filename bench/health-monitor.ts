/**
 * Child process of bench/health.ts: Fulcrum's health monitor alone (engine/health/monitor.ts with the engine's own
 * checkers, in its own child process as the engine runs it), checking the fleet of bench/health-fleet.ts, so /proc
 * counts exactly its CPU (this process and the monitor's child). argv[2] is JSON
 * { base }. Over the IPC channel it says { op: 'ready' } once the checks are scheduled, { op: 'checked', up } when
 * every server has left `unknown` (up after its first pass, or down), and { op: 'down', target, at, code, message }
 * for each server that goes down (`at`: the monitor's own time of the verdict, ms since the epoch). It stops when
 * the channel closes or on SIGTERM.
 */
import { HealthMonitor } from '../engine/health/monitor.ts';
import { fulcrumConfig, SERVERS } from './health-fleet.ts';

const { base } = JSON.parse(process.argv[2]) as { base: number };
/** Servers past `unknown`: up after a first pass, or down after `fall` failures. */
const decided = new Set<string>();
let ups = 0;
const monitor = new HealthMonitor({
  // As the engine runs it: the checks in the monitor's own child process (engine/health/runner-process.ts).
  runner: 'process',
  allowedNetworks: ['127.0.0.0/8'],
  onTransitions: (batch) => {
    const wasAll = decided.size === SERVERS;
    for (const t of batch) {
      if (t.health === 'down') process.send!({ op: 'down', target: t.target, at: Date.parse(t.at), code: t.code, message: t.message });
      if (t.previous === 'unknown') {
        decided.add(t.target);
        if (t.health === 'up') ups++;
      }
    }
    if (!wasAll && decided.size === SERVERS) process.send!({ op: 'checked', up: ups });
  },
  onFeedback: () => undefined,
});
monitor.update(fulcrumConfig(base));
process.send!({ op: 'ready', checks: monitor.size.checks });

const stop = () => {
  monitor.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
