/**
 * Changes in words: a field's path and its before/after as a sentence a reviewer reads without knowing the schema
 * ("weight of sym-app-1 in symphony-web: 100 → 50"). Pure (no Node or database imports): the console pages use it
 * too.
 *
 * A label comes from LABELS by the longest prefix of the field's path (array indexes taken out) it names, else from
 * the keys' words ("maxConnections" → "max connections"); an index is said as a position ("header rule 2"). Values: durations by their unit (a key ending in Ms or Seconds), booleans as
 * on/off, lists comma-separated, objects as "key value" pairs, an absent value as "(none)".
 */

export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

/** Labels of the fields whose key alone does not say what they are. */
const LABELS: Record<string, string> = {
  name: 'name',
  isEnabled: 'enabled',
  layer: 'layer',
  mode: 'mode',
  address: 'address',
  ports: 'ports',
  firewallMark: 'firewall mark',
  interface: 'interface',
  isBackup: 'backup server',
  group: 'server group',
  minConnections: 'minimum connections',
  maxConnections: 'maximum connections',
  'persistence.type': 'persistence',
  'persistence.timeoutSeconds': 'persistence timeout',
  'persistence.netmaskPrefix': 'persistence netmask prefix',
  'healthCheck.type': 'health check',
  'healthCheck.intervalMs': 'health check interval',
  'healthCheck.timeoutMs': 'health check timeout',
  'healthCheck.rise': 'health check rise',
  'healthCheck.fall': 'health check fall',
  'healthCheck.port': 'health check port',
  'healthCheck.startsDown': 'starts down',
  'healthCheck.onDown': 'when down',
  'healthCheck.http.expectStatus': 'expected HTTP status',
  'layer7.tls': 'TLS',
  'layer7.tls.certificate': 'TLS certificate',
  'layer7.tls.sniCertificates': 'SNI certificates',
  'layer7.tls.minVersion': 'minimum TLS version',
  'layer7.requestHeaders': 'request header rule',
  'layer7.responseHeaders': 'response header rule',
  'layer7.urlRewrites': 'URL rewrite',
  'layer7.routes': 'content-switching route',
  'layer7.redirects': 'redirect',
  'layer7.httpsRedirect': 'HTTPS redirect',
  'layer7.httpsRedirect.port': 'HTTPS redirect port',
  'layer7.hsts': 'HSTS',
  'layer7.proxyProtocol': 'PROXY protocol',
  'layer7.xForwardedFor': 'X-Forwarded-For',
  'layer7.xForwardedProto': 'X-Forwarded-Proto',
  'layer7.trustedProxies': 'trusted proxies',
  'layer7.timeouts.clientMs': 'client timeout',
  'layer7.timeouts.serverMs': 'server timeout',
  'layer7.timeouts.connectMs': 'connect timeout',
  'layer7.timeouts.queueMs': 'queue timeout',
  'layer7.timeouts.tunnelMs': 'tunnel timeout',
  'layer7.timeouts.httpRequestMs': 'request-header timeout',
  'layer7.http2': 'HTTP/2',
  'layer7.limits': 'limit',
  'layer4.onePacketScheduling': 'one-packet scheduling',
  'layer4.schedulerFallback': 'scheduler fallback (sh/mh)',
  'layer4.schedulerPort': 'source-port hashing (sh/mh)',
  certificateSha256: 'certificate (SHA-256)',
  privateKeyPem: 'private key',
  prefixLength: 'prefix length',
  state: 'operator state',
};

/** "maxConnections" → "max connections", "layer7" → "layer 7", "tls" → "TLS". */
export function keyWords(key: string): string {
  const acronyms: Record<string, string> = {
    tls: 'TLS',
    http: 'HTTP',
    https: 'HTTPS',
    hsts: 'HSTS',
    sni: 'SNI',
    url: 'URL',
    alpn: 'ALPN',
    ca: 'CA',
    ms: 'ms',
    dicom: 'DICOM',
    ae: 'AE',
    http2: 'HTTP/2',
  };
  return key
    .replace(/^is(?=[A-Z])/, '')
    .replace(/Ms$|Seconds$/, '')
    .replace(/([a-z])([A-Z0-9])/g, '$1 $2')
    .replace(/([0-9])([a-z])/gi, '$1 $2')
    .split(' ')
    .map((w) => acronyms[w.toLowerCase()] ?? w.toLowerCase())
    .join(' ');
}

const isIndex = (p: string) => /^\d+$/.test(p);

/**
 * The label of a field path: the longest prefix LABELS names, then list positions and the remaining keys' words
 * ("layer7.requestHeaders.1.value" → "request header rule 2 value").
 */
export function fieldLabel(path: string): string {
  if (!path) return 'value';
  const parts = path.split('.');
  const keys = parts.filter((p) => !isIndex(p));
  let best = 0;
  for (let n = keys.length; n > 0 && !best; n--) if (LABELS[keys.slice(0, n).join('.')]) best = n;
  const words = best ? [LABELS[keys.slice(0, best).join('.')]] : [];
  let k = 0;
  for (const p of parts) {
    if (isIndex(p)) words.push(String(Number(p) + 1));
    else if (++k > best) words.push(keyWords(p));
  }
  return words.join(' ');
}

const lastKey = (path: string) =>
  path
    .split('.')
    .filter((p) => !/^\d+$/.test(p))
    .pop() ?? '';

/** Fields where 0 means "unlimited" (the schema's and IPVS's upper threshold), so 0 is never read as a limit of 0. */
const NO_LIMIT_AT_ZERO = new Set(['maxConnections']);

function unitOf(path: string): 'ms' | 's' | undefined {
  const key = lastKey(path);
  return /Ms$/.test(key) ? 'ms' : /Seconds$/.test(key) ? 's' : undefined;
}

/** A value as words: "5 s", "on", "80, 443", "type source-ip, timeout 3600 s", "(none)". */
export function valueWords(v: unknown, path = ''): string {
  if (v === null || v === undefined) return '(none)';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') {
    if (v === 0 && NO_LIMIT_AT_ZERO.has(lastKey(path))) return 'no limit';
    const unit = unitOf(path);
    if (unit === 'ms') return v >= 1000 && v % 1000 === 0 ? `${(v / 1000).toLocaleString('en-GB')} s` : `${v.toLocaleString('en-GB')} ms`;
    if (unit === 's') return `${v.toLocaleString('en-GB')} s`;
    return String(v);
  }
  if (typeof v === 'string') return v === '' ? '(empty)' : v;
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.map((x) => valueWords(x, path)).join(', ');
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '(none)';
    return entries.map(([k, x]) => `${keyWords(k)} ${valueWords(x, path ? `${path}.${k}` : k)}`).join(', ');
  }
  return String(v);
}

/** What an object is called in a sentence: "sym-app-1 in symphony-web" for "symphony-web/sym-app-1". */
export function objectWords(objectType: string, name: string): string {
  if (objectType === 'real-server') {
    const i = name.indexOf('/');
    return i < 0 ? name : `${name.slice(i + 1)} in ${name.slice(0, i)}`;
  }
  return name;
}

const TYPE_WORDS: Record<string, string> = {
  'virtual-service': 'virtual service',
  'real-server': 'real server',
  certificate: 'certificate',
  'floating-ip': 'floating IP',
  ha: 'settings of',
};

/** "weight of sym-app-1 in symphony-web: 100 → 50"; "description of web set to …"; "… cleared (was …)". */
export function fieldSentence(f: FieldChange, objectType: string, name: string): string {
  const of = `${fieldLabel(f.path)} of ${objectWords(objectType, name)}`;
  const isAbsent = (v: unknown) => v === null || v === undefined;
  if (isAbsent(f.before) && !isAbsent(f.after)) return `${of} set to ${valueWords(f.after, f.path)}`;
  if (!isAbsent(f.before) && isAbsent(f.after)) return `${of} cleared (was ${valueWords(f.before, f.path)})`;
  return `${of}: ${valueWords(f.before, f.path)} → ${valueWords(f.after, f.path)}`;
}

/** The headline of an object's change: "Real server sym-app-3 added to symphony-web". */
export function changeHeadline(kind: 'added' | 'removed' | 'changed', objectType: string, name: string): string {
  const type = TYPE_WORDS[objectType] ?? objectType;
  const Type = type[0].toUpperCase() + type.slice(1);
  if (objectType === 'real-server') {
    const i = name.indexOf('/');
    const [vs, rs] = i < 0 ? ['', name] : [name.slice(0, i), name.slice(i + 1)];
    if (kind === 'added') return `${Type} ${rs} added to ${vs}`;
    if (kind === 'removed') return `${Type} ${rs} removed from ${vs}`;
    return `${Type} ${rs} in ${vs} changed`;
  }
  return `${Type} ${name} ${kind}`;
}
