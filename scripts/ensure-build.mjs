// `npm start` builds the engine and the console once (and again whenever a source file is newer than its build), so
// the README's two commands are all a fresh machine needs. The engine runs as compiled JavaScript from build/engine
// (ARCHITECTURE.md), never through a TypeScript loader; `--engine` builds only the engine (npm run engine, fulcrumctl).
import fs from 'node:fs';
import path from 'node:path';
import { execSync } from 'node:child_process';

const buildId = path.resolve('.next', 'BUILD_ID');
const roots = ['app', 'components', 'lib', 'engine/config', 'public', 'next.config.ts', 'package.json'];
function newest(p) {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) if (e !== 'generated' && e !== 'node_modules') m = Math.max(m, newest(path.join(p, e)));
  return m;
}
const engineEntry = path.resolve('build', 'engine', 'daemon', 'main.js');
const engineBuilt = fs.existsSync(engineEntry) ? fs.statSync(engineEntry).mtimeMs : 0;
if (engineBuilt === 0 || ['engine', 'package.json'].some((r) => newest(r) > engineBuilt)) {
  console.error('Building the engine…');
  try {
    fs.rmSync(path.resolve('build', 'engine'), { recursive: true, force: true });
    execSync('npx tsc -p engine/tsconfig.build.json', { stdio: 'inherit' });
  } catch {
    console.error('The engine could not be built; the reason is printed above.');
    process.exit(1);
  }
}
if (process.argv.includes('--engine')) process.exit(0);

const built = fs.existsSync(buildId) ? fs.statSync(buildId).mtimeMs : 0;
if (built === 0 || roots.some((r) => newest(r) > built)) {
  console.log(built === 0 ? 'Building the console (first start, about a minute)…' : 'Sources changed since the last build; building the console…');
  try {
    execSync('npx next build', { stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
  } catch {
    console.error('The console could not be built; the reason is printed above.');
    process.exit(1);
  }
}
