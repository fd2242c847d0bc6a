// Compiles the kernel tests, the test labs and every engine entry they start (the daemon's children, the CLI, the HA
// director) to JavaScript in a directory under /var/tmp, which both test kernels see (only their /tmp is private),
// and prints that directory. scripts/kernel/run.sh runs the compiled files.
//
// Why not tsx inside the guest: every Node process there pays for the loader. Measured in the UML guest on a quiet
// host (2026-12-03): `node -e 0` 357 ms, `node --import tsx -e 0` 1,616 ms, `node --import tsx engine/cli/main.ts
// --help` 3.6-4.3 s. A run starts dozens of such processes (each test file, each engine and its IPVS and
// health children, each fulcrumctl call), and on a loaded machine an engine that took seconds to start failed the
// HA tests' first apply. Compiled, the engine runs as it does in production (build/engine is compiled the same way).
//
// Types are not checked here (--noCheck): `npx tsc --noEmit` has already done that in CI, and this build must not
// refuse a run for a type error that the type check reports better.
// Usage: node scripts/kernel/compile.mjs <test file>...
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Started by path, not imported, so tsc would not find them from the tests alone.
const entries = [
  'engine/cli/main.ts',
  'engine/ha/testing/director.ts',
  'engine/health/runner-child.ts',
  'engine/l4/ipvs-child.ts',
  'engine/l7/worker.ts',
  'engine/l4/testing/agent.mjs',
  'engine/log/pino-roll.d.ts',
];
const tests = process.argv.slice(2);
const dir = fs.mkdtempSync('/var/tmp/fulcrum-kernel-js.');
// Readable by everyone: a test runs compiled code as nobody (client.kernel.test.ts, without CAP_NET_ADMIN).
fs.chmodSync(dir, 0o755);
fs.writeFileSync(
  path.join(dir, 'tsconfig.json'),
  JSON.stringify({
    extends: path.join(root, 'engine/tsconfig.build.json'),
    compilerOptions: { rootDir: root, outDir: dir, allowJs: true, sourceMap: true, incremental: false },
    files: [...tests, ...entries].map((f) => path.resolve(root, f)),
    include: [],
  }),
);
fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
const r = spawnSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(dir, 'tsconfig.json'), '--noCheck'], { encoding: 'utf8' });
if (r.status !== 0) {
  process.stderr.write(`kernel tests: the compile failed\n${r.stdout}${r.stderr}`);
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(1);
}
process.stdout.write(`${dir}\n`);
