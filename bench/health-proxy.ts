/**
 * Child process of bench/health.ts (its proxy part): the daemon's shape, a layer 7 data plane (this process is the
 * cluster primary, with 2 workers) and, when asked, the health monitor beside it as the engine runs it (its view
 * here, its checks in its own child process at a lower CPU priority), checking the 2,000 servers of
 * bench/health-fleet.ts. argv[2] is JSON { dataDir, port, backendPort, base }.
 * One HTTP service on 127.0.0.1:port forwards to the backend; it has no check of its own, so the data plane does the
 * same work with the monitor on or off.
 *
 * IPC: { op: 'checks', on: true } starts the monitor and answers { op: 'checks', on: true, up } once every server
 * has passed its first check (or after 3 intervals, with how many had); { op: 'checks', on: false } stops it.
 * { op: 'schedule' } answers { op: 'schedule', runs, maxLateMs, downs }: checks run and the latest a slot of them
 * fired since the last ask (engine/health/schedule.ts), and servers that went down meanwhile (none should, but
 * those the bench kills). It says { op: 'down', target } when a server goes down, as the verdict reaches the engine
 * (the bench times detection under the proxy's load from the kill to this message).
 * Says { op: 'ready' } once the data plane is applied.
 */
import { createL7DataPlane } from '../engine/l7/index.ts';
import { ConfigSchema } from '../engine/config/index.ts';
import { HealthMonitor } from '../engine/health/monitor.ts';
import { fulcrumConfig, INTERVAL_MS, SERVERS } from './health-fleet.ts';

const input = JSON.parse(process.argv[2]) as { dataDir: string; port: number; backendPort: number; base: number };
const dp = createL7DataPlane({ dataDir: input.dataDir, workers: 2, closeGraceMs: 200, log: (l, m) => console.error(`[fulcrum ${l}] ${m}`) });
const config = ConfigSchema.parse({
  virtualServices: [
    {
      name: 'web',
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [input.port],
      scheduler: 'rr',
      healthCheck: { type: 'none' },
      layer7: { xForwardedFor: true, xForwardedProto: false },
      realServers: [{ name: 'nginx', address: '127.0.0.1', port: input.backendPort }],
    },
  ],
});
const results = await dp.apply({ config, decisions: new Map() });
if (results.some((r) => r.status !== 'programmed')) {
  console.error(JSON.stringify(results));
  process.exit(1);
}
const fleet = fulcrumConfig(input.base);
let monitor: HealthMonitor | undefined;
let downs = 0;

process.on('message', (m: { op: string; on: boolean }) => {
  if (m.op === 'schedule') {
    const d = downs;
    downs = 0;
    void (monitor?.refresh() ?? Promise.resolve(undefined)).then((s) =>
      process.send!({ op: 'schedule', runs: s?.runs ?? 0, maxLateMs: s?.maxLateMs ?? 0, downs: d }),
    );
    return;
  }
  if (m.op !== 'checks') return;
  monitor?.close();
  monitor = undefined;
  if (!m.on) return void process.send!({ op: 'checks', on: false });
  let up = 0;
  let isAnswered = false;
  const answer = () => {
    if (isAnswered) return;
    isAnswered = true;
    clearTimeout(timer);
    process.send!({ op: 'checks', on: true, up });
  };
  const timer = setTimeout(answer, 3 * INTERVAL_MS);
  monitor = new HealthMonitor({
    // As the engine runs it: the checks in the monitor's own child process, at its lower CPU priority.
    runner: 'process',
    allowedNetworks: ['127.0.0.0/8'],
    onTransitions: (batch) => {
      for (const t of batch) {
        if (t.previous === 'unknown' && t.health === 'up') up++;
        if (t.health === 'down') {
          downs++;
          process.send!({ op: 'down', target: t.target });
        }
      }
      if (up === SERVERS) answer();
    },
    onFeedback: () => undefined,
  });
  monitor.update(fleet);
});

const stop = () => {
  monitor?.close();
  void dp.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('disconnect', stop);
process.send!({ op: 'ready' });
