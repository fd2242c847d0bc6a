/**
 * Every failure the engine can report has a code, an HTTP status (for the daemon's API and the console that relays
 * it) and a sentence a person can act on. Add a row here rather than throwing a bare Error. The console's own codes
 * (AUTH_, API_ …) extend this table in lib/errors.ts.
 */

export interface ErrorDef {
  status: number;
  /** The message template; `{name}` placeholders are filled from `params`. */
  message: string;
}

export const ENGINE_ERRORS = {
  CFG_INVALID: { status: 422, message: 'The configuration is not valid: {summary}' },
  CFG_VERSION_CONFLICT: { status: 409, message: 'Version {version} is not the one the engine is running ({running}); reload and try again.' },
  ENGINE_UNREACHABLE: { status: 503, message: 'The engine is not answering on {socket}: {reason}. Check that it is running (npm run engine).' },
  ENGINE_APPLY_FAILED: { status: 502, message: 'The engine could not apply version {version}; version {previous} is still running. {reason}' },
  ENGINE_APPLY_EXPIRED: {
    status: 409,
    message: 'Version {version} reached the engine after its deadline and was not applied; version {running} is still running.',
  },
  ENGINE_STATE_EXPIRED: {
    status: 409,
    message: 'Setting {server} to {state} reached the engine after its deadline and was not done; the console sends it again.',
  },
  ENGINE_RECORD_FAILED: {
    status: 507,
    message: 'The engine could not record the change of version {version} ({reason}), so it did not make it; free space in the data directory and try again.',
  },
  ENGINE_NOT_FOUND: { status: 404, message: '{what} is not in the running configuration.' },
  ENGINE_BAD_REQUEST: { status: 400, message: '{reason}' },
  ENGINE_INTERNAL: { status: 500, message: 'The engine hit an unexpected error; details are in its log.' },
  IPVS_UNAVAILABLE: { status: 503, message: 'IPVS is not available in this kernel ({reason}); layer 4 services are accepted but not programmed.' },
  IPVS_PERMISSION: { status: 503, message: 'Permission denied: the engine needs CAP_NET_ADMIN (run it as root) to program IPVS.' },
  IPVS_SCHEDULER_MISSING: {
    status: 422,
    message: 'Scheduler {scheduler} is not available in this kernel (module ip_vs_{scheduler} missing); choose another scheduler.',
  },
  IPVS_EXISTS: { status: 409, message: '{what} already exists in the kernel and is not owned by Fulcrum; remove it or choose {instead}.' },
  IPVS_KERNEL: { status: 502, message: 'The kernel refused {operation}: {errno}.' },
  IPVS_HELPER_ENDED: { status: 503, message: "The engine's IPVS helper process ended ({reason}) before it answered; the next call starts it again." },
  IPVS_PORT_RANGE: {
    status: 422,
    message:
      'Virtual service {service} needs {count} IPVS services (one per port and protocol); above {max}, give it a firewall mark so one IPVS service covers every port.',
  },
  IPVS_NOT_CONFIRMED: {
    status: 502,
    message: 'After applying, the kernel still differs for {service}: {difference}. Another program may be changing IPVS; the next apply retries.',
  },
  NFT_FAILED: { status: 502, message: 'nftables refused the SNAT rules for {service}: {reason}.' },
  PROXY_LISTEN_FAILED: { status: 502, message: 'Cannot listen on {endpoint}: {reason}.' },
  PROXY_CERT_INVALID: { status: 422, message: 'Certificate "{name}" cannot be used: {reason}.' },
  PROXY_CONFIG_INVALID: { status: 422, message: 'Layer 7 service "{name}" cannot be built: {reason}.' },
  PROXY_WORKER_FAILED: { status: 502, message: 'The layer 7 proxy workers did not take the configuration: {reason}.' },
  PROXY_PFX_INVALID: { status: 422, message: 'The PFX/PKCS#12 file cannot be imported: {reason}. Check the password.' },
  HA_NODE_UNKNOWN: { status: 422, message: 'This engine cannot tell which HA node it is: {reason}. Set FULCRUM_HA_NODE to its name (one of {nodes}).' },
  HA_KEEPALIVED_MISSING: {
    status: 503,
    message: 'keepalived cannot be run ({path}: {reason}); install the Debian package keepalived (scripts/install-system-deps.sh).',
  },
  HA_KEEPALIVED_EXITED: { status: 502, message: 'keepalived exited ({reason}); the engine starts it again in {delay} s.' },
  HA_PATH_UNSAFE: {
    status: 422,
    message:
      'keepalived cannot take the path {path}: its script lines are split on spaces and quotes. Use a data directory and engine socket whose paths have neither.',
  },
  HA_FIFO_FAILED: { status: 502, message: "The engine cannot open keepalived's notify FIFO {path}: {reason}." },
  HA_SYNC_FAILED: { status: 502, message: 'The IPVS connection sync daemon could not be made {state}: {reason}.' },
  HA_SYNC_CONFLICT: {
    status: 409,
    message:
      'A {state} IPVS sync daemon that Fulcrum did not start is running ({found}); stop it (ipvsadm --stop-daemon {state}) so the engine can run its own.',
  },
  HA_STICK_SYNC_FAILED: { status: 502, message: 'Layer 7 stick tables are not sent to the peer: the engine cannot listen on {endpoint} for them ({reason}).' },
  HA_UNHEALTHY: { status: 503, message: "This node's data planes are not healthy, so it must not be the active node: {problems}." },
} as const satisfies Record<string, ErrorDef>;

export type EngineErrorCode = keyof typeof ENGINE_ERRORS;

export function fillMessage(template: string, params: Record<string, unknown> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => (params[k] === undefined ? `{${k}}` : String(params[k])));
}

/**
 * A `{name}` left without its parameter is a bug at the throw site. Under test (node --test, or NODE_ENV=test) it
 * fails the test instead of showing "{name}" to a person: `report` throws, on the next turn, unless the message was
 * replaced meanwhile (an error relayed from a peer or the engine is built with its code, then given the sentence
 * already filled there). Tests may swap `report` to watch it.
 */
export const unfilledParams = {
  report(text: string): void {
    throw new Error(text);
  },
};

export function checkFilled(err: Error, code: string, template: string, params: Record<string, unknown>): void {
  if (process.env.NODE_ENV !== 'test' && process.env.NODE_TEST_CONTEXT === undefined) return;
  const missing = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).filter((k) => params[k] === undefined);
  if (missing.length === 0) return;
  const built = err.message;
  setImmediate(() => {
    if (err.message !== built) return;
    unfilledParams.report(`${code} was built without its message parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: "${built}"`);
  });
}

/** zod issues as `{ path: "realServers.1.port", message }`: an unknown key is named with its full path. */
export function fieldIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string; code?: string; keys?: readonly string[] }[],
): { path: string; message: string }[] {
  return issues.map((i) => {
    const base = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys' && i.keys) {
      const where = base ? `${base}.` : '';
      const many = i.keys.length > 1;
      const named = i.keys.map((k) => `"${where}${k}"`).join(', ');
      return { path: `${where}${i.keys[0]}`, message: `Unknown field${many ? 's' : ''} ${named}; remove ${many ? 'them' : 'it'} (check the spelling).` };
    }
    return { path: base, message: i.message };
  });
}

/** An error with a code from the table. `details` is safe to show to a person (never secrets, never a stack). */
export class EngineError extends Error {
  readonly code: EngineErrorCode;
  readonly status: number;
  readonly details?: unknown;
  /** `options.cause`: the error this one reports (kept for the log; never sent to a person). */
  constructor(code: EngineErrorCode, params: Record<string, unknown> = {}, details?: unknown, options?: ErrorOptions) {
    super(fillMessage(ENGINE_ERRORS[code].message, params), options);
    checkFilled(this, code, ENGINE_ERRORS[code].message, params);
    this.name = 'EngineError';
    this.code = code;
    this.status = ENGINE_ERRORS[code].status;
    this.details = details;
  }
}
