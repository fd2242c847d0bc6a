'use client';
/**
 * On every page of a secondary: it refuses edits, and this says where to make them (the API's HA_SECONDARY_READ_ONLY
 * says the same on any attempt). Read once and again whenever the pair changes.
 */
import { useCallback, useEffect, useState } from 'react';
import Link from 'next/link';
import { api } from '../api-client';
import { useLiveEvents } from '../live';

export function SecondaryBanner() {
  const [primary, setPrimary] = useState<{ name: string; url: string } | null>(null);
  const load = useCallback(() => {
    api<{ pair: { role: string; peerName: string; peerConsoleUrl: string } | null }>('GET', '/ha')
      .then((v) => setPrimary(v.pair?.role === 'secondary' ? { name: v.pair.peerName, url: v.pair.peerConsoleUrl } : null))
      .catch(() => undefined);
  }, []);
  useEffect(load, [load]);
  useLiveEvents(['ha'], (e) => {
    if (e.what === 'pairing') load();
  });
  if (!primary) return null;
  return (
    <div data-testid="secondary-note" className="border-b border-sky-200 bg-sky-50">
      <p className="mx-auto max-w-7xl px-4 py-1.5 text-xs text-sky-950">
        This node is the{' '}
        <Link href="/ha" className="underline">
          secondary of an HA pair
        </Link>
        : it shows what runs but refuses edits. Make changes on <strong>{primary.name}</strong> (
        <a className="underline" href={primary.url}>
          {primary.url}
        </a>
        ).
      </p>
    </div>
  );
}
