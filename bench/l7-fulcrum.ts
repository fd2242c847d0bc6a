/**
 * Child process of the layer 7 benchmark: runs Fulcrum's data plane (its own cluster primary and 2 workers) with
 * the services given as JSON in argv[2], prints "ready" once applied, and closes on SIGTERM. Running it apart
 * from the benchmark lets /proc count exactly the proxy's CPU: this process and its workers.
 */
import { createL7DataPlane } from '../engine/l7/index.ts';
import { ConfigSchema } from '../engine/config/index.ts';

const input = JSON.parse(process.argv[2]);
const dp = createL7DataPlane({
  dataDir: input.dataDir,
  workers: input.workers ?? 2,
  closeGraceMs: 200,
  accessLog: input.accessLog,
  log: (l, m) => console.error(`[fulcrum ${l}] ${m}`),
});
const results = await dp.apply({ config: ConfigSchema.parse(input.config), decisions: new Map() });
const failed = results.filter((r) => r.status !== 'programmed');
if (failed.length > 0) {
  console.error(JSON.stringify(failed));
  process.exit(1);
}
console.log('ready');
process.on('SIGTERM', () => {
  void dp.close().then(() => process.exit(0));
});
setInterval(() => undefined, 1 << 30);
