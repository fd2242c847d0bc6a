/**
 * A second console process for the fault tests: the API on an ephemeral port against FULCRUM_DATA_DIR and
 * FULCRUM_ENGINE_SOCKET, printing "listening <port>" once it serves. With FULCRUM_FAULT set it kills itself at that
 * fault point (lib/fault.ts), as a console cut off mid-apply would be.
 */
import { serveApi } from './harness.ts';

const { port } = await serveApi();
process.stdout.write(`listening ${port}\n`);
