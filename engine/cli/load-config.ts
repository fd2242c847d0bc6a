/** Reads and validates a configuration file with the one schema; problems come back as "path: sentence" lines. */
import fs from 'node:fs';
import { ConfigSchema, type Config } from '../config/index.ts';

export type Loaded = { config: Config; problems?: undefined } | { config?: undefined; problems: string[] };

export function loadConfig(file: string): Loaded {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { problems: [`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`] };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { problems: [`${file}: not valid JSON (${(e as Error).message})`] };
  }
  const r = ConfigSchema.safeParse(raw);
  if (r.success) return { config: r.data };
  return { problems: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`) };
}
