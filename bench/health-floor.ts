/**
 * bench/health.ts's floor: bench/health-floor.c, built with cc at run time into the bench's temporary directory and
 * run as a third checker beside Fulcrum's monitor (same fleet, same rate, same fresh connection and reset per
 * check; the C file lists its system calls). Its CPU is what the checks cost the kernel and a process that does
 * nothing else: how far the monitor is from it is what Node, libuv and our JavaScript add.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { FALL, HTTP_SERVERS, INTERVAL_MS, RISE, SERVERS, TIMEOUT_MS } from './health-fleet.ts';
import { children } from './health-procs.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Builds the floor into `dir`; its path, or undefined (with why, printed) when there is no C compiler. */
export function buildFloor(dir: string): string | undefined {
  const out = path.join(dir, 'health-floor');
  const r = spawnSync('cc', ['-O2', '-o', out, path.join(HERE, 'health-floor.c')], { encoding: 'utf8' });
  if (r.status === 0) return out;
  console.log(`# the floor (bench/health-floor.c) did not build, so it is left out: ${r.error?.message ?? `${r.stdout}${r.stderr}`}`);
  return undefined;
}

export interface FloorStarted {
  proc: ChildProcess;
  onDown(f: (port: number, at: number, why: string) => void): void;
  allChecked: Promise<void>;
}

export function startFloor(binary: string, base: number): FloorStarted {
  const args = [base, SERVERS, HTTP_SERVERS, INTERVAL_MS, TIMEOUT_MS, FALL, RISE].map(String);
  // stdin a pipe held open: its end (this process gone) ends the floor too.
  const proc = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  let onDown: (port: number, at: number, why: string) => void = () => undefined;
  let resolveChecked: () => void;
  const allChecked = new Promise<void>((r) => (resolveChecked = r));
  readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
    const at = Date.now();
    const [what, a, why] = line.split(' ');
    if (what === 'down') onDown(Number(a), at, why);
    else if (what === 'checked') {
      if (Number(a) !== SERVERS) console.log(`#   floor: ${SERVERS - Number(a)} servers went down before the window`);
      resolveChecked();
    }
  });
  return { proc, onDown: (f) => (onDown = f), allChecked };
}
