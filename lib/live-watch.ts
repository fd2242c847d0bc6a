/**
 * Which services' counters a live feed socket hears. The engine's 'stats' event carries every service's status every
 * 2 s (about 2.3 MiB at 1,000 services × 4 real servers); a browser shows a page of 25 at most. So a browser says which
 * services it shows, and its copy of each 'stats' event carries those only; a socket that names none gets no 'stats'
 * event at all. Every other event is relayed whole, as before.
 *
 *   browser ─► {"type":"watch","services":["symphony-web","pacs-dicom"]}   (replaces the last list; [] for none)
 *   browser ◄─ {"type":"engine","at":…,"event":{"type":"stats","at":…,"services":[<those two>]}}
 *
 * Names are the services' names (engine/config NameSchema), as the engine's event carries them. A message that does
 * not parse is ignored: the socket keeps its last list.
 */
import { z } from 'zod';
import { MAX_VIRTUAL_SERVICES, NameSchema } from '../engine/config/index.ts';
import type { ConsoleEvent } from './bus.ts';

export const WatchMessage = z.strictObject({ type: z.literal('watch'), services: z.array(NameSchema).max(MAX_VIRTUAL_SERVICES) });

/** The largest watch message: every service's name at 64 characters, quoted, plus its envelope. */
export const MAX_WATCH_MESSAGE_BYTES = MAX_VIRTUAL_SERVICES * 67 + 256;

/** The services a socket's message names, or undefined when it is not a watch message. */
export function parseWatch(data: unknown): ReadonlySet<string> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(String(data));
  } catch {
    return undefined;
  }
  const r = WatchMessage.safeParse(raw);
  return r.success ? new Set(r.data.services) : undefined;
}

type StatsEvent = { type: 'stats'; at: string; services: { name: string }[] };

const isStats = (e: ConsoleEvent): e is ConsoleEvent & { type: 'engine'; event: StatsEvent } =>
  e.type === 'engine' && (e.event as { type?: string } | null)?.type === 'stats' && Array.isArray((e.event as StatsEvent).services);

/**
 * How one console event is written to each socket: `textFor(watched)` is the text to send, or null for nothing. A
 * 'stats' event is cut to the watched services (each service's JSON made once, whichever sockets share it); any other
 * event is one text for all.
 */
export function eventTexts(e: ConsoleEvent): (watched: ReadonlySet<string>) => string | null {
  if (!isStats(e)) {
    const text = JSON.stringify(e);
    return () => text;
  }
  const { services, ...event } = e.event;
  const made: (string | undefined)[] = [];
  const head = `{"type":"engine","at":${JSON.stringify(e.at)},"event":${JSON.stringify(event).slice(0, -1)},"services":[`;
  return (watched) => {
    if (watched.size === 0) return null;
    const parts: string[] = [];
    // In the event's order (the configured one), as the whole event had them.
    services.forEach((s, i) => {
      if (watched.has(s.name)) parts.push((made[i] ??= JSON.stringify(s)));
    });
    return parts.length === 0 ? null : `${head}${parts.join(',')}]}}`;
  };
}
