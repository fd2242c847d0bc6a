'use client';
/**
 * The live feed: one WebSocket per tab to /api/v1/live, reconnecting with backoff. Components subscribe to the
 * events they care about, and name the services whose 'stats' they need (useWatchServices); the header shows
 * whether the feed (and the engine behind it) is connected.
 */
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';

export type LiveEvent = { type: string; [k: string]: any };
type Listener = (e: LiveEvent) => void;

interface LiveState {
  isConnected: boolean;
  isEngineConnected: boolean | null;
  subscribe(l: Listener): () => void;
  /** Adds a component's services to those whose counters the tab's 'stats' events carry; the result removes them. */
  watch(names: readonly string[]): () => void;
}

const LiveContext = createContext<LiveState>({
  isConnected: false,
  isEngineConnected: null,
  subscribe: () => () => undefined,
  watch: () => () => undefined,
});

export function LiveProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  /** Every mounted watcher's names; the tab tells the console their union (lib/live-watch.ts), again on each reconnect. */
  const watchers = useRef(new Set<readonly string[]>());
  const socket = useRef<WebSocket | undefined>(undefined);
  const sendWatch = useCallback(() => {
    const ws = socket.current;
    if (ws?.readyState !== WebSocket.OPEN) return;
    const services = [...new Set([...watchers.current].flat())];
    ws.send(JSON.stringify({ type: 'watch', services }));
  }, []);
  const [isConnected, setConnected] = useState(false);
  const [isEngineConnected, setEngine] = useState<boolean | null>(null);
  useEffect(() => {
    let ws: WebSocket | undefined;
    let delay = 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let isClosed = false;
    const connect = () => {
      const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
      ws = new WebSocket(`${scheme}://${window.location.host}/api/v1/live`);
      socket.current = ws;
      ws.onopen = () => {
        setConnected(true);
        delay = 1000;
        sendWatch();
      };
      ws.onmessage = (m) => {
        const e = JSON.parse(m.data) as LiveEvent;
        if (e.type === 'engine-connection') setEngine(e.isConnected);
        for (const l of listeners.current) l(e);
      };
      ws.onclose = () => {
        setConnected(false);
        if (!isClosed) timer = setTimeout(connect, (delay = Math.min(delay * 2, 15000)));
      };
    };
    connect();
    return () => {
      isClosed = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    };
  }, [sendWatch]);
  const subscribe = useCallback((l: Listener) => {
    listeners.current.add(l);
    return () => {
      listeners.current.delete(l);
    };
  }, []);
  const watch = useCallback(
    (names: readonly string[]) => {
      const entry = [...names];
      watchers.current.add(entry);
      sendWatch();
      return () => {
        watchers.current.delete(entry);
        sendWatch();
      };
    },
    [sendWatch],
  );
  const value: LiveState = { isConnected, isEngineConnected, subscribe, watch };
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveState {
  return useContext(LiveContext);
}

/** Calls `onEvent` for live events whose type is in `types`. */
export function useLiveEvents(types: string[], onEvent: (e: LiveEvent) => void): void {
  const { subscribe } = useLive();
  const ref = useRef(onEvent);
  ref.current = onEvent;
  const key = types.join(',');
  useEffect(
    () =>
      subscribe((e) => {
        if (key.split(',').includes(e.type)) ref.current(e);
      }),
    [subscribe, key],
  );
}

/**
 * The services whose counters this component needs from the 'stats' events (by name): the console sends each tab
 * only the services its components watch, so a component that watches none hears no 'stats' event.
 */
export function useWatchServices(names: readonly string[]): void {
  const { watch } = useLive();
  const key = JSON.stringify(names);
  useEffect(() => watch(JSON.parse(key) as string[]), [watch, key]);
}
