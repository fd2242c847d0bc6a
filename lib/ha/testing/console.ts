/**
 * One console of an HA pair for the two-console tests: the API over plain HTTP on an ephemeral port (what Next
 * serves) and the peer link over mutual TLS on FULCRUM_PEER_PORT (0: ephemeral), against FULCRUM_DATA_DIR and the
 * engine on FULCRUM_ENGINE_SOCKET. Prints "listening <api port> <peer port>" once both serve. Each console is its
 * own process because the database and the HA state are per process, as in production.
 */
import { serveApi } from '../../testing/harness.ts';
import { startHa } from '../index.ts';
import { createLiveFeed } from '../../live.ts';

const { port } = await serveApi();
process.env.FULCRUM_PUBLIC_URL ??= `http://127.0.0.1:${port}`;
// The engine's event stream onto the bus, as server.ts has it: the failover history records its 'ha' events.
const live = createLiveFeed();
const ha = await startHa({ host: '127.0.0.1', port: Number(process.env.FULCRUM_PEER_PORT ?? 0) });
const peerPort = (ha.server.address() as { port: number }).port;
process.stdout.write(`listening ${port} ${peerPort}\n`);
process.on('SIGTERM', () => {
  ha.close();
  live.close();
  process.exit(0);
});
