/**
 * The WebSocket feed at /api/v1/live: engine events (applies, server states, health, and the engine's own 'stats'
 * event every 2 s, cut to the services each browser watches: live-watch.ts) and console events (staged changes,
 * audit) pushed to every logged-in browser. Only same-origin browsers with a valid session connect; everyone else is refused during the
 * handshake (an `Origin` that is "null", unparsable or another site's is a 403 and the socket is closed).
 *
 * Each event class needs a permission, and each socket hears only the classes its session's role holds now:
 *
 *   event class        │ permission  │ roles
 *   ───────────────────┼─────────────┼──────────────────────────────
 *   engine             │ config:read │ every role
 *   engine-connection  │ config:read │ every role
 *   candidate-changed  │ config:read │ every role
 *   ha                 │ config:read │ every role
 *   audit              │ audit:read  │ admin, auditor
 *
 * The role is read again from the database before every audit event is delivered (and every 30 s): every change to a
 * user is itself audited, so a demoted, disabled or deleted user's feed is closed (their sessions are ended by the
 * change) or narrowed by the very event that records it, before it could hear anything more.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { actorFromSession, readCookie, SESSION_COOKIE, type Actor } from './auth/session.ts';
import { can, type Permission } from './auth/roles.ts';
import { bus, publish, type ConsoleEvent } from './bus.ts';
import { engine } from './engine.ts';
import type { EngineEvent } from '../engine/api-types.ts';
import { log } from './log.ts';
import { eventTexts, MAX_WATCH_MESSAGE_BYTES, parseWatch } from './live-watch.ts';

export const LIVE_PATH = '/api/v1/live';

export const EVENT_PERMISSION: Record<ConsoleEvent['type'], Permission> = {
  engine: 'config:read',
  'engine-connection': 'config:read',
  'candidate-changed': 'config:read',
  ha: 'config:read',
  audit: 'audit:read',
};

/**
 * Whether an upgrade's Origin may open the feed. No Origin (not a browser: curl, a monitoring script) is allowed —
 * the session cookie still decides. A browser's Origin must parse as http(s) and name this Host; "null" (sandboxed
 * frames, file: pages, some redirects) and anything unparsable are refused.
 */
export function isAllowedOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  if (!host || origin === 'null') return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.host === host;
}

interface FeedClient {
  cookie: string;
  actor: Actor;
  /** Deliveries to this socket, in order: a role re-check for one event never lets a later event overtake it. */
  queue: Promise<void>;
  /** The services whose counters this socket hears in 'stats' events (live-watch.ts); none until it says. */
  watched: ReadonlySet<string>;
}

/**
 * The console's one subscription to the engine's event stream. `onEngineEvent` / `onEngineConnection` let other
 * console code hear it too (lib/health-history.ts records health transitions), so the engine has one listener.
 */
export function createLiveFeed(
  opts: { sessionRecheckMs?: number; onEngineEvent?: (e: EngineEvent) => void; onEngineConnection?: (isConnected: boolean) => void } = {},
) {
  // A browser sends one kind of message, the services it watches (live-watch.ts): its largest is every name.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WATCH_MESSAGE_BYTES });
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
  const clients = new Map<WebSocket, FeedClient>();
  const end = (ws: WebSocket) => {
    clients.delete(ws);
    ws.close(4001, 'session ended');
  };
  /**
   * Reads the session and its user's role again. The periodic check counts as use (an open console keeps its session,
   * as it always has); the check before each audit event does not, so a burst of changes does not write sessions.
   */
  const recheck = async (ws: WebSocket, c: FeedClient, isUse = false): Promise<boolean> => {
    const actor = await actorFromSession(c.cookie, { isUse }).catch(() => undefined);
    if (!actor) {
      end(ws);
      return false;
    }
    c.actor = actor;
    return true;
  };
  const enqueue = (c: FeedClient, task: () => Promise<void> | void) => {
    c.queue = c.queue.then(task).catch((e) => log('warn', 'live feed delivery failed', { error: (e as Error).message }));
  };
  const broadcast = (e: ConsoleEvent) => {
    const textFor = eventTexts(e);
    const permission = EVENT_PERMISSION[e.type] ?? 'audit:read';
    for (const [ws, c] of clients) {
      enqueue(c, async () => {
        if (e.type === 'audit' && !(await recheck(ws, c))) return;
        if (!clients.has(ws) || ws.readyState !== ws.OPEN || !c.actor.role || !can(c.actor.role, permission)) return;
        const text = textFor(c.watched);
        if (text !== null) ws.send(text);
      });
    }
  };
  bus().on('event', broadcast);
  // A feed lives no longer than its session: after logout, expiry or a disabled account it is closed.
  const timer = setInterval(() => {
    for (const [ws, c] of clients) enqueue(c, () => recheck(ws, c, true).then(() => undefined));
  }, opts.sessionRecheckMs ?? 30_000);
  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // The answer is written, then the socket closed: a refused upgrade must not hold a file descriptor open.
    const refuse = (status: number, text: string) => {
      if (socket.destroyed) return;
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
    };
    try {
      if (!isAllowedOrigin(req.headers.origin, req.headers.host)) return refuse(403, 'Forbidden');
      const cookie = readCookie(req.headers.cookie ?? null, SESSION_COOKIE);
      const actor = cookie ? await actorFromSession(cookie).catch(() => undefined) : undefined;
      if (!actor) return refuse(401, 'Unauthorized');
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const client: FeedClient = { cookie: cookie!, actor, queue: Promise.resolve(), watched: new Set() };
        clients.set(ws, client);
        ws.on('close', () => clients.delete(ws));
        ws.on('message', (data) => {
          const watched = parseWatch(data);
          if (watched) client.watched = watched;
        });
        ws.send(JSON.stringify({ type: 'engine-connection', at: new Date().toISOString(), isConnected: isEngineConnected }));
        ws.on('error', (e) => log('warn', 'live feed socket error', { error: e.message }));
      });
    } catch (e) {
      log('error', 'live feed upgrade failed', { error: (e as Error).stack });
      refuse(500, 'Internal Server Error');
    }
  }

  return {
    handleUpgrade,
    close() {
      clearInterval(timer);
      sub.stop();
      bus().off('event', broadcast);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
