/**
 * Small helpers on addresses, ports and protocols shared by the schema's rules and the data planes.
 * Pure functions; no imports.
 */

export type PortSpec = number | string;

/** 4 or 6. Accepts what the schema accepted; anything with a colon is IPv6. */
export function addressFamily(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/** [from, to] inclusive for a port or a "from-to" range. */
export function portRange(spec: PortSpec): [number, number] {
  if (typeof spec === 'number') return [spec, spec];
  const [a, b] = spec.split('-').map(Number);
  return [a, b];
}

/** Every port named by a list of ports and ranges, sorted and without repeats. */
export function expandPorts(specs: readonly PortSpec[]): number[] {
  const out = new Set<number>();
  for (const s of specs) {
    const [a, b] = portRange(s);
    for (let p = a; p <= b; p++) out.add(p);
  }
  return [...out].sort((x, y) => x - y);
}

export function portSpecsOverlap(a: readonly PortSpec[], b: readonly PortSpec[]): boolean {
  for (const x of a) {
    const [a1, a2] = portRange(x);
    for (const y of b) {
      const [b1, b2] = portRange(y);
      if (a1 <= b2 && b1 <= a2) return true;
    }
  }
  return false;
}

export function portSpecText(spec: PortSpec): string {
  return String(spec);
}

export function protocolsOverlap(a: 'tcp' | 'udp' | 'both', b: 'tcp' | 'udp' | 'both'): boolean {
  return a === 'both' || b === 'both' || a === b;
}
