/**
 * The leaves of a zod schema, as the form sees them: one entry per control a person fills in, with its kind, its
 * default and (for a choice) its options. Paths use `[]` for "each element of an array of objects"
 * ("realServers[].healthCheck.rise"); an array of plain values (ports, arguments, networks) is one leaf, and so is
 * a union that is not discriminated (X-Forwarded-For: a boolean or `{ mode }`, shown as one mode select).
 *
 * Both the form (defaults, which text becomes a number) and its coverage test (every leaf has a control) read
 * this, so a field added to the schema shows up in the test at once.
 */
import type { z } from 'zod';

export type LeafKind = 'string' | 'number' | 'boolean' | 'enum' | 'list' | 'union';
export type NodeKind = LeafKind | 'object';

export interface SchemaNode {
  path: string;
  kind: NodeKind;
  /** The schema's default, if it has one. */
  default?: unknown;
  isOptional: boolean;
  /** For enums and literals: the values that can be chosen. */
  options?: readonly unknown[];
}

type Def = { type: string; [k: string]: any };
const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

/** Peels optional, default, prefault, nullable and pipes; says whether the value may be left out, and its default. */
function unwrap(schema: z.ZodType): { inner: z.ZodType; isOptional: boolean; default?: unknown } {
  let s = schema;
  let isOptional = false;
  let dflt: unknown;
  for (;;) {
    const d = defOf(s);
    if (d.type === 'optional' || d.type === 'nullable') {
      isOptional = true;
      s = d.innerType;
      continue;
    }
    if (d.type === 'default' || d.type === 'prefault') {
      if (dflt === undefined) dflt = typeof d.defaultValue === 'function' ? d.defaultValue() : d.defaultValue;
      isOptional = true;
      s = d.innerType;
      continue;
    }
    if (d.type === 'pipe') {
      s = d.in;
      continue;
    }
    return { inner: s, isOptional, default: dflt };
  }
}

export type SchemaLeaf = SchemaNode & { kind: LeafKind };

/** Every leaf and every object (objects say whether they may be left out), in the schema's own order. */
export function schemaNodes(schema: z.ZodType, prefix = ''): SchemaNode[] {
  const out = new Map<string, SchemaNode>();
  walk(schema, prefix, false, out);
  return [...out.values()];
}

export function schemaLeaves(schema: z.ZodType, prefix = ''): SchemaLeaf[] {
  return schemaNodes(schema, prefix).filter((n): n is SchemaLeaf => n.kind !== 'object');
}

function walk(schema: z.ZodType, path: string, parentOptional: boolean, out: Map<string, SchemaNode>): void {
  const { inner, isOptional, default: dflt } = unwrap(schema);
  const d = defOf(inner);
  const leaf = (kind: NodeKind, options?: readonly unknown[]) => {
    const prev = out.get(path);
    out.set(path, { path, kind, default: prev?.default ?? dflt, isOptional: isOptional || parentOptional, options: merge(prev?.options, options) });
  };
  switch (d.type) {
    case 'object':
      if (path && !out.has(path)) leaf('object');
      for (const [k, v] of Object.entries(d.shape as Record<string, z.ZodType>)) walk(v, path ? `${path}.${k}` : k, false, out);
      return;
    case 'array': {
      const el = unwrap(d.element).inner;
      const elType = defOf(el).type;
      if (elType === 'object' || (elType === 'union' && defOf(el).discriminator)) walk(d.element, `${path}[]`, false, out);
      else leaf('list');
      return;
    }
    case 'union':
      // A discriminated union (persistence, fallback): the fields of every option, the discriminator a choice.
      if (d.discriminator) for (const o of d.options as z.ZodType[]) walk(o, path, true, out);
      else if (d.options.every((o: z.ZodType) => defOf(o).type === 'literal'))
        leaf(
          'enum',
          d.options.flatMap((o: z.ZodType) => defOf(o).values),
        );
      else if (d.options.every((o: z.ZodType) => defOf(o).type === 'string')) leaf('string');
      else leaf('union');
      return;
    case 'enum':
      leaf('enum', Object.values(d.entries));
      return;
    case 'literal':
      leaf('enum', d.values);
      return;
    case 'string':
      leaf('string');
      return;
    case 'number':
      leaf('number');
      return;
    case 'boolean':
      leaf('boolean');
      return;
    default:
      throw new Error(`schemaLeaves: no rule for a zod ${d.type} at ${path || '(root)'}`);
  }
}

function merge(a?: readonly unknown[], b?: readonly unknown[]): readonly unknown[] | undefined {
  if (!a) return b;
  if (!b) return a;
  return [...new Set([...a, ...b])];
}

/** "realServers.12.healthCheck.rise" → "realServers[].healthCheck.rise". */
export function normalPath(path: string): string {
  return path.replace(/\.\d+(?=\.|$)/g, '[]');
}
