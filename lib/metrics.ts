/**
 * Prometheus metrics: what GET /api/v1/metrics (and /metrics, the same route: server.ts) answers, in the text
 * exposition format 0.0.4, rendered by prom-client. The names, types and labels in METRIC_DEFS are a stable contract,
 * documented in the README ("Metrics"; a test keeps the two equal): a name is never reused for another meaning, and
 * a label is never added to or taken from an existing metric — a new meaning is a new name.
 *
 * Modelled on HAProxy's built-in exporter (addons/promex): a state is one series per possible value, 1 for the
 * current one and 0 for the others (`fulcrum_server_status{state="DOWN"} 1`), so an alert is a plain comparison and
 * no series appears or vanishes when a state changes; `frontend` is a virtual service's client side, `backend` its pool
 * of real servers, `server` one real server. Layer 4 adds what node_exporter's IPVS collector shows (inactive
 * connections, packets). Labels are `service` and `server` (the names in the configuration), plus `state`, `code`,
 * `outcome`, `to` where a metric says so.
 *
 * Read on each scrape, nothing sampled in between:
 *   engine status()             counters, health, check results and decisions of every service and real server
 *   engine healthTransitions()  the transitions since the last scrape, counted here (fulcrum_health_transitions_total)
 *   ConfigVersion rows          applies by outcome, the running version, the last apply (its duration: audit row)
 *
 * Counters stay monotonic from scrape to scrape while this console runs (CounterGuard below): the engine's counters
 * are cumulative, but a new engine process starts its layer 7 counts at 0 (IPVS keeps its own in the kernel), a layer
 * 7 worker that is replaced takes its share with it, and a halted layer 4 server leaves the IPVS table with its
 * counts. A console restart starts every counter again, as any exporter's restart does (Prometheus's rate() and
 * increase() take that as a reset).
 *
 * Latency is left out on purpose. The engine reports `latencyMs` as the mean over a window that its every counter
 * read restarts (engine/l7/runtime.ts snapshot(): the 2 s stats event, the console's status page and a scrape all
 * read), so a scrape would get the mean over an interval it cannot know and would shorten the windows the live graphs
 * get. An honest latency needs cumulative sums and counts (or histogram buckets) from the engine; until then there is
 * no latency metric rather than a misleading one.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { EngineStatus, HealthTransitionsResponse } from '../engine/api-types.ts';
import type { ServiceStatus } from '../engine/dataplane.ts';
import { CHECK_STATUS } from '../engine/health/status.ts';
import { db } from './db.ts';
import { engine } from './engine.ts';

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export interface MetricDef {
  name: string;
  type: 'gauge' | 'counter';
  labels: readonly string[];
  help: string;
}

const S = ['service'] as const;
const SS = ['service', 'server'] as const;

/** HAProxy's server states (promex_srv_st), decided from Fulcrum's two axes by serverStatus(). */
export const SERVER_STATES = ['DOWN', 'UP', 'MAINT', 'DRAIN', 'NOLB'] as const;
/** Every check status code (engine/health/status.ts), and INI: no result yet (HAProxy's name for it). */
export const CHECK_STATES = [...Object.keys(CHECK_STATUS), 'INI'] as const;
export const RESPONSE_CODES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;

/** Every metric, in the order of the exposition. The README's table lists the same names, types and labels. */
export const METRIC_DEFS = [
  // engine process
  {
    name: 'fulcrum_engine_up',
    type: 'gauge',
    labels: [],
    help: 'Whether the engine answered this scrape (1) or not (0); without it no service, frontend, backend or server series are given.',
  },
  { name: 'fulcrum_engine_start_time_seconds', type: 'gauge', labels: [], help: 'When the engine process started, in seconds since the epoch.' },
  { name: 'fulcrum_engine_running_version', type: 'gauge', labels: [], help: 'The configuration version the engine runs (0: none yet).' },
  {
    name: 'fulcrum_dataplane_available',
    type: 'gauge',
    labels: ['data_plane'],
    help: 'Whether this machine can program the data plane (l4: IPVS in the kernel, l7: the proxy).',
  },
  {
    name: 'fulcrum_ha_role',
    type: 'gauge',
    labels: ['state'],
    help: "This node's role in its HA pair: 1 for the current of master, backup, fault, stopped. Absent without an ha block.",
  },
  // configuration versions (the console's record)
  {
    name: 'fulcrum_config_applies_total',
    type: 'counter',
    labels: ['outcome'],
    help: "Configuration versions applied or failed (rollbacks included), from the console's record.",
  },
  { name: 'fulcrum_config_applies_pending', type: 'gauge', labels: [], help: 'Versions sent to the engine whose outcome is not known yet.' },
  { name: 'fulcrum_config_running_version', type: 'gauge', labels: [], help: 'The newest version applied from this console (0: none yet).' },
  {
    name: 'fulcrum_config_in_sync',
    type: 'gauge',
    labels: [],
    help: 'Whether the engine runs the configuration of fulcrum_config_running_version (1) or another (0). Absent while the engine does not answer.',
  },
  {
    name: 'fulcrum_config_last_apply_status',
    type: 'gauge',
    labels: ['outcome'],
    help: 'The outcome of the newest finished apply: 1 for the current of applied, failed.',
  },
  {
    name: 'fulcrum_config_last_apply_duration_seconds',
    type: 'gauge',
    labels: [],
    help: 'The newest finished apply, from the version being recorded to its outcome being recorded.',
  },
  {
    name: 'fulcrum_config_last_apply_timestamp_seconds',
    type: 'gauge',
    labels: [],
    help: 'When the newest finished apply started, in seconds since the epoch.',
  },
  // virtual services
  {
    name: 'fulcrum_service_status',
    type: 'gauge',
    labels: ['service', 'layer', 'state'],
    help: 'What the engine made of the service: 1 for the current of programmed, not-programmed (valid, but this machine cannot run it), failed.',
  },
  { name: 'fulcrum_frontend_current_sessions', type: 'gauge', labels: S, help: 'Client connections open now.' },
  { name: 'fulcrum_frontend_sessions_total', type: 'counter', labels: S, help: 'Client connections accepted (layer 4: scheduled by IPVS).' },
  { name: 'fulcrum_frontend_bytes_in_total', type: 'counter', labels: S, help: 'Bytes received from clients.' },
  {
    name: 'fulcrum_frontend_bytes_out_total',
    type: 'counter',
    labels: S,
    help: 'Bytes sent to clients (layer 4: as IPVS counts them; in DR and TUN modes replies bypass the director).',
  },
  { name: 'fulcrum_frontend_packets_in_total', type: 'counter', labels: S, help: 'Layer 4: packets received for the service.' },
  { name: 'fulcrum_frontend_packets_out_total', type: 'counter', labels: S, help: 'Layer 4: packets sent for the service.' },
  { name: 'fulcrum_frontend_http_requests_total', type: 'counter', labels: S, help: 'Layer 7 http: requests received from clients.' },
  {
    name: 'fulcrum_frontend_http_responses_total',
    type: 'counter',
    labels: ['service', 'code'],
    help: 'Layer 7 http: responses sent to clients by class, including those Fulcrum made itself (refusals, 502/503/504, redirects, the maintenance page).',
  },
  {
    name: 'fulcrum_backend_status',
    type: 'gauge',
    labels: ['service', 'state'],
    help: 'UP while at least one real server takes new clients, else DOWN: 1 for the current.',
  },
  { name: 'fulcrum_backend_active_servers', type: 'gauge', labels: S, help: 'Real servers taking new clients now (serving, with a weight above 0).' },
  {
    name: 'fulcrum_backend_http_responses_total',
    type: 'counter',
    labels: ['service', 'code'],
    help: "Layer 7 http: responses from the service's real servers by class (the sum over its servers).",
  },
  // real servers
  {
    name: 'fulcrum_server_status',
    type: 'gauge',
    labels: ['service', 'server', 'state'],
    help: "The server's state as HAProxy names it: 1 for the current of DOWN, UP, MAINT (halted), DRAIN, NOLB (up, but weight 0).",
  },
  {
    name: 'fulcrum_server_health',
    type: 'gauge',
    labels: ['service', 'server', 'state'],
    help: 'What the health checks found: 1 for the current of up, down, unknown (unknown counts as up).',
  },
  {
    name: 'fulcrum_server_operator_state',
    type: 'gauge',
    labels: ['service', 'server', 'state'],
    help: 'What a person set: 1 for the current of online, drain, halt.',
  },
  { name: 'fulcrum_server_weight', type: 'gauge', labels: SS, help: 'The weight in force (0 while draining, halted, down or weighted out by its agent).' },
  {
    name: 'fulcrum_server_check_status',
    type: 'gauge',
    labels: ['service', 'server', 'state'],
    help: 'The last health check result: 1 for the current status code (engine/health/status.ts; INI before the first result).',
  },
  { name: 'fulcrum_server_check_duration_seconds', type: 'gauge', labels: SS, help: 'How long the last health check took.' },
  {
    name: 'fulcrum_server_check_last_change_seconds',
    type: 'gauge',
    labels: SS,
    help: 'Seconds since the health became what it is (since the engine started, for a server not checked yet).',
  },
  {
    name: 'fulcrum_server_current_sessions',
    type: 'gauge',
    labels: SS,
    help: 'Connections to the server in use now (layer 4: IPVS active connections; layer 7: requests or tunnels in flight to it).',
  },
  { name: 'fulcrum_server_inactive_sessions', type: 'gauge', labels: SS, help: 'Layer 4: IPVS inactive connections (closing, or not established).' },
  {
    name: 'fulcrum_server_sessions_total',
    type: 'counter',
    labels: SS,
    help: 'Connections to the server (layer 4: scheduled by IPVS; layer 7: opened by the proxy, a reused keep-alive connection is not a new one).',
  },
  { name: 'fulcrum_server_bytes_in_total', type: 'counter', labels: SS, help: 'Bytes in the client-to-server direction sent to this server.' },
  { name: 'fulcrum_server_bytes_out_total', type: 'counter', labels: SS, help: 'Bytes in the server-to-client direction from this server.' },
  { name: 'fulcrum_server_packets_in_total', type: 'counter', labels: SS, help: 'Layer 4: packets in the client-to-server direction.' },
  { name: 'fulcrum_server_packets_out_total', type: 'counter', labels: SS, help: 'Layer 4: packets in the server-to-client direction.' },
  { name: 'fulcrum_server_http_requests_total', type: 'counter', labels: SS, help: 'Layer 7 http: requests sent to this server.' },
  {
    name: 'fulcrum_server_http_responses_total',
    type: 'counter',
    labels: ['service', 'server', 'code'],
    help: 'Layer 7 http: responses from this server by class.',
  },
  {
    name: 'fulcrum_health_transitions_total',
    type: 'counter',
    labels: ['service', 'server', 'to'],
    help: 'Health transitions of the server, by the health it went to (up, down, unknown), as the engine reported them.',
  },
] as const satisfies readonly MetricDef[];

export type MetricName = (typeof METRIC_DEFS)[number]['name'];
type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: number;
}

/**
 * HAProxy's server state from Fulcrum's two axes (operator state, health) and what the server's agent said, in
 * HAProxy's order of precedence (promex_srv_status: maintenance over everything, then down, then drain):
 *
 *   operator │ agent admin │ decision                  │ state
 *   ─────────┼─────────────┼───────────────────────────┼──────
 *   halt     │ any         │ any                       │ MAINT
 *   any      │ maint       │ any                       │ MAINT
 *   online   │ ready/none  │ health-down               │ DOWN    (a drained server that is down: DOWN too)
 *   drain    │ any         │ not health-down           │ DRAIN
 *   online   │ drain       │ not health-down           │ DRAIN
 *   online   │ ready/none  │ serve                     │ UP
 *   online   │ ready/none  │ quiesce (weight 0)        │ NOLB
 */
export function serverStatus(rs: ServiceStatus['realServers'][number]): (typeof SERVER_STATES)[number] {
  const admin = rs.check?.agent?.admin;
  if (rs.operator === 'halt' || admin === 'maint') return 'MAINT';
  if (rs.decision.isHealthDown) return 'DOWN';
  if (rs.operator === 'drain' || admin === 'drain') return 'DRAIN';
  return rs.decision.disposition === 'serve' ? 'UP' : 'NOLB';
}

/**
 * Keeps exported counters monotonic when what the engine reports goes down. Per series: `base` is added to the
 * engine's raw value; `epoch` names what a raw value counts from (the engine process for layer 7 counts; '' for
 * counts that outlive it: IPVS's, the console's own).
 *
 *   raw value read                         │ exported
 *   ───────────────────────────────────────┼─────────────────────────────────────────────────────────────────────
 *   ≥ the last raw                         │ base + raw
 *   from a new epoch (a new engine)        │ the last exported + raw: its counts start at 0
 *   < the last raw, once                   │ the last exported, held: a worker that missed this read (its share
 *                                          │ is back on the next one), not counts lost
 *   < the last raw, twice in a row         │ the last exported, and from there it grows with raw: counts were lost
 *                                          │ (a worker replaced, a server re-created); what came between the two
 *                                          │ reads is not counted, which undercounts a little rather than invent
 *                                          │ traffic (Prometheus, seeing a drop, would count the whole raw again)
 */
export class CounterGuard {
  private readonly series = new Map<string, { owner: string; epoch: string; base: number; lastRaw: number; exported: number; hasDropped: boolean }>();

  /** `owner`: the service or server the series belongs to (forget() drops a gone owner's series). */
  value(key: string, owner: string, raw: number, epoch: string): number {
    const s = this.series.get(key);
    if (!s) {
      this.series.set(key, { owner, epoch, base: 0, lastRaw: raw, exported: raw, hasDropped: false });
      return raw;
    }
    if (s.epoch !== epoch) {
      s.epoch = epoch;
      s.base = s.exported;
      s.lastRaw = raw;
      s.hasDropped = false;
    } else if (raw >= s.lastRaw) {
      s.lastRaw = raw;
      s.hasDropped = false;
    } else if (!s.hasDropped) {
      s.hasDropped = true;
      return s.exported;
    } else {
      s.base = s.exported - raw;
      s.lastRaw = raw;
      s.hasDropped = false;
    }
    s.exported = Math.max(s.exported, s.base + raw);
    return s.exported;
  }

  /** Forgets the series of owners not in `present` (services and servers no longer configured). */
  forget(present: ReadonlySet<string>): void {
    for (const [k, s] of this.series) if (!present.has(s.owner)) this.series.delete(k);
  }
}

/** Counts health transitions per server and new health, from the engine's log (seq counts from 1 per engine process). */
export class TransitionCounter {
  private engineStartedAt: string | undefined;
  private lastSeq = 0;
  readonly counts = new Map<string, { service: string; server: string; to: string; n: number }>();

  /** Reads what is new in the engine's log and counts it; `read(since)` is engine().healthTransitions. */
  async update(read: (since: number) => Promise<HealthTransitionsResponse>, engineStartedAt: string): Promise<void> {
    const isSame = this.engineStartedAt === engineStartedAt;
    let r = await read(isSame ? this.lastSeq : 0);
    // The engine restarted between status() and this read: its seqs are not the ones asked from.
    if (isSame && r.engineStartedAt !== engineStartedAt) r = await read(0);
    if (r.engineStartedAt !== this.engineStartedAt) {
      this.engineStartedAt = r.engineStartedAt;
      this.lastSeq = 0;
    }
    for (const t of r.transitions) {
      if (t.seq <= this.lastSeq) continue;
      this.lastSeq = t.seq;
      const key = JSON.stringify([t.virtualService, t.realServer, t.health]);
      const c = this.counts.get(key) ?? { service: t.virtualService, server: t.realServer, to: t.health, n: 0 };
      c.n++;
      this.counts.set(key, c);
    }
  }

  forget(present: ReadonlySet<string>): void {
    for (const [k, c] of this.counts) if (!present.has(ownerOf(c.service, c.server))) this.counts.delete(k);
  }
}

const ownerOf = (service: string, server?: string) => JSON.stringify(server === undefined ? [service] : [service, server]);

/** What the console's record says about configuration versions (dbConfigSummary reads it). */
export interface ConfigSummary {
  applied: number;
  failed: number;
  applying: number;
  /** The newest applied version, and each of its services' mode (which counters make sense for it). */
  running: { id: number; hash: string; modes: ReadonlyMap<string, string> } | null;
  /** The newest version that finished (applied or failed); settledAt from its audit row, null if none is found. */
  last: { id: number; status: 'applied' | 'failed'; createdAt: Date; settledAt: Date | null } | null;
}

export interface MetricsSources {
  status(): Promise<EngineStatus>;
  healthTransitions(since: number): Promise<HealthTransitionsResponse>;
  config(): Promise<ConfigSummary>;
  now?: () => number;
}

/** One scrape's samples by metric name, before rendering. */
export type Samples = Map<MetricName, Sample[]>;

/** One series per value of `states` under the label `key`, 1 for `current` and 0 for the others. */
function stateSet(out: Samples, name: MetricName, states: readonly string[], current: string, labels: Labels = {}, key = 'state'): void {
  for (const state of states) push(out, name, { ...labels, [key]: state }, state === current ? 1 : 0);
}

function push(out: Samples, name: MetricName, labels: Labels, value: number): void {
  let list = out.get(name);
  if (!list) out.set(name, (list = []));
  list.push({ labels, value });
}

/**
 * Builds one scrape's samples from what was read. Counters go through `guard`; `transitions` holds the counts.
 * Exported for the unit tests, which build inputs by hand.
 */
export function buildSamples(
  input: { status: EngineStatus | null; config: ConfigSummary; now: number },
  guard: CounterGuard,
  transitions: TransitionCounter,
): Samples {
  const out: Samples = new Map();
  const { status, config, now } = input;
  const counter = (name: MetricName, labels: Labels, owner: string, raw: number | undefined, epoch: string) => {
    if (raw === undefined) return;
    push(out, name, labels, guard.value(JSON.stringify([name, labels]), owner, raw, epoch));
  };

  push(out, 'fulcrum_engine_up', {}, status ? 1 : 0);
  counter('fulcrum_config_applies_total', { outcome: 'applied' }, '', config.applied, '');
  counter('fulcrum_config_applies_total', { outcome: 'failed' }, '', config.failed, '');
  push(out, 'fulcrum_config_applies_pending', {}, config.applying);
  push(out, 'fulcrum_config_running_version', {}, config.running?.id ?? 0);
  if (config.last) {
    stateSet(out, 'fulcrum_config_last_apply_status', ['applied', 'failed'], config.last.status, {}, 'outcome');
    push(out, 'fulcrum_config_last_apply_timestamp_seconds', {}, config.last.createdAt.getTime() / 1000);
    if (config.last.settledAt)
      push(out, 'fulcrum_config_last_apply_duration_seconds', {}, Math.max(0, config.last.settledAt.getTime() - config.last.createdAt.getTime()) / 1000);
  }
  if (!status) return out;

  const startedAt = Date.parse(status.startedAt);
  if (Number.isFinite(startedAt)) push(out, 'fulcrum_engine_start_time_seconds', {}, startedAt / 1000);
  push(out, 'fulcrum_engine_running_version', {}, status.running?.version ?? 0);
  push(out, 'fulcrum_config_in_sync', {}, (status.running?.hash ?? null) === (config.running?.hash ?? null) ? 1 : 0);
  for (const c of status.capabilities) push(out, 'fulcrum_dataplane_available', { data_plane: c.dataPlane }, c.isAvailable ? 1 : 0);
  if (status.ha?.isEnabled) stateSet(out, 'fulcrum_ha_role', ['master', 'backup', 'fault', 'stopped'], status.ha.role);

  const present = new Set<string>(['']);
  for (const vs of status.services) {
    const service = vs.name;
    const owner = ownerOf(service);
    present.add(owner);
    // Layer 7 counts live in the engine's proxy workers and start at 0 with a new engine; IPVS's outlive it.
    const epoch = vs.layer === 7 ? status.startedAt : '';
    const mode = config.running?.modes.get(service);
    const isHttp = vs.layer === 7 && (mode === undefined || mode === 'http');
    const L = { service };
    stateSet(out, 'fulcrum_service_status', ['programmed', 'not-programmed', 'failed'], vs.status, { service, layer: String(vs.layer) });

    const c = vs.counters;
    if (c) {
      push(out, 'fulcrum_frontend_current_sessions', L, c.activeConnections);
      counter('fulcrum_frontend_sessions_total', L, owner, c.totalConnections, epoch);
      counter('fulcrum_frontend_bytes_in_total', L, owner, c.bytesIn, epoch);
      counter('fulcrum_frontend_bytes_out_total', L, owner, c.bytesOut, epoch);
      counter('fulcrum_frontend_packets_in_total', L, owner, c.packetsIn, epoch);
      counter('fulcrum_frontend_packets_out_total', L, owner, c.packetsOut, epoch);
      if (isHttp) {
        counter('fulcrum_frontend_http_requests_total', L, owner, c.requests, epoch);
        for (const code of RESPONSE_CODES) counter('fulcrum_frontend_http_responses_total', { service, code }, owner, c.responses?.[code], epoch);
      }
    }

    const active = vs.realServers.filter((rs) => rs.decision.disposition === 'serve' && rs.decision.weight > 0).length;
    stateSet(out, 'fulcrum_backend_status', ['UP', 'DOWN'], active > 0 ? 'UP' : 'DOWN', L);
    push(out, 'fulcrum_backend_active_servers', L, active);
    if (isHttp && vs.realServers.some((rs) => rs.counters?.responses)) {
      for (const code of RESPONSE_CODES) {
        const sum = vs.realServers.reduce((n, rs) => n + (rs.counters?.responses?.[code] ?? 0), 0);
        counter('fulcrum_backend_http_responses_total', { service, code }, owner, sum, epoch);
      }
    }

    for (const rs of vs.realServers) {
      const server = rs.name;
      const so = ownerOf(service, server);
      present.add(so);
      const SL = { service, server };
      stateSet(out, 'fulcrum_server_status', SERVER_STATES, serverStatus(rs), SL);
      stateSet(out, 'fulcrum_server_health', ['up', 'down', 'unknown'], rs.health, SL);
      stateSet(out, 'fulcrum_server_operator_state', ['online', 'drain', 'halt'], rs.operator, SL);
      push(out, 'fulcrum_server_weight', SL, rs.decision.weight);
      if (rs.check) {
        stateSet(out, 'fulcrum_server_check_status', CHECK_STATES, rs.check.code ?? 'INI', SL);
        if (rs.check.durationMs !== undefined) push(out, 'fulcrum_server_check_duration_seconds', SL, rs.check.durationMs / 1000);
        const since = Date.parse(rs.check.since);
        if (Number.isFinite(since)) push(out, 'fulcrum_server_check_last_change_seconds', SL, Math.max(0, now - since) / 1000);
      }
      const sc = rs.counters;
      if (!sc) continue;
      push(out, 'fulcrum_server_current_sessions', SL, sc.activeConnections);
      if (sc.inactiveConnections !== undefined) push(out, 'fulcrum_server_inactive_sessions', SL, sc.inactiveConnections);
      counter('fulcrum_server_sessions_total', SL, so, sc.totalConnections, epoch);
      counter('fulcrum_server_bytes_in_total', SL, so, sc.bytesIn, epoch);
      counter('fulcrum_server_bytes_out_total', SL, so, sc.bytesOut, epoch);
      counter('fulcrum_server_packets_in_total', SL, so, sc.packetsIn, epoch);
      counter('fulcrum_server_packets_out_total', SL, so, sc.packetsOut, epoch);
      if (isHttp) {
        counter('fulcrum_server_http_requests_total', SL, so, sc.requests, epoch);
        for (const code of RESPONSE_CODES) counter('fulcrum_server_http_responses_total', { service, server, code }, so, sc.responses?.[code], epoch);
      }
    }
  }
  guard.forget(present);
  transitions.forget(present);
  for (const t of transitions.counts.values()) push(out, 'fulcrum_health_transitions_total', { service: t.service, server: t.server, to: t.to }, t.n);
  return out;
}

/** The exposition of `samples`: every metric of METRIC_DEFS with its HELP and TYPE, series or not. */
export async function render(samples: Samples): Promise<string> {
  const registry = new Registry();
  for (const def of METRIC_DEFS as readonly MetricDef[]) {
    const list = samples.get(def.name as MetricName) ?? [];
    const config = { name: def.name, help: def.help, labelNames: [...def.labels], registers: [registry] };
    // prom-client starts a metric without labels at 0: removed, so that no value is shown rather than a false one.
    const isBare = def.labels.length === 0;
    if (def.type === 'counter') {
      const m = new Counter(config);
      if (isBare) m.remove();
      for (const s of list) m.inc(s.labels, s.value);
    } else {
      const m = new Gauge(config);
      if (isBare) m.remove();
      for (const s of list) m.set(s.labels, s.value);
    }
  }
  return registry.metrics();
}

export interface MetricsCollector {
  /** Reads the sources and answers the exposition. Scrapes run one at a time (the counters' state is shared). */
  scrape(): Promise<string>;
}

export function createMetricsCollector(sources: MetricsSources): MetricsCollector {
  const guard = new CounterGuard();
  const transitions = new TransitionCounter();
  let queue: Promise<unknown> = Promise.resolve();
  const now = sources.now ?? Date.now;

  async function scrapeNow(): Promise<string> {
    // The engine first: without it, the console's own record is still worth scraping (fulcrum_engine_up 0 says why
    // the rest is missing). A database that fails fails the scrape, as the API's other reads do.
    let status: EngineStatus | null = null;
    try {
      status = await sources.status();
      await transitions.update(sources.healthTransitions, status.startedAt);
    } catch {
      // unreachable, stuck, or restarting: no engine series this time; the counters' state is kept for its return
    }
    const config = await sources.config();
    return render(buildSamples({ status, config, now: now() }, guard, transitions));
  }

  return {
    scrape() {
      const run = queue.then(scrapeNow, scrapeNow);
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

/** The console's record of versions, for ConfigSummary. The running version's modes are parsed once per version. */
export function dbConfigSummary(): () => Promise<ConfigSummary> {
  let modes: { id: number; modes: Map<string, string> } | undefined;
  return async () => {
    const d = db();
    const [applied, failed, applying, running, last] = await Promise.all([
      d.configVersion.count({ where: { status: 'applied' } }),
      d.configVersion.count({ where: { status: 'failed' } }),
      d.configVersion.count({ where: { status: 'applying' } }),
      d.configVersion.findFirst({ where: { status: 'applied' }, orderBy: { id: 'desc' }, select: { id: true, hash: true } }),
      d.configVersion.findFirst({
        where: { status: { in: ['applied', 'failed'] } },
        orderBy: { id: 'desc' },
        select: { id: true, status: true, createdAt: true },
      }),
    ]);
    if (running && modes?.id !== running.id) {
      const row = await d.configVersion.findUnique({ where: { id: running.id }, select: { snapshot: true } });
      // Names and modes only: the snapshot's sealed keys are not opened.
      const snapshot = JSON.parse(row?.snapshot ?? '{}') as { virtualServices?: { name: string; layer: number; mode: string }[] };
      modes = { id: running.id, modes: new Map((snapshot.virtualServices ?? []).map((vs) => [vs.name, vs.mode])) };
    }
    // The apply's one audit row is written in the transaction that records its outcome (lib/config/settle.ts).
    const settled = last
      ? await d.auditEvent.findFirst({
          where: {
            objectType: 'config-version',
            objectId: String(last.id),
            action: { in: ['config.apply', 'config.rollback'] },
            outcome: { in: ['success', 'failed'] },
          },
          orderBy: { id: 'asc' },
          select: { at: true },
        })
      : null;
    return {
      applied,
      failed,
      applying,
      running: running ? { id: running.id, hash: running.hash, modes: modes!.modes } : null,
      last: last ? { id: last.id, status: last.status === 'applied' ? 'applied' : 'failed', createdAt: last.createdAt, settledAt: settled?.at ?? null } : null,
    };
  };
}

const g = globalThis as unknown as { __fulcrumMetrics?: { socket: string; collector: MetricsCollector } };

/**
 * The console's collector, one per process (on globalThis: Next's bundle and the custom server each load lib/ once,
 * and the counters' state must be one), following the engine client's socket like lib/engine.ts.
 */
export function metrics(): MetricsCollector {
  const socket = engine().socketPath;
  if (g.__fulcrumMetrics?.socket !== socket) {
    g.__fulcrumMetrics = {
      socket,
      collector: createMetricsCollector({
        status: () => engine().status(),
        healthTransitions: (since) => engine().healthTransitions(since),
        config: dbConfigSummary(),
      }),
    };
  }
  return g.__fulcrumMetrics.collector;
}
