/**
 * Proxy schedulers: pick one real server for a new client from the servers that may take one.
 *
 * The caller filters first (disposition `serve`, weight > 0, not at its maximum connections, backups only when no
 * primary is left), so a scheduler only ranks. Schedulers are deterministic given their state and `random`, which is
 * why tests can assert exact sequences (as undici's balanced-pool tests do).
 *
 *   rr   round robin, weights ignored                  a b c a b c
 *   wrr  smooth weighted round robin (nginx's)          weights 5,1,1 → a a b a c a a
 *   lc   fewest active, ties taken in turn
 *   wlc  fewest active per unit of weight, ties in turn
 *   sh   source hash: weighted rendezvous hash of the client address (a server leaving moves only its own clients)
 *   uri  the same on the request path (without the query), so caches behind the proxy stay warm
 *   fo   first available: the highest weight, then the first listed (IPVS fo)
 *   p2c  the less loaded (active/weight) of two servers drawn at random
 */

import type { LAYER7_SCHEDULERS } from '../config/schema.ts';

/** The schedulers are the schema's list (LAYER7_SCHEDULERS); this file only implements them. */
export type SchedulerKind = (typeof LAYER7_SCHEDULERS)[number];

export interface Candidate {
  readonly name: string;
  readonly weight: number;
  /** Requests or tunnels in flight on this server (this worker's view). */
  readonly active: number;
}

export class Scheduler {
  readonly kind: SchedulerKind;
  private readonly random: () => number;
  private turn = 0;
  /** Smooth WRR's running weights, by server name, so a reload keeps the rhythm. */
  private readonly current = new Map<string, number>();

  constructor(kind: SchedulerKind, random: () => number = Math.random) {
    this.kind = kind;
    this.random = random;
  }

  /** `key` is the client address for sh and the path for uri; ignored otherwise. Returns undefined for no candidates. */
  pick<T extends Candidate>(candidates: readonly T[], key = ''): T | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (n === 1) return candidates[0];
    switch (this.kind) {
      case 'rr':
        return candidates[this.turn++ % n];
      case 'wrr':
        return this.smoothWeighted(candidates);
      case 'lc':
        return this.least(candidates, (c) => c.active);
      case 'wlc':
        return this.least(candidates, (c) => (c.active + 1) / c.weight);
      case 'sh':
      case 'uri':
        return rendezvous(candidates, key);
      case 'fo': {
        let best = candidates[0];
        for (const c of candidates) if (c.weight > best.weight) best = c;
        return best;
      }
      case 'p2c': {
        const i = Math.floor(this.random() * n) % n;
        let j = Math.floor(this.random() * (n - 1)) % (n - 1);
        if (j >= i) j++;
        const a = candidates[i];
        const b = candidates[j];
        return b.active / b.weight < a.active / a.weight ? b : a;
      }
      default: {
        // A scheduler added to the schema's list without an implementation here does not type-check.
        const unknown: never = this.kind;
        throw new Error(`scheduler ${String(unknown)} is not implemented`);
      }
    }
  }

  private smoothWeighted<T extends Candidate>(candidates: readonly T[]): T {
    let total = 0;
    let best: T | undefined;
    let bestWeight = -Infinity;
    for (const c of candidates) {
      const w = (this.current.get(c.name) ?? 0) + c.weight;
      this.current.set(c.name, w);
      total += c.weight;
      if (w > bestWeight) {
        bestWeight = w;
        best = c;
      }
    }
    this.current.set(best!.name, bestWeight - total);
    return best!;
  }

  /** Lowest score; among equals, the turn rotates so equal servers share the load instead of the first taking all. */
  private least<T extends Candidate>(candidates: readonly T[], score: (c: T) => number): T {
    const n = candidates.length;
    const start = this.turn++ % n;
    let best = candidates[start];
    let bestScore = score(best);
    for (let k = 1; k < n; k++) {
      const c = candidates[(start + k) % n];
      const s = score(c);
      if (s < bestScore) {
        best = c;
        bestScore = s;
      }
    }
    return best;
  }
}

/** FNV-1a, 32 bit: fast, stable across processes and Node versions (workers must agree). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix) so similar keys ("10.0.0.1", "10.0.0.2") spread.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Weighted rendezvous (highest random weight) hashing: score = -weight / ln(u), u uniform in (0,1) from the hash. */
function rendezvous<T extends Candidate>(candidates: readonly T[], key: string): T {
  let best = candidates[0];
  let bestScore = -Infinity;
  for (const c of candidates) {
    const u = (hash32(`${key}\u0000${c.name}`) + 0.5) / 4294967296;
    const s = -c.weight / Math.log(u);
    if (s > bestScore) {
      bestScore = s;
      best = c;
    }
  }
  return best;
}
