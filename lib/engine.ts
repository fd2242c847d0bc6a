/** The console's handle on the engine: one typed client per socket, shared across the process. */
import { createEngineClient, type EngineClient } from '../engine/client/index.ts';
import { consoleEnv } from './env.ts';

const g = globalThis as unknown as { __fulcrumEngine?: EngineClient };

export function engine(): EngineClient {
  const socket = consoleEnv().engineSocket;
  if (g.__fulcrumEngine?.socketPath !== socket) g.__fulcrumEngine = createEngineClient(socket);
  return g.__fulcrumEngine;
}
