/**
 * One director of the HA kernel test: the engine daemon as engine/daemon/main.ts builds it, inside the network
 * namespace it was started in (`ip netns exec d1 node --import tsx director.ts <data dir>`), with the layer 4 data
 * plane only (layer 7's worker processes would only slow the test kernel). It listens on <data dir>/engine.sock,
 * where the test applies configurations and keepalived's track script asks; it runs keepalived itself.
 * Prints one line, {"ready":true}, once listening; logs to <data dir>/engine.log; stops when stdin closes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Engine, type EngineLog } from '../../daemon/engine.ts';
import { createEngineServer, listenOnSocket } from '../../daemon/server.ts';
import { createL4DataPlane } from '../../l4/index.ts';

const dataDir = process.argv[2];
const logFile = fs.openSync(path.join(dataDir, 'engine.log'), 'a');
const log: EngineLog = (level, msg, fields = {}) => fs.writeSync(logFile, JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields }) + '\n');

const engine = new Engine(dataDir, [createL4DataPlane({ dataDir, log: (level, msg, fields) => log(level, msg, fields as Record<string, unknown>) })], log, {
  health: { allowedNetworks: ['10.0.0.0/24'] },
});
await engine.start();
const server = createEngineServer(engine, log);
await listenOnSocket(server, path.join(dataDir, 'engine.sock'));
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');

process.stdin.resume();
process.stdin.on('close', async () => {
  server.close();
  server.closeAllConnections();
  await engine.close();
  process.exit(0);
});
