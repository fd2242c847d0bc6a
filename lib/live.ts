/**
 * The WebSocket feed at /api/v1/live: engine events (applies, server states, health, and the engine's own 'stats'
 * event with every service's counters every 2 s) and console events (staged changes, audit) pushed to every
 * logged-in browser. Only same-origin browsers with a valid session connect; everyone else is refused during the
 * handshake.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { actorFromSession, readCookie, SESSION_COOKIE } from './auth/session.ts';
import { bus, publish, type ConsoleEvent } from './bus.ts';
import { engine } from './engine.ts';
import type { EngineEvent } from '../engine/api-types.ts';
import { log } from './log.ts';

export const LIVE_PATH = '/api/v1/live';

/**
 * The console's one subscription to the engine's event stream. `onEngineEvent` / `onEngineConnection` let other
 * console code hear it too (lib/health-history.ts records health transitions), so the engine has one listener.
 */
export function createLiveFeed(opts: { sessionRecheckMs?: number; onEngineEvent?: (e: EngineEvent) => void; onEngineConnection?: (isConnected: boolean) => void } = {}) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  let isEngineConnected = false;
  const sub = engine().subscribe(
    (event) => {
      try {
        opts.onEngineEvent?.(event);
      } catch (e) {
        log('error', 'an engine event listener failed', { error: (e as Error).stack });
      }
      publish({ type: 'engine', at: new Date().toISOString(), event });
    },
    (isConnected) => {
      opts.onEngineConnection?.(isConnected);
      if (isConnected !== isEngineConnected) {
        isEngineConnected = isConnected;
        publish({ type: 'engine-connection', at: new Date().toISOString(), isConnected });
      }
    },
  );
  const broadcast = (e: ConsoleEvent) => {
    const text = JSON.stringify(e);
    for (const ws of wss.clients) if (ws.readyState === ws.OPEN) ws.send(text);
  };
  bus().on('event', broadcast);
  // A feed lives no longer than its session: after logout, expiry or a disabled account it is closed.
  const sessions = new Map<WebSocket, string>();
  const recheck = setInterval(async () => {
    for (const [ws, cookie] of sessions) {
      const actor = await actorFromSession(cookie).catch(() => undefined);
      if (!actor) {
        ws.close(4001, 'session ended');
        sessions.delete(ws);
      }
    }
  }, opts.sessionRecheckMs ?? 30_000);
  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (origin && host && new URL(origin).host !== host) return refuse(403, 'Forbidden');
    const cookie = readCookie(req.headers.cookie ?? null, SESSION_COOKIE);
    const actor = cookie ? await actorFromSession(cookie).catch(() => undefined) : undefined;
    if (!actor) return refuse(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      sessions.set(ws, cookie!);
      ws.on('close', () => sessions.delete(ws));
      ws.send(JSON.stringify({ type: 'engine-connection', at: new Date().toISOString(), isConnected: isEngineConnected }));
      ws.on('error', (e) => log('warn', 'live feed socket error', { error: e.message }));
    });
  }

  return {
    handleUpgrade,
    close() {
      clearInterval(recheck);
      sub.stop();
      bus().off('event', broadcast);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
