/**
 * What the engine runs, read from the engine itself (engine/daemon/views.ts), for the Running pages: the running
 * configuration (private keys hidden by the engine), the kernel's IPVS table with counters and owners, and the layer
 * 7 runtime (listeners, pools, server states, stick-table sizes). Read-only; every role that reads configuration.
 * `at` is when the console asked, so a page can say how fresh what it shows is. An engine that does not answer gives
 * `isReachable: false` with its error (as GET /status does), never a guess at what runs.
 */
import { defineRoute } from '../route.ts';
import { engine } from '../../engine.ts';
import { EngineError } from '../../../engine/errors.ts';

const tag = 'running';

async function read<T extends object>(view: () => Promise<T>) {
  const at = new Date().toISOString();
  try {
    return { body: { at, isReachable: true, ...(await view()) } };
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    return { body: { at, isReachable: false, error: { code: e.code, message: e.message } } };
  }
}

export const runningRoutes = [
  defineRoute({
    method: 'GET',
    path: '/running/config',
    permission: 'config:read',
    tag,
    action: 'running.config',
    objectType: 'config',
    summary: 'The configuration the engine runs, as it holds it (private keys never shown)',
    handler: () => read(() => engine().view('config')),
  }),
  defineRoute({
    method: 'GET',
    path: '/running/l4',
    permission: 'config:read',
    tag,
    action: 'running.l4',
    objectType: 'status',
    summary: "The kernel's IPVS table like ipvsadm -Ln --stats, with each service's owner (or why it cannot be read here)",
    handler: () => read(() => engine().view('l4')),
  }),
  defineRoute({
    method: 'GET',
    path: '/running/l7',
    permission: 'config:read',
    tag,
    action: 'running.l7',
    objectType: 'status',
    summary: "The layer 7 proxy's listeners, pools with each server's state, and stick-table sizes",
    handler: () => read(() => engine().view('l7')),
  }),
];
