/**
 * Real servers in bulk: lines pasted as `name,address,port,weight` (CSV, or separated by tabs as a spreadsheet
 * copies them, or by spaces), or the real servers of another service. Each line is checked on its own with the
 * shared RealServerSchema, and against the rows already in the form and the other lines (a name or an address:port
 * used twice), so every problem is named by its line before anything is added.
 *
 * Accepted per line: `name,address`, `name,address,port`, `name,address,port,weight`; an empty port keeps the
 * client's port. A first line of column names (`name,address,port,weight`) is skipped, as are blank lines and
 * lines starting with `#`.
 */
import { RealServerSchema, endpointText, type RealServerInput } from '@/engine/config/schema.ts';

export interface BulkLine {
  /** 1-based line of the pasted text (for a clone: the position in the other service). */
  line: number;
  text: string;
  server?: RealServerInput;
  problems: string[];
}

type Known = { name: string; address: string; port?: number | string };

const COLUMNS = ['name', 'address', 'port', 'weight'] as const;
const LABEL: Record<string, string> = { name: 'name', address: 'address', port: 'port', weight: 'weight' };

/** One pasted line → its cells (quotes around a cell are dropped). */
export function splitLine(text: string): string[] {
  const sep = text.includes(',') ? ',' : text.includes('\t') ? '\t' : ';';
  const cells = text.includes(',') || text.includes('\t') || text.includes(';') ? text.split(sep) : text.trim().split(/\s+/);
  return cells.map((c) =>
    c
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .trim(),
  );
}

function lineServer(cells: string[]): { server: Record<string, unknown>; problems: string[] } {
  const problems: string[] = [];
  if (cells.length < 2) problems.push('Give at least a name and an address (name,address,port,weight).');
  if (cells.length > COLUMNS.length) problems.push(`Expected at most 4 values (name,address,port,weight); found ${cells.length}.`);
  const [name = '', address = '', port = '', weight = ''] = cells;
  const num = (t: string) => (/^\d+$/.test(t) ? Number(t) : t === '' ? undefined : Number.NaN);
  const server: Record<string, unknown> = { name, address, ...(port !== '' ? { port: num(port) } : {}), ...(weight !== '' ? { weight: num(weight) } : {}) };
  return { server, problems };
}

/** Checks servers (parsed lines or another service's) against the schema, each other and the rows already there. */
export function checkServers(items: { line: number; text: string; server: Record<string, unknown>; problems?: string[] }[], existing: Known[]): BulkLine[] {
  const names = new Map<string, string>(existing.map((k) => [k.name, 'a real server already in this service']));
  const endpoints = new Map<string, string>(existing.map((k) => [`${k.address}|${k.port ?? ''}`, `"${k.name}", already in this service`]));
  return items.map(({ line, text, server, problems = [] }) => {
    const out = [...problems];
    const r = RealServerSchema.safeParse(server);
    if (!r.success) for (const i of r.error.issues) out.push(`${LABEL[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`);
    const name = String(server.name ?? '');
    const endpoint = `${server.address}|${server.port ?? ''}`;
    if (name && names.has(name)) out.push(`The name "${name}" is already used by ${names.get(name)}.`);
    else if (name) names.set(name, `line ${line}`);
    if (r.success && endpoints.has(endpoint)) out.push(`${endpointText(r.data.address, r.data.port)} is already listed (${endpoints.get(endpoint)}).`);
    else if (r.success) endpoints.set(endpoint, `line ${line}`);
    return { line, text, problems: out, ...(out.length === 0 ? { server: server as RealServerInput } : {}) };
  });
}

/** Pasted text → one result per line that holds a server. */
export function parseBulk(text: string, existing: Known[]): BulkLine[] {
  const items: { line: number; text: string; server: Record<string, unknown>; problems: string[] }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const cells = splitLine(t);
    if (items.length === 0 && cells[0]?.toLowerCase() === 'name' && cells[1]?.toLowerCase() === 'address') return;
    items.push({ line: i + 1, text: t, ...lineServer(cells) });
  });
  return checkServers(items, existing);
}

/** Another service's real servers, as they are (weights, backups, groups, check overrides), ready to add. */
export function cloneServers(servers: Record<string, unknown>[], existing: Known[], isLayer7: boolean): BulkLine[] {
  const items = servers.map((s, i) => {
    const { id: _i, version: _v, createdAt: _c, updatedAt: _u, ...spec } = s;
    // Groups belong to layer 7 content switching; a layer 4 service would refuse them.
    if (!isLayer7) delete spec.group;
    return { line: i + 1, text: `${spec.name},${spec.address}${spec.port !== undefined ? `,${spec.port}` : ''}`, server: spec };
  });
  return checkServers(items, existing);
}
