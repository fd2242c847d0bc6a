'use client';
/** Reads a GET route now and every `everyMs` while the page is open; `at` is the time the console answered for. */
import { useCallback, useEffect, useState } from 'react';
import { api, ApiCallError } from '../api-client';

export interface Polled {
  at: string;
  isReachable: boolean;
  error?: { code: string; message: string };
}

export function usePoll<T extends Polled>(path: string, everyMs = 5000) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<{ code?: string; message: string } | null>(null);
  const load = useCallback(async () => {
    try {
      setData(await api<T>('GET', path));
      setError(null);
    } catch (e) {
      setError(e instanceof ApiCallError ? e.body : { message: (e as Error).message });
    }
  }, [path]);
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), everyMs);
    return () => clearInterval(t);
  }, [load, everyMs]);
  return { data, error, reload: load };
}

export const clock = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour12: false });
