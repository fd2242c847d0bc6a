/**
 * No default password: while no user exists, a one-time setup token is written to the data directory (owner-only)
 * and its path printed at start. Setup creates the first admin with it, and the token file is removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { consoleEnv } from './env.ts';

export function setupTokenPath(): string {
  return path.join(consoleEnv().dataDir, 'setup-token');
}

/** Creates the token file if missing; returns its path. */
export function ensureSetupToken(): string {
  const p = setupTokenPath();
  if (!fs.existsSync(p)) {
    fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
    fs.writeFileSync(p, randomBytes(18).toString('base64url') + '\n', { mode: 0o600 });
  }
  return p;
}

export function checkSetupToken(given: string): boolean {
  const p = setupTokenPath();
  if (!fs.existsSync(p)) return false;
  const a = Buffer.from(fs.readFileSync(p, 'utf8').trim());
  const b = Buffer.from(given.trim());
  return a.length === b.length && timingSafeEqual(a, b);
}

export function removeSetupToken(): void {
  fs.rmSync(setupTokenPath(), { force: true });
}
