/**
 * One-time pairing codes and the proofs made with them (pure; the database side is in pairing.ts).
 *
 * The code is shown on the primary and typed on the secondary, and it never crosses the wire. Each side instead
 * proves it knows it with an HMAC bound to both certificates as that side sees them on the TLS connection:
 *
 *   secondary ── TLS (client cert S, server cert P as seen) ──► primary
 *     { nonce, proof = HMAC(K, "secondary" ‖ P ‖ S ‖ nonce) }       K = SHA-256(code)
 *   primary checks with P (its own) and S (the client cert it sees), then answers
 *     { proof = HMAC(K, "primary" ‖ P ‖ S ‖ nonce), pairKey, … }
 *   secondary checks that answer with the P and S it saw, then pins P (the primary pinned S).
 *
 * Something between the two (a MITM with its own certificates) makes the views differ, so neither proof checks and
 * nothing is paired; it cannot make proofs of its own without the code, and 60 random bits cannot be found offline
 * within the code's minutes. A wrong code is counted (pairing.ts burns the live codes after a few).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Crockford's base32: no I, L, O, U, so a code read aloud or off a screen is not mistyped. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CODE_LENGTH = 12;

/** 12 characters, 60 bits, shown as XXXX-XXXX-XXXX. */
export function newPairingCode(): string {
  const bytes = randomBytes(CODE_LENGTH);
  let s = '';
  for (const b of bytes) s += ALPHABET[b & 31];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

/** What a person typed, as the code: case, spaces and dashes ignored; O read as 0, I and L as 1. Undefined if not a code. */
export function normalisePairingCode(typed: string): string | undefined {
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (s.length !== CODE_LENGTH || [...s].some((c) => !ALPHABET.includes(c))) return undefined;
  return s;
}

/** The stored form of a code, and the key its proofs use. */
export function pairingCodeHash(code: string): string {
  const n = normalisePairingCode(code);
  if (!n) throw new Error('not a pairing code');
  return createHash('sha256').update(`fulcrum-pairing-code ${n}`).digest('hex');
}

export type ProofSide = 'primary' | 'secondary';

/** `primaryFp`/`secondaryFp`: the certificates' SHA-256 fingerprints as Node prints them (fingerprint256). */
export function pairingProof(codeHash: string, side: ProofSide, primaryFp: string, secondaryFp: string, nonce: string): string {
  return createHmac('sha256', Buffer.from(codeHash, 'hex')).update(`fulcrum-pair v1 ${side} ${primaryFp} ${secondaryFp} ${nonce}`).digest('hex');
}

export function isProofValid(expected: string, sent: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(/^[0-9a-f]{64}$/.test(sent) ? sent : '', 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export const newNonce = () => randomBytes(16).toString('hex');
