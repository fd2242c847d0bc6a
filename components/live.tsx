'use client';
/**
 * The live feed: one WebSocket per tab to /api/v1/live, reconnecting with backoff. Components subscribe to the
 * events they care about; the header shows whether the feed (and the engine behind it) is connected.
 */
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';

export type LiveEvent = { type: string; [k: string]: any };
type Listener = (e: LiveEvent) => void;

interface LiveState {
  isConnected: boolean;
  isEngineConnected: boolean | null;
  subscribe(l: Listener): () => void;
}

const LiveContext = createContext<LiveState>({ isConnected: false, isEngineConnected: null, subscribe: () => () => undefined });

export function LiveProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
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
      ws.onopen = () => {
        setConnected(true);
        delay = 1000;
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
  }, []);
  const subscribe = useCallback((l: Listener) => {
    listeners.current.add(l);
    return () => {
      listeners.current.delete(l);
    };
  }, []);
  const value: LiveState = { isConnected, isEngineConnected, subscribe };
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
