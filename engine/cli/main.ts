/**
 * fulcrumctl — the engine's command line for operators, in the spirit of `haproxy -c` and `ipvsadm -Ln`.
 *
 *   fulcrumctl check <config.json>                 validate a configuration file; print every problem with its path
 *   fulcrumctl apply <config.json> [--data-dir D]  program its layer 4 services into this kernel now (as root)
 *   fulcrumctl show [--data-dir D] [--json]        the running layer 4 state with counters, Fulcrum's services named
 *
 * Exit codes: 0 ok; 1 invalid configuration or a service failed; 2 usage, or IPVS unavailable for apply/show.
 * `apply` is for recovery and testing: the daemon (npm run engine) is the normal path and also runs layer 7.
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import { runCheck } from './check.ts';
import { runApply } from './apply.ts';
import { runShow } from './show.ts';

export const USAGE = `usage: fulcrumctl check <config.json>
       fulcrumctl apply <config.json> [--data-dir DIR]
       fulcrumctl show [--data-dir DIR] [--json]
DIR defaults to $FULCRUM_DATA_DIR or ./data`;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

/** The command line, parsed by node:util's parseArgs (so `--data-dir=DIR` works too); `bad` says what is wrong. */
export function parseArgs(argv: string[]): { command?: string; file?: string; dataDir: string; isJson: boolean; bad?: string } {
  const defaults = { dataDir: process.env.FULCRUM_DATA_DIR ?? 'data', isJson: false };
  let parsed: ReturnType<
    typeof parseNodeArgs<{ args: string[]; allowPositionals: true; strict: true; options: { 'data-dir': { type: 'string' }; json: { type: 'boolean' } } }>
  >;
  try {
    parsed = parseNodeArgs({ args: argv, allowPositionals: true, strict: true, options: { 'data-dir': { type: 'string' }, json: { type: 'boolean' } } });
  } catch (e) {
    // Node's own sentence ("Unknown option '--bogus'", "Option '--data-dir <value>' argument missing"), first line.
    return { command: argv[0], ...defaults, bad: (e as Error).message.split('\n')[0].replace(/\. To specify .*$/, '') };
  }
  const [command, file, extra] = parsed.positionals;
  const dataDir = parsed.values['data-dir'] ?? defaults.dataDir;
  const isJson = parsed.values.json ?? false;
  if (extra !== undefined) return { command, file, dataDir, isJson, bad: `unexpected argument ${extra}` };
  return { command, file, dataDir, isJson };
}

export async function main(argv: string[], io: Io): Promise<number> {
  const a = parseArgs(argv);
  if (a.bad || !a.command) {
    io.err(`${a.bad ? `fulcrumctl: ${a.bad}\n` : ''}${USAGE}`);
    return 2;
  }
  switch (a.command) {
    case 'check':
      if (!a.file) break;
      return runCheck(a.file, io);
    case 'apply':
      if (!a.file) break;
      return runApply(a.file, a.dataDir, io);
    case 'show':
      return runShow(a.dataDir, a.isJson, io);
  }
  io.err(USAGE);
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  void main(process.argv.slice(2), { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') }).then((code) =>
    process.exit(code),
  );
}
