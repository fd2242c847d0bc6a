/**
 * Only the primary's console accepts edits (ARCHITECTURE.md, HA). The route wrapper asks this before every
 * mutation, after the caller is known, so the refusal is audited with who asked. A secondary still takes logins and
 * logouts, and its own HA actions (unpair, hand-over), which are not configuration.
 */
import { ApiError } from '../errors.ts';
import { db } from '../db.ts';

const ALLOWED_ON_SECONDARY = new Set(['session.login', 'session.logout', 'setup.complete']);

export async function refuseOnSecondary(route: { tag: string; action: string }): Promise<void> {
  if (route.tag === 'ha' || ALLOWED_ON_SECONDARY.has(route.action)) return;
  // Asked afresh on every mutation (pairing, unpairing and a hand-over change it, possibly from another process on the
  // same database, so no copy is kept in memory), as one plain SELECT of the three columns needed: through Prisma's
  // query compiler the same lookup cost about 1.2 ms of CPU per edit (bench/api-edit.ts), raw about 0.2 ms.
  const [peer] = await db().$queryRaw<{ role: string; peerName: string; peerConsoleUrl: string }[]>`
    SELECT role, peerName, peerConsoleUrl FROM "HaPeer" WHERE id = 1`;
  if (peer?.role !== 'secondary') return;
  throw new ApiError(
    'HA_SECONDARY_READ_ONLY',
    { primary: peer.peerName, url: peer.peerConsoleUrl },
    { primary: { name: peer.peerName, url: peer.peerConsoleUrl } },
  );
}
