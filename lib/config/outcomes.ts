/**
 * Apply outcomes in words a person can act on. The engine reports each service with a status, an error code
 * (engine/errors.ts) and its own message, which may name a kernel errno ("EADDRNOTAVAIL"); the console shows what
 * to do instead: one sentence per code here (OUTCOME_SENTENCES, a row for every engine code — outcomes.test.ts
 * fails when one is missing), refined by the errno when the code's meaning depends on it (ERRNO_SENTENCES). The
 * engine's message stays beside it as the detail.
 *
 * Whether one service's failure blocks the others is a choice, and it is this (APPLY_POLICY): all or nothing.
 */
import { ENGINE_ERRORS, type EngineErrorCode } from '../../engine/errors.ts';

export const APPLY_POLICY =
  'All or nothing: if any service fails, the engine puts the running version back for every service, so nothing of ' +
  'the new version runs until every service can. A layer 4 service this machine cannot program (no IPVS in its ' +
  'kernel) is reported as not programmed and does not block the others.';

/** What an outcome sentence is made from: the result's message and what can be read out of it. */
export interface OutcomeFacts {
  service?: string;
  message: string;
  /** The errno the message names, if any. */
  errno?: string;
  /** The endpoint ("192.168.10.51:443") or address the message names, if any. */
  endpoint?: string;
  address?: string;
}

type Sentence = (f: OutcomeFacts) => string;

const there = (f: OutcomeFacts) => f.address ?? 'this address';

/** Kernel and socket errnos, by what they mean for the operation that got them. */
export const ERRNO_SENTENCES: Record<string, Sentence> = {
  EADDRNOTAVAIL: (f) => `${there(f)} is not an address of this appliance: add it as a floating IP or choose another.`,
  EADDRINUSE: (f) => `Another program already listens on ${f.endpoint ?? there(f)}: stop it, or choose another port or address.`,
  EACCES: () => 'Ports below 1024 need the engine to run as root (or with CAP_NET_BIND_SERVICE): start it so, or choose a port above 1023.',
  EPERM: () => 'The engine lacks the privilege for this (it needs root, or CAP_NET_ADMIN): start it so.',
  ENODEV: () => 'The interface named for this service does not exist on this appliance: choose one it has (ip link shows them).',
  EINVAL: () => 'The kernel refused a value of this service as not valid: check its address, ports, scheduler and persistence.',
  ENOMEM: () => 'The kernel ran out of memory for this change: free memory on the appliance and apply again.',
  ENOSPC: () => 'The disk is full: free space in the data directory and apply again.',
  ENOENT: () => 'Something the service needs is missing in this kernel (a scheduler or persistence module): choose another.',
  EEXIST: () => 'The kernel already has this, made by another program: remove it there, or choose another address or port.',
};

export const OUTCOME_SENTENCES: Record<EngineErrorCode, Sentence> = {
  CFG_INVALID: (f) => `${f.message} Correct that field and apply again.`,
  CFG_VERSION_CONFLICT: () => 'Another apply got there first: reload, review the changes again and apply.',
  ENGINE_UNREACHABLE: () => 'The engine is not answering, so nothing was changed: check on the Overview that it runs, then apply again.',
  ENGINE_APPLY_FAILED: () => 'Nothing of this version runs: the engine put the previous version back. Fix the services marked failed and apply again.',
  ENGINE_APPLY_EXPIRED: () => 'The engine was too busy to start this version in time, so it did not apply it: apply again.',
  ENGINE_STATE_EXPIRED: () => 'The engine took the state too late to act on it; the console sends it again when the engine answers.',
  ENGINE_RECORD_FAILED: () => 'The engine could not record the version, so it did not run it: free space in the data directory and apply again.',
  ENGINE_NOT_FOUND: () => 'This is not in the running configuration yet: apply the staged changes first.',
  ENGINE_BAD_REQUEST: () => 'The engine could not read the request: report it with the request id from the audit log.',
  ENGINE_INTERNAL: () => 'The engine hit an unexpected error: its log says what; apply again once it is fixed.',
  IPVS_UNAVAILABLE: () =>
    'Stored but not running here: this machine\u2019s kernel has no IPVS. Layer 4 services run on an appliance whose kernel has it; nothing to do on this one.',
  IPVS_PERMISSION: () => 'Start the engine as root (or with CAP_NET_ADMIN) so it can program IPVS.',
  IPVS_SCHEDULER_MISSING: () => 'This kernel lacks the scheduler\u2019s module: choose another scheduler (wlc is always there).',
  IPVS_EXISTS: (f) =>
    /firewall-mark service/.test(f.message)
      ? 'Another program made an IPVS service for this firewall mark: remove it there (ipvsadm -D -f MARK), or choose another mark.'
      : 'Another program made this IPVS service: remove it there (ipvsadm -D), or choose another address or port.',
  IPVS_KERNEL: (f) =>
    f.errno && ERRNO_SENTENCES[f.errno]
      ? ERRNO_SENTENCES[f.errno](f)
      : 'The kernel refused the change: check the service\u2019s address, interface and ports, then apply again.',
  IPVS_HELPER_ENDED: () => 'Apply again: the engine starts its IPVS helper process anew, and its log says why the last one ended.',
  IPVS_PORT_RANGE: () => 'Give this service a firewall mark, so one IPVS service covers all its ports.',
  IPVS_NOT_CONFIRMED: () => 'Something else is changing IPVS on this machine (another ipvsadm or keepalived?): stop it; the next apply checks again.',
  NFT_FAILED: () => 'nftables refused the source-NAT rules: check that nftables is installed and the kernel has nf_tables, then apply again.',
  PROXY_LISTEN_FAILED: (f) =>
    f.errno && ERRNO_SENTENCES[f.errno]
      ? ERRNO_SENTENCES[f.errno](f)
      : `The proxy cannot listen on ${f.endpoint ?? 'this address'}: check that the address is this appliance\u2019s and the port is free.`,
  PROXY_CERT_INVALID: () => 'Upload a certificate and private key that belong together (PEM) on the Certificates page, then apply again.',
  PROXY_CONFIG_INVALID: () => 'The layer 7 settings of this service cannot be built: correct them in its form (the detail says which).',
  PROXY_WORKER_FAILED: () => 'The layer 7 proxy workers did not take the configuration: the engine log says why; apply again.',
  PROXY_PFX_INVALID: () => 'Check the PFX password, or export the certificate again as PEM.',
  HA_NODE_UNKNOWN: () => 'Tell the engine which HA node it is: set FULCRUM_HA_NODE to its name, or give its address on the HA interface.',
  HA_KEEPALIVED_MISSING: () => 'Install keepalived (scripts/install-system-deps.sh) so high availability can run.',
  HA_KEEPALIVED_EXITED: () => 'keepalived stopped; the engine starts it again by itself. If it keeps stopping, its log says why.',
  HA_PATH_UNSAFE: () => 'Use a data directory and engine socket path without spaces or quotes, so keepalived can take them.',
  HA_FIFO_FAILED: () => 'The engine cannot read keepalived\u2019s notifications: check the data directory\u2019s permissions and free space.',
  HA_SYNC_FAILED: () => 'The connection sync daemon did not start: check the HA interface exists and is up, then apply again.',
  HA_SYNC_CONFLICT: () => 'Stop the IPVS sync daemon that another program started (ipvsadm --stop-daemon), so the engine can run its own.',
  HA_STICK_SYNC_FAILED: () =>
    'Layer 7 persistence is not shared with the peer: check this node\u2019s own address is on the HA interface and UDP port 8850 is free, then apply again.',
  HA_UNHEALTHY: () => 'This node\u2019s data planes are not healthy, so it stays standby: fix what the detail names.',
};

/** Reads the errno, endpoint and address out of an engine message. */
export function factsOf(message: string, service?: string): OutcomeFacts {
  // A known errno first (so a word such as "EMIS" is not taken for one), else anything shaped like one.
  const errno = [...message.matchAll(/\b(E[A-Z0-9]{3,15})\b/g)].map((m) => m[1]).sort((a, b) => Number(b in ERRNO_SENTENCES) - Number(a in ERRNO_SENTENCES))[0];
  const endpoint = /\b((?:\d{1,3}\.){3}\d{1,3}:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5})\b/.exec(message)?.[1];
  const address = endpoint
    ? endpoint.replace(/^\[|\]?:\d+$/g, '')
    : /\b((?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7})\b/.exec(message)?.[1];
  return { service, message, errno, endpoint, address };
}

/** The sentence for an outcome code; for a code this console does not know, the engine's message as it is. */
export function outcomeSentence(code: string | undefined, message: string, service?: string): string {
  const sentence = code && Object.hasOwn(ENGINE_ERRORS, code) ? OUTCOME_SENTENCES[code as EngineErrorCode] : undefined;
  return sentence ? sentence(factsOf(message, service)) : message;
}

type Result = { name: string; status: string; message: string; code?: string };

/** What to do about one service's result; null when there is nothing to do. */
export function resultAdvice(r: Result): string | null {
  if (r.status === 'programmed' || r.status === 'removed') return null;
  return outcomeSentence(r.code ?? (r.status === 'not-programmed' ? 'IPVS_UNAVAILABLE' : undefined), r.message, r.name);
}

/** The results with their advice. */
export function withAdvice<R extends Result>(results: R[]): (R & { advice: string | null })[] {
  return results.map((r) => ({ ...r, advice: resultAdvice(r) }));
}

/**
 * Why a version failed, in words, from the result stored on it (the engine's answer, or its refusal, or what the
 * settler learnt): the sentence for its code, and each failed service's advice.
 */
export function versionReason(result: unknown): { reason: string; detail: string; services: { name: string; advice: string }[] } | null {
  const r = (result ?? {}) as { error?: { code?: string; message?: string }; results?: Result[]; outcome?: { message?: string } };
  const services = (r.results ?? []).filter((x) => x.status === 'failed').map((x) => ({ name: x.name, advice: resultAdvice(x) ?? x.message }));
  const detail = r.error?.message ?? r.outcome?.message ?? '';
  if (!r.error && services.length === 0) return null;
  return { reason: outcomeSentence(r.error?.code, detail), detail, services };
}
