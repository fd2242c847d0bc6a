/**
 * Where an issue of the shared schema is shown. Issues carry a path ("layer7.timeouts.clientMs",
 * "realServers.12.port", "ports.1", "layer7.hsts"); each control of the form is marked with the concrete path it
 * edits (data-schema-path), so an issue goes to:
 *
 *   the control at its path                      layer7.timeouts.clientMs → itself
 *   else the list control holding it             ports.1, layer7.trustedProxies.0 → ports, layer7.trustedProxies
 *   else a list that shows its own problems      layer7.redirects ("Redirects need an http service") → itself
 *   else the first control inside the object     layer7.hsts → layer7.hsts.maxAgeSeconds; persistence → .type
 *
 * Health check paths keep their own mapping (healthFieldOf in health-check-fields.tsx).
 */
import { normalPath } from './schema-fields';
import { nodeAt } from './model';
import { schemaNodes } from './schema-fields';
import { VirtualServiceSchema } from '@/engine/config/schema.ts';

const ORDER = schemaNodes(VirtualServiceSchema)
  .filter((n) => n.kind !== 'object')
  .map((n) => n.path);

/** Lists whose own problems are shown above their items. */
export const CONTAINERS = ['realServers', 'layer7.redirects', 'layer7.requestHeaders', 'layer7.responseHeaders', 'layer7.urlRewrites', 'layer7.routes'];

export function controlPathOf(path: string): string {
  if (path === '' || path === 'healthCheck' || path.startsWith('healthCheck.')) return path;
  const parts = path.split('.');
  for (let n = parts.length; n > 0; n--) {
    const p = parts.slice(0, n).join('.');
    const node = nodeAt(p);
    if (node && node.kind !== 'object') return p;
  }
  if (CONTAINERS.includes(normalPath(path))) return path;
  const np = normalPath(path);
  const first = ORDER.find((l) => l.startsWith(`${np}.`) && !l.slice(np.length + 1).includes('[]'));
  return first ? path + first.slice(np.length) : path;
}

/** Issues by path → messages by the control that shows them (the first message of each control wins). */
export function placeIssues(issues: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, m] of Object.entries(issues)) out[controlPathOf(p)] ??= m;
  return out;
}

/** zod issues → { "path.joined": message } (the first per path). */
export function issueMap(issues: readonly { path: readonly PropertyKey[]; message: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of issues) out[i.path.map(String).join('.')] ??= i.message;
  return out;
}

export const SECTIONS = ['basics', 'realServers', 'persistence', 'health', 'tls', 'rules', 'limits', 'advanced'] as const;
export type SectionId = (typeof SECTIONS)[number];

const SECTION_OF: [RegExp, SectionId][] = [
  [/^realServers/, 'realServers'],
  [/^persistence/, 'persistence'],
  [/^healthCheck/, 'health'],
  [/^layer7\.(tls|hsts|httpsRedirect|reencrypt)/, 'tls'],
  [/^layer7\.(redirects|requestHeaders|responseHeaders|urlRewrites|routes)/, 'rules'],
  [/^layer7\.(timeouts|limits)/, 'limits'],
  [/^(layer7|layer4|fallback)/, 'advanced'],
];

/** The section a path belongs to, so a section with a problem can be opened and badged. */
export function sectionOf(path: string): SectionId {
  return SECTION_OF.find(([re]) => re.test(path))?.[1] ?? 'basics';
}
