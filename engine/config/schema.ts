/**
 * The one configuration schema: everything the engine accepts, as zod.
 *
 * The console's forms, its REST API and the engine's daemon all parse with these schemas, so a rule lives here once
 * and a refusal always carries the same field path and sentence. Types are `z.infer` of these schemas; never write
 * a hand-made twin. This module imports nothing but zod and ./address.ts (ipaddr.js; see STYLE.md).
 *
 * Shape: a Config holds VirtualServices (each with its RealServers), FloatingIps and Certificates. Per-service rules
 * (DR cannot translate ports, schedulers valid for the layer …) are refinements of VirtualService; rules that look
 * across services (the same RIP:PORT in L4 SNAT and L7, two services on one VIP:port) are refinements of Config.
 */
import { z } from 'zod';
import { canonicalAddress, sameAddress } from './address.ts';
import { addressFamily, expandPorts, portSpecsOverlap, portSpecText, protocolsOverlap } from './ports.ts';

export const LAYER4_MODES = ['dr', 'nat', 'snat', 'tun'] as const;
export const LAYER7_MODES = ['http', 'tcp'] as const;
export const MODES = [...LAYER4_MODES, ...LAYER7_MODES] as const;

/** IPVS schedulers, by the kernel's own names (ip_vs_<name>.ko). */
export const LAYER4_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'dh', 'mh', 'sed', 'nq', 'lblc', 'lblcr', 'fo', 'ovf'] as const;
/**
 * Proxy schedulers. Names shared with IPVS mean the same thing; `uri` hashes the request path, `p2c` is random with
 * two choices (the less loaded of two random servers).
 */
export const LAYER7_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'uri', 'fo', 'p2c'] as const;
export const SCHEDULERS = [...new Set([...LAYER4_SCHEDULERS, ...LAYER7_SCHEDULERS])] as [string, ...string[]];

export const OPERATOR_STATES = ['online', 'drain', 'halt'] as const;
export const HEALTH_STATES = ['up', 'down', 'unknown'] as const;

/** Names appear in URLs, logs and the kernel's view; keep them plain. */
export const NameSchema = z
  .string()
  .min(1, 'Give a name.')
  .max(64, 'Use at most 64 characters.')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'Use letters, digits, dot, dash and underscore, starting with a letter or digit.');

const IP_ADDRESS_MESSAGE = 'Give an IPv4 address such as 192.168.10.50 or an IPv6 address such as 2001:db8::50.';

export const IpAddressSchema = z.union([z.ipv4(), z.ipv6()], { error: IP_ADDRESS_MESSAGE });

export const PortSchema = z
  .number({ error: 'Give a port number from 1 to 65535.' })
  .int('Give a whole port number.')
  .min(1, 'Ports run from 1 to 65535.')
  .max(65535, 'Ports run from 1 to 65535.');

/** A port, or an inclusive range written "8000-8010". */
export const PortSpecSchema = z.union([
  PortSchema,
  z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, 'Write a range as "from-to", for example "8000-8010".')
    .refine((s) => {
      const [a, b] = s.split('-').map(Number);
      return a >= 1 && b <= 65535 && a <= b;
    }, 'A range runs from a lower to a higher port, both from 1 to 65535.'),
]);

const seconds = (min: number, max: number, what: string) =>
  z
    .number({ error: `Give ${what} in seconds.` })
    .int(`Give ${what} in whole seconds.`)
    .min(min, `${what} must be at least ${min} s.`)
    .max(max, `${what} must be at most ${max} s.`);

const millis = (min: number, max: number, what: string) =>
  z
    .number({ error: `Give ${what} in milliseconds.` })
    .int(`Give ${what} in whole milliseconds.`)
    .min(min, `${what} must be at least ${min} ms.`)
    .max(max, `${what} must be at most ${max} ms.`);

// ───────────────────────────── persistence ─────────────────────────────

export const PersistenceSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('none') }),
    z.strictObject({
      type: z.literal('source-ip'),
      timeoutSeconds: seconds(1, 31_536_000, 'The persistence timeout').default(300),
      /** Granularity: clients in the same network of this prefix length stick together (IPVS netmask). */
      netmaskPrefix: z.number().int().min(0).max(128).optional(),
    }),
    z.strictObject({
      type: z.literal('http-cookie'),
      cookieName: z
        .string()
        .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'Use a cookie name made of token characters.')
        .default('FULCRUMID'),
      maxIdleSeconds: seconds(1, 31_536_000, 'The cookie idle time').optional(),
      maxLifeSeconds: seconds(1, 31_536_000, 'The cookie lifetime').optional(),
      httpOnly: z.boolean().default(true),
      /**
       * Unset: Secure exactly when the service terminates TLS. A Secure cookie set over plain HTTP is never sent
       * back by the browser, which would silently break persistence.
       */
      secure: z.boolean().optional(),
    }),
    z.strictObject({
      type: z.literal('app-cookie'),
      cookieName: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'Use a cookie name made of token characters.'),
      timeoutSeconds: seconds(1, 31_536_000, 'The session timeout').default(1800),
    }),
    z.strictObject({
      type: z.literal('rdp-cookie'),
      timeoutSeconds: seconds(1, 31_536_000, 'The session timeout').default(3600),
    }),
  ],
  { error: 'Choose persistence: none, source-ip, http-cookie, app-cookie or rdp-cookie.' },
);

// ───────────────────────────── health checks ─────────────────────────────

/**
 * Check kinds (one checker file each in engine/health/): `connect` opens TCP (and, given `sendExpect`, sends and
 * expects text; `send-expect` is the same with the text required); `http`/`https` negotiate a request; `external`
 * runs a command (keepalived's MISC_CHECK); `ping` sends ICMP echo; `dicom-echo` is a DICOM C-ECHO. `agent` is not a
 * kind: it is a feedback agent (HAProxy's agent-check) that runs beside any kind, `none` included.
 */
export const HEALTH_CHECK_TYPES = ['none', 'connect', 'send-expect', 'http', 'https', 'external', 'ping', 'dicom-echo'] as const;

const AeTitleSchema = z
  .string()
  .regex(/^[ -~]{1,16}$/, 'An AE title is 1 to 16 printable ASCII characters.')
  .refine((s) => s.trim() !== '' && !s.includes('\\'), 'An AE title needs a character other than spaces and cannot contain a backslash.');

export const HttpCheckSchema = z.strictObject({
  method: z.enum(['GET', 'HEAD', 'OPTIONS']).default('GET'),
  path: z
    .string()
    .startsWith('/', 'A check path starts with "/".')
    .max(2048)
    .regex(/^[\x21-\x7e]*$/, 'A check path has no spaces or control characters; percent-encode them.')
    .default('/'),
  /** Host header; default the real server's address. */
  host: z
    .string()
    .max(255)
    .regex(/^[A-Za-z0-9.:[\]_-]+$/, 'Give a host name such as symphony.example.nhs.uk.')
    .optional(),
  /** Accepted status codes, e.g. "200-399" or "200,204". */
  expectStatus: z
    .string()
    .regex(/^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$/, 'Write statuses like "200", "200-399" or "200,204".')
    .default('200-399'),
  /** Text the body must contain (the first 64 KiB are read). */
  expectBody: z.string().min(1).max(1024).optional(),
  /** Or a regular expression the body must match. */
  expectBodyRegex: z.string().min(1).max(1024).refine(isRegex, 'This is not a valid regular expression.').optional(),
  /** https only: check the real server's certificate chain and name (off by default: real servers often carry self-signed certificates). */
  verifyTls: z.boolean().default(false),
  /** https only: the name sent as SNI and checked against the certificate; default the Host header, else none. */
  serverName: z
    .string()
    .max(255)
    .regex(/^[A-Za-z0-9.-]+$/, 'Give a DNS name such as symphony.example.nhs.uk.')
    .optional(),
});

export const ExternalCheckSchema = z.strictObject({
  /** An absolute path, run without a shell. */
  command: z.string().startsWith('/', 'Give the absolute path of the program, such as /usr/local/bin/check-symphony.').max(1024),
  /** Arguments before the four the engine adds (VIP, VIP port, RIP, RIP port). */
  args: z.array(z.string().max(1024)).max(32).default([]),
  /** keepalived's misc_dynamic: exit 0 up, 1 down, 2–255 up with weight = code − 2. */
  isDynamicWeight: z.boolean().default(false),
});

export const AgentCheckSchema = z.strictObject({
  /** The Loadbalancer.org feedback agent listens on 3333. */
  port: PortSchema.default(3333),
  intervalMs: millis(500, 3_600_000, 'The agent interval').default(5000),
  timeoutMs: millis(100, 600_000, 'The agent timeout').default(2000),
  /** Text sent after connecting (HAProxy's agent-send); none by default. */
  send: z
    .string()
    .max(1024)
    .regex(/^[^\r]*$/, 'Agent text cannot contain a carriage return; use \\n for a line break.')
    .optional(),
});

export const HealthCheckSchema = z
  .strictObject({
    type: z.enum(HEALTH_CHECK_TYPES, { error: `Choose a health check: ${HEALTH_CHECK_TYPES.join(', ')}.` }),
    intervalMs: millis(500, 3_600_000, 'The check interval').default(5000),
    timeoutMs: millis(100, 600_000, 'The check timeout').default(3000),
    /** Consecutive successes before a down server is up again. */
    rise: z
      .number({ error: 'Give rise as a whole number from 1 to 100.' })
      .int()
      .min(1, 'Rise runs from 1 to 100.')
      .max(100, 'Rise runs from 1 to 100.')
      .default(2),
    /** Consecutive failures before an up server is down. */
    fall: z
      .number({ error: 'Give fall as a whole number from 1 to 100.' })
      .int()
      .min(1, 'Fall runs from 1 to 100.')
      .max(100, 'Fall runs from 1 to 100.')
      .default(3),
    /** Port to check; defaults to the real server's port (or the VIP's first port when it has none). */
    port: PortSchema.optional(),
    /** Start down until the first check passes (keepalived's `alpha`); by default a new server starts unknown, which counts as up. */
    startsDown: z.boolean().default(false),
    /**
     * What a health-down server becomes at layer 4: `quiesce` keeps it in the table at weight 0 (keepalived's
     * inhibit_on_failure: open connections finish), `remove` deletes it from the table. Layer 7 stops choosing it
     * either way.
     */
    onDown: z.enum(['quiesce', 'remove'], { error: 'Choose quiesce or remove.' }).default('quiesce'),
    http: HttpCheckSchema.optional(),
    sendExpect: z
      .strictObject({
        /** Sent after connecting; `\n` and `\r` are written as typed (JSON escapes). May be empty (expect a banner). */
        send: z.string().max(4096).default(''),
        expect: z.string().min(1, 'Give the text to expect.').max(4096),
        /** `expect` is a regular expression rather than plain text. */
        isRegex: z.boolean().default(false),
      })
      .optional(),
    dicom: z
      .strictObject({
        callingAeTitle: AeTitleSchema.default('FULCRUM'),
        calledAeTitle: AeTitleSchema,
      })
      .optional(),
    external: ExternalCheckSchema.optional(),
    agent: AgentCheckSchema.optional(),
  })
  .superRefine((hc, ctx) => {
    const issue = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (hc.timeoutMs > hc.intervalMs) issue(['timeoutMs'], 'The timeout must not be longer than the interval.');
    if (hc.type === 'send-expect' && !hc.sendExpect) issue(['sendExpect'], 'A send-expect check needs the text to expect.');
    if (hc.sendExpect && hc.type !== 'send-expect' && hc.type !== 'connect')
      issue(['sendExpect'], 'Text to send and expect belongs to connect and send-expect checks.');
    if (hc.sendExpect?.isRegex && !isRegex(hc.sendExpect.expect)) issue(['sendExpect', 'expect'], 'This is not a valid regular expression.');
    if (hc.type === 'dicom-echo' && !hc.dicom) issue(['dicom'], 'A DICOM echo check needs the called AE title.');
    if (hc.dicom && hc.type !== 'dicom-echo') issue(['dicom'], 'AE titles belong to a dicom-echo check.');
    if (hc.type === 'external' && !hc.external) issue(['external'], 'An external check needs the command to run.');
    if (hc.external && hc.type !== 'external') issue(['external'], 'A command belongs to an external check.');
    if (hc.http && hc.type !== 'http' && hc.type !== 'https') issue(['http'], 'Request settings belong to http and https checks.');
    if (hc.http?.expectBody !== undefined && hc.http.expectBodyRegex !== undefined)
      issue(['http', 'expectBodyRegex'], 'Give the body text or a regular expression, not both.');
    if (hc.http && hc.type === 'http' && (hc.http.verifyTls || hc.http.serverName)) issue(['http', 'verifyTls'], 'TLS settings apply to https checks only.');
    if (hc.type === 'ping' && hc.port !== undefined) issue(['port'], 'A ping check has no port.');
    if (hc.agent && hc.agent.timeoutMs > hc.agent.intervalMs) issue(['agent', 'timeoutMs'], 'The agent timeout must not be longer than its interval.');
  });

/** Per real server: the service's check with other timing or another port. */
export const RealServerCheckSchema = z.strictObject({
  intervalMs: millis(500, 3_600_000, 'The check interval').optional(),
  timeoutMs: millis(100, 600_000, 'The check timeout').optional(),
  rise: z.number().int().min(1, 'Rise runs from 1 to 100.').max(100, 'Rise runs from 1 to 100.').optional(),
  fall: z.number().int().min(1, 'Fall runs from 1 to 100.').max(100, 'Fall runs from 1 to 100.').optional(),
  port: PortSchema.optional(),
});

function isRegex(s: string): boolean {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}

// ───────────────────────────── real servers ─────────────────────────────

export const RealServerSchema = z
  .strictObject({
    name: NameSchema,
    address: IpAddressSchema,
    /** Port on the real server; omitted means "the port the client connected to" (no translation). */
    port: PortSchema.optional(),
    weight: z
      .number({ error: 'Give a weight from 0 to 65535.' })
      .int('Give a whole weight.')
      .min(0, 'Weights run from 0 to 65535.')
      .max(65535, 'Weights run from 0 to 65535.')
      .default(100),
    /** IPVS lower threshold / proxy: below this the server takes new connections again after hitting max. */
    minConnections: z.number().int().min(0).max(1_000_000).default(0),
    /** 0 = unlimited. */
    maxConnections: z.number().int().min(0).max(1_000_000).default(0),
    state: z.enum(OPERATOR_STATES, { error: 'Choose online, drain or halt.' }).default('online'),
    /** Used only when every non-backup server is out. */
    isBackup: z.boolean().default(false),
    /** Layer 7 content switching sends matching requests to the servers of one group. */
    group: NameSchema.optional(),
    /** This server's own check timing or port, over the service's check. */
    healthCheck: RealServerCheckSchema.optional(),
  })
  .superRefine((rs, ctx) => {
    if (rs.maxConnections > 0 && rs.minConnections > rs.maxConnections) {
      ctx.addIssue({
        code: 'custom',
        path: ['minConnections'],
        message: 'The minimum connections must not exceed the maximum connections.',
      });
    }
    const hc = rs.healthCheck;
    if (hc?.timeoutMs !== undefined && hc.intervalMs !== undefined && hc.timeoutMs > hc.intervalMs) {
      ctx.addIssue({ code: 'custom', path: ['healthCheck', 'timeoutMs'], message: 'The timeout must not be longer than the interval.' });
    }
  });

// ───────────────────────────── layer 7 options ─────────────────────────────

const HeaderNameSchema = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'Use a header name made of token characters.');

export const HeaderRuleSchema = z
  .strictObject({
    action: z.enum(['add', 'set', 'delete']),
    name: HeaderNameSchema,
    value: z
      .string()
      .max(8192)
      .regex(/^[^\r\n]*$/, 'A header value cannot contain line breaks.')
      .optional(),
  })
  .superRefine((r, ctx) => {
    if (r.action !== 'delete' && r.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `To ${r.action} a header, give its value.` });
    }
  });

const RegexSchema = z.string().min(1).max(1024).refine(isRegex, 'This is not a valid regular expression.');

/** Conditions are ANDed; an empty match matches everything. */
export const MatchSchema = z.strictObject({
  pathPrefix: z.string().startsWith('/').optional(),
  pathSuffix: z.string().min(1).optional(),
  pathRegex: RegexSchema.optional(),
  host: z.string().min(1).max(255).optional(),
  header: z.strictObject({ name: HeaderNameSchema, value: z.string().max(8192).optional() }).optional(),
  source: z.union([z.cidrv4(), z.cidrv6()], { error: 'Give a network such as 10.0.0.0/8.' }).optional(),
});

/**
 * How a header that names the client (X-Forwarded-For, X-Forwarded-Proto, Forwarded) reaches the real server:
 *
 *   mode      what came from the client        what the real server gets
 *   append    kept                             what came, then this hop's value (", " between)
 *   replace   dropped                          this hop's value only
 *   trusted   kept from a trustedProxies peer  append for a peer in layer7.trustedProxies, replace for any other
 *
 * `true` and `false` stay accepted, as older configurations wrote them: `false` leaves the header alone (as it came,
 * nothing added); `true` means what it always did — append for X-Forwarded-For and Forwarded, replace for
 * X-Forwarded-Proto. The parsed value keeps the form it was given.
 */
export const FORWARDING_MODES = ['append', 'replace', 'trusted'] as const;
const ForwardingSchema = z.union([z.boolean(), z.strictObject({ mode: z.enum(FORWARDING_MODES, { error: 'Choose append, replace or trusted.' }) })], {
  error: 'Give true, false or { mode: "append" | "replace" | "trusted" }.',
});

const CidrSchema = z.union([z.cidrv4(), z.cidrv6()], { error: 'Give a network such as 10.0.0.0/8 or 2001:db8::/32.' });

/**
 * PEM certificates only (a CA bundle): at least one block, each BEGIN CERTIFICATE matched by its END around base64.
 * Text between blocks (the comments of a distributed bundle) is allowed; whether each block is a certificate OpenSSL
 * can read is checked when the service is built (engine/l7/upstream-tls.ts), which this module cannot do.
 */
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;
export const CaBundleSchema = z
  .string()
  .max(1024 * 1024, 'A CA bundle is at most 1 MiB.')
  .refine((s) => {
    const blocks = [...s.matchAll(CERT_BLOCK)];
    const begins = s.split('-----BEGIN ').length - 1;
    return blocks.length > 0 && blocks.length === begins && blocks.every((b) => b[1].replace(/\s/g, '').length >= 64);
  }, 'Paste the CA certificates in PEM ("-----BEGIN CERTIFICATE-----" … "-----END CERTIFICATE-----", one block per CA), nothing but certificates.');

export const Layer7Schema = z
  .strictObject({
    /** RFC 7239 §5.2: the client's address. `true`: append (as before). */
    xForwardedFor: ForwardingSchema.default(true),
    /** `true`: replace (as before), "http" or "https" as the client connected. */
    xForwardedProto: ForwardingSchema.default(true),
    /** RFC 7239 `Forwarded: for=…;proto=…;host=…`; off unless asked for. `true`: append. */
    forwarded: ForwardingSchema.default(false),
    /** Networks of the proxies in front of this one, whose forwarding headers mode "trusted" keeps. */
    trustedProxies: z.array(CidrSchema).max(256).default([]),
    proxyProtocol: z.enum(['none', 'v1', 'v2']).default('none'),
    tls: z
      .strictObject({
        /** Certificate name (see Config.certificates). */
        certificate: NameSchema,
        /** Further certificates chosen by SNI. */
        sniCertificates: z.array(NameSchema).max(100).default([]),
        minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
        cipherProfile: z.enum(['modern', 'intermediate']).default('intermediate'),
        /**
         * ALPN protocols offered, in the proxy's order of preference. Unset: `h2` then `http/1.1` for an http service
         * (every browser speaks h2, and the proxy serves it with the same rules; engine/l7/h2-session.ts), `http/1.1`
         * for tcp (the real server gets the client's bytes, and need not speak h2). `h2` is refused for tcp.
         */
        alpn: z
          .array(z.enum(['h2', 'http/1.1']))
          .min(1, 'Offer at least one protocol.')
          .max(2)
          .optional(),
      })
      .optional(),
    /** TLS from the proxy to the real servers. */
    reencrypt: z
      .strictObject({
        isEnabled: z.boolean().default(false),
        verify: z.boolean().default(true),
        serverName: z.string().optional(),
        /** The CAs a real server's certificate must chain to, instead of the system's (and NODE_EXTRA_CA_CERTS). */
        ca: CaBundleSchema.optional(),
      })
      .optional(),
    /** `port`: where HTTPS listens when not 443 (the Location then names it); unset sends clients to 443. */
    httpsRedirect: z
      .strictObject({
        status: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).default(301),
        port: PortSchema.optional(),
      })
      .optional(),
    hsts: z.strictObject({ maxAgeSeconds: seconds(0, 63_072_000, 'The HSTS max-age'), includeSubDomains: z.boolean().default(false) }).optional(),
    redirects: z
      .array(
        z.strictObject({
          match: MatchSchema,
          location: z.string().min(1).max(2048),
          status: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)]).default(302),
        }),
      )
      .max(200)
      .default([]),
    requestHeaders: z.array(HeaderRuleSchema).max(100).default([]),
    responseHeaders: z.array(HeaderRuleSchema).max(100).default([]),
    urlRewrites: z
      .array(z.strictObject({ pattern: RegexSchema, replacement: z.string().max(2048) }))
      .max(100)
      .default([]),
    /** Content switching: the first route that matches picks the group of real servers. */
    routes: z
      .array(z.strictObject({ name: NameSchema, match: MatchSchema, group: NameSchema }))
      .max(200)
      .default([]),
    /** HTTP/2 to clients (RFC 9113); the real servers are spoken to in HTTP/1.1 either way. */
    http2: z
      .strictObject({
        /** h2c with prior knowledge on plain listeners (RFC 9113 §3.3). Off: such a preface is refused (505) as before. */
        cleartext: z.boolean().default(false),
        /** SETTINGS_MAX_CONCURRENT_STREAMS; HAProxy's default is 100 too (nginx's 128). */
        maxConcurrentStreams: z.number().int().min(1).max(1000).default(100),
        /**
         * Streams a client may reset within abuseWindowMs before its connection is closed with GOAWAY
         * ENHANCE_YOUR_CALM (the rapid-reset attack, CVE-2023-44487). A browser cancels a few on navigation.
         */
        maxResets: z.number().int().min(1).max(100_000).default(100),
        /** SETTINGS and PING frames a client may send within abuseWindowMs (each costs the proxy an ACK). */
        maxControlFrames: z.number().int().min(1).max(100_000).default(100),
        abuseWindowMs: millis(1000, 600_000, 'The HTTP/2 abuse window').default(10_000),
      })
      .prefault({}),
    timeouts: z
      .strictObject({
        clientMs: millis(100, 86_400_000, 'The client timeout').default(60_000),
        serverMs: millis(100, 86_400_000, 'The server timeout').default(60_000),
        connectMs: millis(100, 600_000, 'The connect timeout').default(5_000),
        queueMs: millis(100, 600_000, 'The queue timeout').default(10_000),
        tunnelMs: millis(100, 86_400_000, 'The tunnel timeout').default(3_600_000),
        /** The whole request head (empty lines before it included) must arrive within this of its first byte: 408. */
        httpRequestMs: millis(100, 600_000, 'The request-header timeout').default(10_000),
        /** The window over which limits.minBodyBytesPerSecond is judged. */
        bodyRateWindowMs: millis(100, 600_000, 'The body rate window').default(20_000),
      })
      .prefault({}),
    limits: z
      .strictObject({
        maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
        maxBodyBytes: z
          .number()
          .int()
          .min(0)
          .max(10 * 1024 ** 3)
          .default(100 * 1024 ** 2),
        maxQueue: z.number().int().min(0).max(100_000).default(1000),
        /**
         * A request body must come at least this fast over each timeouts.bodyRateWindowMs, or the client gets 408
         * (0: no floor). Windows in which the proxy itself held the body back (a slow real server) do not count. 500
         * is Apache mod_reqtimeout's body MinRate: a client on a 2G link sends 20 times that.
         */
        minBodyBytesPerSecond: z.number().int().min(0).max(1_000_000_000).default(500),
      })
      .prefault({}),
    /** The access log (engine/log/access-log.ts): the share of normal exchanges written; errors and aborts always are. */
    accessLog: z
      .strictObject({
        sampleRate: z.number().min(0, 'Give a share from 0 to 1 (1: every request).').max(1, 'Give a share from 0 to 1 (1: every request).').default(1),
      })
      .prefault({}),
  })
  .superRefine((l7, ctx) => {
    const trusting = (['xForwardedFor', 'xForwardedProto', 'forwarded'] as const).filter((k) => {
      const v = l7[k];
      return typeof v === 'object' && v.mode === 'trusted';
    });
    if (trusting.length > 0 && l7.trustedProxies.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['trustedProxies'],
        message: `${trusting.join(', ')} trust${trusting.length === 1 ? 's' : ''} the headers of the proxies in front of this one, but none is named: list their networks here, or use mode "replace".`,
      });
    }
  });

export const Layer4Schema = z.strictObject({
  /** UDP: schedule each datagram on its own (IPVS one-packet scheduling). */
  onePacketScheduling: z.boolean().default(false),
  /**
   * sh and mh only (IPVS scheduler flag 1, ipvsadm `-b sh-fallback`): a client whose hashed real server is at
   * weight 0 or overloaded goes to the next server by the hash instead of getting no answer.
   */
  schedulerFallback: z.boolean().default(false),
  /** sh and mh only (scheduler flag 2, `-b sh-port`): hash the client's source port too, so one client's
   * connections spread over the servers instead of all going to one. */
  schedulerPort: z.boolean().default(false),
});

/** Schedulers that take the fallback and port flags. */
export const FLAGGED_SCHEDULERS = ['sh', 'mh'] as const;

/**
 * IPVS's own timeouts, for the whole kernel (ipvsadm --set tcp tcpfin udp): how long an idle connection entry
 * lives. Unset fields leave the kernel's value (900 s, 120 s, 300 s by default) as it is. At most 2,000,000 s
 * (23 days): the kernel keeps them in jiffies in an int, which overflows beyond 2,147,483 s at 1000 Hz.
 */
export const IpvsTimeoutsSchema = z.strictObject({
  tcpSeconds: seconds(1, 2_000_000, 'The IPVS TCP timeout').optional(),
  tcpFinSeconds: seconds(1, 2_000_000, 'The IPVS TCP FIN timeout').optional(),
  udpSeconds: seconds(1, 2_000_000, 'The IPVS UDP timeout').optional(),
});

/** Layer 4 settings of the whole appliance (not of one service). */
export const Layer4GlobalSchema = z.strictObject({
  timeouts: IpvsTimeoutsSchema.optional(),
});

export const FallbackSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('server'), address: IpAddressSchema, port: PortSchema.optional() }),
  z.strictObject({ type: z.literal('maintenance-page') }),
]);

// ───────────────────────────── virtual services ─────────────────────────────

const VirtualServiceBase = z.strictObject({
  name: NameSchema,
  description: z.string().max(500).optional(),
  isEnabled: z.boolean().default(true),
  layer: z.union([z.literal(4), z.literal(7)], { error: 'Choose layer 4 or layer 7.' }),
  mode: z.enum(MODES, { error: 'Choose a mode: dr, nat, snat or tun at layer 4; http or tcp at layer 7.' }),
  protocol: z.enum(['tcp', 'udp', 'both'], { error: 'Choose tcp, udp or both.' }).default('tcp'),
  /**
   * The VIP. '' (or left out) only for a layer 4 firewall-mark service: IPVS matches it by the mark alone, so an
   * address would be made up. Such a service takes its family from its real servers (serviceFamily), and cannot ask
   * the engine to mark packets (no ports), bring up a VIP (no interface) or source-NAT (no snat): those need the VIP.
   */
  address: z
    .string({ error: IP_ADDRESS_MESSAGE })
    .refine((a) => a === '' || IpAddressSchema.safeParse(a).success, IP_ADDRESS_MESSAGE)
    .default(''),
  ports: z.array(PortSpecSchema).max(64, 'Give at most 64 ports or ranges.').default([]),
  /** Layer 4: match packets marked by the firewall instead of address and port (multi-port services). */
  firewallMark: z.number().int().min(1).max(0xffffffff).optional(),
  /** Interface the VIP is brought up on (layer 4), e.g. "eth0". */
  interface: z
    .string()
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'Give an interface name such as eth0.')
    .optional(),
  scheduler: z.enum(SCHEDULERS, { error: `Choose a scheduler.` }).default('wlc'),
  persistence: PersistenceSchema.default({ type: 'none' }),
  healthCheck: HealthCheckSchema.default({ type: 'connect', intervalMs: 5000, timeoutMs: 3000, rise: 2, fall: 3, startsDown: false, onDown: 'quiesce' }),
  fallback: FallbackSchema.optional(),
  layer4: Layer4Schema.optional(),
  layer7: Layer7Schema.optional(),
  realServers: z.array(RealServerSchema).max(1024, 'A service takes at most 1024 real servers.').default([]),
});

type VirtualServiceShape = z.infer<typeof VirtualServiceBase>;

/**
 * A service's address family: its VIP's, or for a firewall-mark service without one, its first real server's (then
 * its fallback server's; IPv4 when it has neither). Every real server must be of this family at layer 4.
 */
export function serviceFamily(vs: { address: string; realServers: { address: string }[]; fallback?: { type: string; address?: string } }): 4 | 6 {
  if (vs.address !== '') return addressFamily(vs.address);
  const first = vs.realServers[0]?.address ?? (vs.fallback?.type === 'server' ? vs.fallback.address : undefined);
  return first ? addressFamily(first) : 4;
}

/** The rules of a service without an address (see VirtualServiceBase.address). */
function checkNoAddress(vs: VirtualServiceShape, issue: (p: (string | number)[], message: string) => void): void {
  if (vs.address !== '') return;
  if (vs.layer !== 4 || vs.firewallMark === undefined) {
    issue(['address'], `${IP_ADDRESS_MESSAGE.replace(/\.$/, '')}; only a layer 4 service with a firewall mark may leave the address out.`);
    return;
  }
  if (vs.ports.length > 0)
    issue(
      ['ports'],
      'Without an address the engine cannot mark packets for these ports: give the VIP address, or leave the ports out and mark the packets in your own firewall (the mark is then all the service matches).',
    );
  if (vs.interface) issue(['interface'], 'There is no address to bring up on this interface: give the VIP address, or leave the interface empty.');
  if (vs.mode === 'snat') issue(['mode'], 'SNAT rewrites connections made to the VIP, so it needs the VIP address: give it, or choose DR, NAT or TUN.');
}

/** Cross-field rules of one virtual service; `path` is the service's path inside whatever holds it. */
export function checkVirtualService(vs: VirtualServiceShape, ctx: z.RefinementCtx, path: (string | number)[] = []): void {
  const issue = (p: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path: [...path, ...p], message });
  const isL4 = vs.layer === 4;
  checkNoAddress(vs, issue);

  if (isL4 && !(LAYER4_MODES as readonly string[]).includes(vs.mode)) {
    issue(['mode'], `Layer 4 services use dr, nat, snat or tun; "${vs.mode}" is a layer 7 mode.`);
  }
  if (!isL4 && !(LAYER7_MODES as readonly string[]).includes(vs.mode)) {
    issue(['mode'], `Layer 7 services use http or tcp; "${vs.mode}" is a layer 4 mode.`);
  }
  const schedulers: readonly string[] = isL4 ? LAYER4_SCHEDULERS : LAYER7_SCHEDULERS;
  if (!schedulers.includes(vs.scheduler)) {
    issue(['scheduler'], `Scheduler "${vs.scheduler}" is not available at layer ${vs.layer}; choose one of ${schedulers.join(', ')}.`);
  }
  if (!isL4 && vs.protocol !== 'tcp') {
    issue(['protocol'], 'Layer 7 services carry TCP only; use a layer 4 service for UDP.');
  }
  if (vs.firewallMark !== undefined && !isL4) {
    issue(['firewallMark'], 'Firewall marks select traffic for layer 4 services only.');
  }
  if (vs.firewallMark === undefined && vs.ports.length === 0) {
    issue(['ports'], 'Give at least one port (or a firewall mark at layer 4).');
  }
  if (!isL4 && vs.ports.some((p) => typeof p === 'string')) {
    issue(['ports'], 'Layer 7 services listen on single ports; list them one by one.');
  }
  if (isL4 && vs.layer7) issue(['layer7'], 'Layer 7 options apply to layer 7 services only.');
  if (!isL4 && vs.layer4) issue(['layer4'], 'Layer 4 options apply to layer 4 services only.');
  if (vs.layer4?.onePacketScheduling && vs.protocol === 'tcp') {
    issue(['layer4', 'onePacketScheduling'], 'One-packet scheduling applies to UDP services only.');
  }
  for (const [key, what] of [
    ['schedulerFallback', 'Scheduler fallback'],
    ['schedulerPort', 'Hashing the source port'],
  ] as const) {
    if (vs.layer4?.[key] && !(FLAGGED_SCHEDULERS as readonly string[]).includes(vs.scheduler)) {
      issue(['layer4', key], `${what} is a flag of the sh and mh schedulers only; choose sh or mh, or turn it off (the scheduler is ${vs.scheduler}).`);
    }
  }

  const p = vs.persistence;
  if ((p.type === 'http-cookie' || p.type === 'app-cookie') && !(vs.layer === 7 && vs.mode === 'http')) {
    issue(['persistence', 'type'], 'Cookie persistence needs a layer 7 http service; use source-ip persistence at layer 4.');
  }
  if (p.type === 'rdp-cookie' && !(vs.layer === 7 && vs.mode === 'tcp')) {
    issue(['persistence', 'type'], 'RDP cookie persistence needs a layer 7 tcp service.');
  }
  if (p.type === 'source-ip' && p.netmaskPrefix !== undefined) {
    const max = serviceFamily(vs) === 6 ? 128 : 32;
    if (p.netmaskPrefix > max) issue(['persistence', 'netmaskPrefix'], `For this address family the prefix runs from 0 to ${max}.`);
  }

  const l7 = vs.layer7;
  if (l7) {
    if (vs.mode === 'tcp') {
      const httpOnly: [keyof typeof l7, string][] = [
        ['httpsRedirect', 'HTTPS redirects'],
        ['hsts', 'HSTS'],
      ];
      for (const [key, what] of httpOnly) if (l7[key]) issue(['layer7', key], `${what} need an http service.`);
      const httpLists: [keyof typeof l7, string][] = [
        ['redirects', 'Redirects'],
        ['requestHeaders', 'Header rules'],
        ['responseHeaders', 'Header rules'],
        ['urlRewrites', 'URL rewrites'],
        ['routes', 'Content switching'],
      ];
      for (const [key, what] of httpLists) {
        if ((l7[key] as unknown[]).length > 0) issue(['layer7', key], `${what} need an http service.`);
      }
      if (l7.tls?.alpn?.includes('h2'))
        issue(['layer7', 'tls', 'alpn'], 'HTTP/2 (h2) needs an http service: a tcp service passes the bytes on, and its real server may not speak h2.');
      if (l7.http2.cleartext) issue(['layer7', 'http2', 'cleartext'], 'h2c needs an http service.');
    }
    if ((l7.hsts || l7.httpsRedirect) && !l7.tls && l7.hsts) {
      issue(['layer7', 'hsts'], 'HSTS is sent over HTTPS only; add a TLS certificate to this service.');
    }
    const groups = new Set(vs.realServers.map((rs) => rs.group).filter(Boolean));
    l7.routes.forEach((r, i) => {
      if (!groups.has(r.group)) issue(['layer7', 'routes', i, 'group'], `No real server is in group "${r.group}".`);
    });
  }

  const vipFamily = serviceFamily(vs);
  const vipWords = vs.address !== '' ? 'the VIP' : `the first real server (${vs.realServers[0]?.address})`;
  const names = new Map<string, number>();
  const endpoints = new Map<string, number>();
  vs.realServers.forEach((rs, i) => {
    const at = ['realServers', i];
    if (names.has(rs.name)) issue([...at, 'name'], `Real server name "${rs.name}" is used twice in this service.`);
    names.set(rs.name, i);
    const key = `${canonicalAddress(rs.address)}|${rs.port ?? ''}`;
    if (endpoints.has(key)) issue([...at, 'address'], `${endpointText(rs.address, rs.port)} is listed twice in this service.`);
    endpoints.set(key, i);

    if (isL4 && addressFamily(rs.address) !== vipFamily) {
      issue(
        [...at, 'address'],
        `Real server ${rs.address} is IPv${addressFamily(rs.address)} but ${vipWords} is IPv${vipFamily}; at layer 4 both must be the same family.`,
      );
    }
    if ((vs.mode === 'dr' || vs.mode === 'tun') && rs.port !== undefined) {
      const vipPorts = expandPorts(vs.ports);
      const differs = vs.firewallMark !== undefined || vipPorts.length !== 1 || vipPorts[0] !== rs.port;
      if (differs) {
        const vip =
          vs.firewallMark !== undefined
            ? `firewall mark ${vs.firewallMark}`
            : `${endpointText(vs.address, undefined)} ${vs.ports.length === 1 && typeof vs.ports[0] === 'number' ? 'port' : 'ports'} ${vs.ports.map(portSpecText).join(', ')}`;
        issue(
          [...at, 'port'],
          `Real server ${endpointText(rs.address, rs.port)} cannot be used in ${vs.mode.toUpperCase()} mode behind ${vip}: ${vs.mode.toUpperCase()} cannot translate ports. Leave the port empty (the client's port is kept) or choose NAT, SNAT or layer 7.`,
        );
      }
    }
    if (rs.group !== undefined && isL4) issue([...at, 'group'], 'Server groups are used by layer 7 content switching only.');
  });

  if (vs.fallback?.type === 'server' && isL4 && addressFamily(vs.fallback.address) !== vipFamily) {
    issue(['fallback', 'address'], `At layer 4 the fallback server must be the same address family as ${vs.address !== '' ? 'the VIP' : 'the real servers'}.`);
  }
  if (vs.fallback?.type === 'maintenance-page' && !(vs.layer === 7 && vs.mode === 'http')) {
    issue(['fallback', 'type'], 'The maintenance page is served by layer 7 http services only; give a fallback server instead.');
  }
}

export const VirtualServiceSchema = VirtualServiceBase.superRefine((vs, ctx) => checkVirtualService(vs, ctx));

// ───────────────────────────── floating IPs and certificates ─────────────────────────────

export const FloatingIpSchema = z.strictObject({
  address: IpAddressSchema,
  prefixLength: z.number().int().min(0).max(128).optional(),
  interface: z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'Give an interface name such as eth0.'),
});

const PemSchema = (kind: string) =>
  z
    .string()
    .max(256 * 1024)
    .regex(new RegExp(`-----BEGIN [A-Z ]*${kind}[A-Z ]*-----`), `Paste a PEM ${kind.toLowerCase()} ("-----BEGIN …").`);

export const CertificateSchema = z.strictObject({
  name: NameSchema,
  /** Leaf first, then intermediates. */
  certificatePem: PemSchema('CERTIFICATE'),
  privateKeyPem: PemSchema('PRIVATE KEY'),
});

// ───────────────────────────── high availability ─────────────────────────────

/**
 * A pair of appliances on keepalived's VRRP (engine/ha/). The block is the same on every node, because the console
 * pushes one ConfigVersion with one hash to both: so it names every node, and each engine finds itself among them
 * (FULCRUM_HA_NODE, else the node whose address is on this machine's HA interface).
 *
 * No authentication field: VRRPv3 (RFC 5798) has none (RFC 3768 already dropped it from VRRPv2, and keepalived
 * ignores `authentication` under vrrp_version 3). What stands in for it: adverts go unicast to the named peers
 * only, keepalived drops adverts from any other source (check_unicast_src), and the HA link belongs on a network
 * no one else reaches.
 */
export const HaNodeSchema = z.strictObject({
  name: NameSchema,
  /** Its own address on the HA interface: the source of its adverts, and where its peers send theirs. */
  address: IpAddressSchema,
  /** The highest priority wins the election; 255 is reserved by VRRP for an address owner, which no node is. */
  priority: z
    .number({ error: 'Give a priority from 1 to 254.' })
    .int('Give a whole priority.')
    .min(1, 'Priorities run from 1 to 254.')
    .max(254, 'Priorities run from 1 to 254.'),
});

export const HaSchema = z.strictObject({
  isEnabled: z.boolean().default(true),
  /** The HA link: VRRP adverts and the IPVS connection sync run over it. */
  interface: z.string().regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'Give an interface name such as eth0.'),
  /** The first VRRP router ID; each further interface with moving addresses takes the next one. */
  virtualRouterId: z
    .number({ error: 'Give a virtual router ID from 1 to 255.' })
    .int('Give a whole virtual router ID.')
    .min(1, 'Virtual router IDs run from 1 to 255.')
    .max(255, 'Virtual router IDs run from 1 to 255.'),
  /**
   * VRRPv3 counts the interval in centiseconds (10 ms to 40.95 s). 500 by default: a silent master is replaced
   * after 3 intervals plus a skew (1.8 s at priority 100), inside the 2 s an emergency department can tolerate;
   * 1000 would take 3.6 s. The cost is two small packets a second per interface, and a node must not stall for
   * 1.5 s (keepalived runs at real-time priority for that reason).
   */
  advertIntervalMs: millis(10, 40_950, 'The advert interval')
    .refine((ms) => ms % 10 === 0, 'VRRPv3 counts the advert interval in hundredths of a second: give a multiple of 10 ms.')
    .default(500),
  nodes: z.array(HaNodeSchema).min(2, 'Name both nodes of the pair (at least two).').max(8, 'Give at most 8 nodes.'),
  /**
   * Off by default (nopreempt): a node that comes back does not take the traffic back, because every move costs a
   * moment of loss and the layer 7 connections; the pair moves again only when it must, or when an operator hands
   * over. On: the highest priority takes over again, after preemptDelaySeconds if given.
   */
  preempt: z.boolean().default(false),
  preemptDelaySeconds: seconds(1, 1000, 'The preemption delay').optional(),
  /** The addresses that move with the active node; unset: every floating IP and every VIP of a service with an interface. */
  movingAddresses: z.array(IpAddressSchema).max(1000).optional(),
  /** The IPVS connection sync daemon (master on the active node, backup on the standby), so layer 4 connections survive a failover. */
  connectionSync: z
    .strictObject({
      isEnabled: z.boolean().default(true),
      /** Default: the first virtual router ID. */
      syncId: z.number().int().min(0, 'Sync IDs run from 0 to 255.').max(255, 'Sync IDs run from 0 to 255.').optional(),
    })
    .prefault({}),
});

/** An address that can move with the HA group, with where it lives. */
export interface HaAddress {
  address: string;
  prefix: number;
  interface: string;
  source: 'floating-ip' | 'vip';
}

type HaConfigShape = { virtualServices: VirtualServiceShape[]; floatingIps: z.infer<typeof FloatingIpSchema>[]; ha?: z.infer<typeof HaSchema> };

/** Every floating IP and every VIP of an enabled service with an interface, once each (by address and interface). */
export function haCandidateAddresses(cfg: HaConfigShape): HaAddress[] {
  const out = new Map<string, HaAddress>();
  const add = (a: HaAddress) => out.has(`${canonicalAddress(a.address)}|${a.interface}`) || out.set(`${canonicalAddress(a.address)}|${a.interface}`, a);
  const host = (address: string) => (addressFamily(address) === 6 ? 128 : 32);
  for (const f of cfg.floatingIps) add({ address: f.address, prefix: f.prefixLength ?? host(f.address), interface: f.interface, source: 'floating-ip' });
  for (const vs of cfg.virtualServices)
    if (vs.isEnabled && vs.interface && vs.address !== '') add({ address: vs.address, prefix: host(vs.address), interface: vs.interface, source: 'vip' });
  return [...out.values()];
}

/** The addresses that move with the HA group (none when HA is off). */
export function haMovingAddresses(cfg: HaConfigShape): HaAddress[] {
  if (!cfg.ha?.isEnabled) return [];
  const all = haCandidateAddresses(cfg);
  if (!cfg.ha.movingAddresses) return all;
  const wanted = new Set(cfg.ha.movingAddresses.map(canonicalAddress));
  return all.filter((a) => wanted.has(canonicalAddress(a.address)));
}

/**
 * Moving addresses by interface, one VRRP instance each: the HA interface first (always, even with nothing on it,
 * so the pair still elects), then the others by name, so adding an interface never renumbers the HA interface's
 * router ID. Addresses sorted within a group, so reordering services never changes the rendered file.
 */
export function haInterfaceGroups(cfg: HaConfigShape): { interface: string; addresses: HaAddress[] }[] {
  if (!cfg.ha?.isEnabled) return [];
  const byIf = new Map<string, HaAddress[]>([[cfg.ha.interface, []]]);
  for (const a of haMovingAddresses(cfg)) byIf.set(a.interface, [...(byIf.get(a.interface) ?? []), a]);
  const order = [...byIf.keys()].sort((a, b) => (a === cfg.ha!.interface ? -1 : b === cfg.ha!.interface ? 1 : a.localeCompare(b)));
  const key = (a: HaAddress) => `${addressFamily(a.address)}|${canonicalAddress(a.address).padStart(39, '0')}`;
  return order.map((i) => ({ interface: i, addresses: [...byIf.get(i)!].sort((x, y) => key(x).localeCompare(key(y))) }));
}

/** Rules of the HA block that look at the nodes and at the rest of the configuration. */
export function checkHa(cfg: HaConfigShape, ctx: z.RefinementCtx): void {
  const ha = cfg.ha;
  if (!ha) return;
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path: ['ha', ...path], message });
  const family = addressFamily(ha.nodes[0].address);
  const vipsAndFloating = haCandidateAddresses(cfg);
  ha.nodes.forEach((n, i) => {
    const at = ['nodes', i];
    ha.nodes.slice(0, i).forEach((m) => {
      if (m.name === n.name) issue([...at, 'name'], `Node name "${n.name}" is used twice.`);
      if (sameAddress(m.address, n.address))
        issue([...at, 'address'], `${n.address} is already the address of node "${m.name}"; each node needs its own address.`);
      if (m.priority === n.priority)
        issue([...at, 'priority'], `Node "${m.name}" already has priority ${n.priority}; give each node its own, or the election falls to the higher address.`);
    });
    if (addressFamily(n.address) !== family)
      issue(
        [...at, 'address'],
        `${n.address} is IPv${addressFamily(n.address)} but node "${ha.nodes[0].name}" is IPv${family}; VRRP peers talk in one family.`,
      );
    const moving = vipsAndFloating.find((a) => sameAddress(a.address, n.address));
    if (moving)
      issue([...at, 'address'], `${n.address} is also a ${moving.source === 'vip' ? 'VIP' : 'floating IP'}; a node's own address must stay with the node.`);
  });
  if (ha.preemptDelaySeconds !== undefined && !ha.preempt)
    issue(['preemptDelaySeconds'], 'A preemption delay needs preemption on; turn preempt on or leave the delay empty.');
  ha.movingAddresses?.forEach((address, i) => {
    if (!vipsAndFloating.some((a) => sameAddress(a.address, address)))
      issue(['movingAddresses', i], `${address} is neither a floating IP nor the VIP of an enabled service with an interface, so there is nothing to move.`);
    if (ha.movingAddresses!.slice(0, i).some((b) => sameAddress(b, address))) issue(['movingAddresses', i], `${address} is listed twice.`);
  });
  const groups = haInterfaceGroups(cfg);
  const last = ha.virtualRouterId + groups.length - 1;
  if (last > 255) {
    issue(
      ['virtualRouterId'],
      `${groups.length} interfaces carry moving addresses (${groups.map((g) => g.interface).join(', ')}), one virtual router each, so the IDs would run from ${ha.virtualRouterId} to ${last}; choose a first ID of at most ${256 - groups.length}.`,
    );
  }
}

// ───────────────────────────── the whole configuration ─────────────────────────────

export const CONFIG_SCHEMA_VERSION = 1;

export const MAX_VIRTUAL_SERVICES = 10_000;

/** The whole configuration's fields, before the rules that look at several of them (memo-parse.ts parses with it). */
export const ConfigFields = z.strictObject({
  schemaVersion: z.literal(CONFIG_SCHEMA_VERSION).default(CONFIG_SCHEMA_VERSION),
  virtualServices: z.array(VirtualServiceBase).max(MAX_VIRTUAL_SERVICES).default([]),
  floatingIps: z.array(FloatingIpSchema).max(1000).default([]),
  certificates: z.array(CertificateSchema).max(1000).default([]),
  /** High availability (engine/ha/); unset: a single node. */
  ha: HaSchema.optional(),
  /** Layer 4 settings of the whole appliance: IPVS's connection timeouts. */
  layer4: Layer4GlobalSchema.optional(),
});

/** The rules across services and of the HA block, on fields already parsed (ConfigSchema's, after each service's). */
export function checkWholeConfig(cfg: z.infer<typeof ConfigFields>, ctx: z.RefinementCtx): void {
  checkAcrossServices(cfg, ctx);
  checkHa(cfg, ctx);
}

export const ConfigSchema = ConfigFields.superRefine((cfg, ctx) => {
  cfg.virtualServices.forEach((vs, i) => {
    checkVirtualService(vs, ctx, ['virtualServices', i]);
  });
  checkWholeConfig(cfg, ctx);
});

/**
 * Rules that look at several services at once. across.ts finds the same verdict incrementally for the engine's and the
 * console's repeated parses (memo-parse.ts): a rule added here must be added there too, and drawn by across.test.ts's
 * random sequences, which compare every verdict with this function's.
 */
function checkAcrossServices(cfg: { virtualServices: VirtualServiceShape[]; certificates: { name: string }[] }, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const seenNames = new Map<string, number>();
  /** Enabled services so far by address (without a firewall mark) or by mark, and by port: the only ones that can collide. */
  const endpoints = new Map<string, { all: number[]; ranged: number[]; byPort: Map<number, number[]> }>();
  const certNames = new Set(cfg.certificates.map((c) => c.name));
  const certSeen = new Set<string>();
  cfg.certificates.forEach((c, i) => {
    if (certSeen.has(c.name)) issue(['certificates', i, 'name'], `Certificate name "${c.name}" is used twice.`);
    certSeen.add(c.name);
  });

  cfg.virtualServices.forEach((vs, i) => {
    const at = ['virtualServices', i];
    if (seenNames.has(vs.name)) issue([...at, 'name'], `Virtual service name "${vs.name}" is already used.`);
    seenNames.set(vs.name, i);

    const tls = vs.layer7?.tls;
    if (tls) {
      if (!certNames.has(tls.certificate)) issue([...at, 'layer7', 'tls', 'certificate'], `No certificate is named "${tls.certificate}"; upload it first.`);
      tls.sniCertificates.forEach((n, j) => {
        if (!certNames.has(n)) issue([...at, 'layer7', 'tls', 'sniCertificates', j], `No certificate is named "${n}"; upload it first.`);
      });
    }

    // No two services answer on the same VIP, port and protocol (or the same firewall mark). Each is compared with
    // the earlier services of its address (or mark) that can share a port only: a table of 1,000 services on one VIP
    // is checked on every edit.
    if (!vs.isEnabled) return;
    const key = vs.firewallMark !== undefined ? `mark ${vs.firewallMark}` : `address ${canonicalAddress(vs.address)}`;
    const group = endpoints.get(key) ?? { all: [], ranged: [], byPort: new Map<number, number[]>() };
    endpoints.set(key, group);
    const isSingle = vs.ports.every((p) => typeof p === 'number');
    const candidates =
      vs.firewallMark !== undefined || !isSingle
        ? group.all
        : [...new Set([...group.ranged, ...vs.ports.flatMap((p) => group.byPort.get(p as number) ?? [])])].sort((a, b) => a - b);
    for (const j of candidates) {
      const other = cfg.virtualServices[j];
      if (vs.firewallMark !== undefined) issue([...at, 'firewallMark'], `Firewall mark ${vs.firewallMark} is already used by "${other.name}".`);
      else if (protocolsOverlap(vs.protocol, other.protocol) && portSpecsOverlap(vs.ports, other.ports)) {
        issue(
          [...at, 'ports'],
          `"${other.name}" already listens on ${vs.address} with ${protocolText(vs.protocol, other.protocol)} on an overlapping port; use another port or address.`,
        );
      }
    }
    group.all.push(i);
    if (!isSingle) group.ranged.push(i);
    else
      for (const p of new Set(vs.ports as number[])) {
        const list = group.byPort.get(p);
        if (list) list.push(i);
        else group.byPort.set(p, [i]);
      }
  });

  // The same RIP:PORT must not serve both an L4 SNAT and an L7 service: their firewall rules conflict.
  const l4Snat = new Map<string, string>();
  cfg.virtualServices.forEach((vs) => {
    if (vs.layer !== 4 || vs.mode !== 'snat') return;
    const vipPorts = expandPorts(vs.ports);
    for (const rs of vs.realServers)
      for (const port of rs.port !== undefined ? [rs.port] : vipPorts) l4Snat.set(`${canonicalAddress(rs.address)}|${port}`, vs.name);
  });
  cfg.virtualServices.forEach((vs, i) => {
    if (vs.layer !== 7) return;
    const vipPorts = expandPorts(vs.ports);
    vs.realServers.forEach((rs, k) => {
      for (const port of rs.port !== undefined ? [rs.port] : vipPorts) {
        const owner = l4Snat.get(`${canonicalAddress(rs.address)}|${port}`);
        if (owner) {
          issue(
            ['virtualServices', i, 'realServers', k, 'address'],
            `${endpointText(rs.address, port)} already serves the layer 4 SNAT service "${owner}"; the firewall rules of layer 4 SNAT and layer 7 conflict. Use another port on the real server or another mode.`,
          );
          break;
        }
      }
    });
  });
}

export function endpointText(address: string, port: number | undefined): string {
  const a = addressFamily(address) === 6 ? `[${address}]` : address;
  return port === undefined ? a : `${a}:${port}`;
}

function protocolText(a: string, b: string): string {
  if (a === 'both') return b === 'both' ? 'TCP and UDP' : b.toUpperCase();
  return a.toUpperCase();
}

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type VirtualService = z.infer<typeof VirtualServiceSchema>;
export type VirtualServiceInput = z.input<typeof VirtualServiceSchema>;
export type RealServer = z.infer<typeof RealServerSchema>;
export type RealServerInput = z.input<typeof RealServerSchema>;
export type Persistence = z.infer<typeof PersistenceSchema>;
export type HealthCheck = z.infer<typeof HealthCheckSchema>;
export type HealthCheckInput = z.input<typeof HealthCheckSchema>;
export type HealthCheckType = (typeof HEALTH_CHECK_TYPES)[number];
export type RealServerCheck = z.infer<typeof RealServerCheckSchema>;
export type Layer7Options = z.infer<typeof Layer7Schema>;
export type FloatingIp = z.infer<typeof FloatingIpSchema>;
export type Certificate = z.infer<typeof CertificateSchema>;
export type Ha = z.infer<typeof HaSchema>;
export type IpvsTimeouts = z.infer<typeof IpvsTimeoutsSchema>;
export type HaNode = z.infer<typeof HaNodeSchema>;
export type OperatorState = (typeof OPERATOR_STATES)[number];
export type HealthState = (typeof HEALTH_STATES)[number];
export type Layer4Mode = (typeof LAYER4_MODES)[number];
export type Layer7Mode = (typeof LAYER7_MODES)[number];
