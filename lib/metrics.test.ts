/**
 * The exposition without Prometheus (lib/metrics.ts): every metric with its HELP and TYPE, values from a hand-built
 * engine status, HAProxy-style state sets, label escaping, counters that stay monotonic when the engine's go down,
 * health transitions counted once, and the README's table equal to the metric list. Prometheus itself scrapes it in
 * metrics.prometheus.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { EngineStatus, HealthTransitionEvent, HealthTransitionsResponse } from '../engine/api-types.ts';
import type { ServerCounters, ServiceStatus } from '../engine/dataplane.ts';
import {
  buildSamples,
  CHECK_STATES,
  CounterGuard,
  createMetricsCollector,
  METRIC_DEFS,
  render,
  serverStatus,
  TransitionCounter,
  type ConfigSummary,
} from './metrics.ts';

const T0 = Date.parse('2026-12-01T09:00:00.000Z');
type RealServer = ServiceStatus['realServers'][number];

const l7 = (over: Partial<ServerCounters> = {}): ServerCounters => ({
  activeConnections: 0,
  totalConnections: 0,
  bytesIn: 0,
  bytesOut: 0,
  requests: 0,
  responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
  latencyMs: 0,
  ...over,
});
const l4 = (over: Partial<ServerCounters> = {}): ServerCounters => ({
  activeConnections: 0,
  inactiveConnections: 0,
  totalConnections: 0,
  bytesIn: 0,
  bytesOut: 0,
  packetsIn: 0,
  packetsOut: 0,
  ...over,
});
const server = (name: string, over: Partial<RealServer> = {}): RealServer => ({
  name,
  operator: 'online',
  health: 'up',
  decision: { disposition: 'serve', weight: 100, isHealthDown: false },
  check: {
    type: 'http',
    target: '127.0.0.1:8081',
    health: 'up',
    since: new Date(T0 - 60_000).toISOString(),
    code: 'L7OK',
    message: 'HTTP 200',
    durationMs: 2.5,
    lastCheckAt: new Date(T0).toISOString(),
  },
  ...over,
});

function engineStatus(
  opts: { startedAt?: string; web?: Partial<ServiceStatus>; app1?: Partial<ServerCounters>; app2?: Partial<RealServer> } = {},
): EngineStatus {
  return {
    pid: 4242,
    startedAt: opts.startedAt ?? new Date(T0 - 3_600_000).toISOString(),
    running: { version: 3, hash: 'h3', appliedAt: new Date(T0).toISOString() },
    capabilities: [
      { dataPlane: 'l4', isAvailable: false, reason: 'no IPVS' },
      { dataPlane: 'l7', isAvailable: true },
    ],
    countersReadAt: new Date(T0).toISOString(),
    services: [
      {
        name: 'symphony-web',
        layer: 7,
        status: 'programmed',
        message: 'listening',
        counters: l7({
          activeConnections: 2,
          totalConnections: 40,
          bytesIn: 5000,
          bytesOut: 90_000,
          requests: 31,
          responses: { '1xx': 0, '2xx': 28, '3xx': 0, '4xx': 2, '5xx': 1, other: 0 },
        }),
        realServers: [
          server('app-1', {
            counters: l7({
              activeConnections: 1,
              totalConnections: 3,
              bytesIn: 2400,
              bytesOut: 45_000,
              requests: 16,
              responses: { '1xx': 0, '2xx': 15, '3xx': 0, '4xx': 1, '5xx': 0, other: 0 },
              ...opts.app1,
            }),
          }),
          server('app-2', {
            health: 'down',
            decision: { disposition: 'quiesce', weight: 0, isHealthDown: true },
            check: {
              type: 'http',
              target: '127.0.0.1:8082',
              health: 'down',
              since: new Date(T0 - 5000).toISOString(),
              code: 'L4CON',
              message: 'refused',
              durationMs: 0.4,
            },
            counters: l7({
              totalConnections: 2,
              bytesIn: 2000,
              bytesOut: 40_000,
              requests: 14,
              responses: { '1xx': 0, '2xx': 13, '3xx': 0, '4xx': 1, '5xx': 0, other: 0 },
            }),
            ...opts.app2,
          }),
        ],
        ...opts.web,
      },
      {
        name: 'symphony-tcp',
        layer: 4,
        status: 'not-programmed',
        message: 'IPVS is not available',
        counters: l4({ activeConnections: 3, totalConnections: 10, bytesIn: 100, bytesOut: 200, packetsIn: 7, packetsOut: 9 }),
        realServers: [
          server('tcp-1', {
            operator: 'drain',
            decision: { disposition: 'quiesce', weight: 0, isHealthDown: false },
            check: undefined,
            counters: l4({ activeConnections: 3, inactiveConnections: 1, totalConnections: 10, packetsIn: 7, packetsOut: 9 }),
          }),
        ],
      },
    ],
  };
}

const config = (over: Partial<ConfigSummary> = {}): ConfigSummary => ({
  applied: 3,
  failed: 1,
  applying: 0,
  running: {
    id: 3,
    hash: 'h3',
    modes: new Map([
      ['symphony-web', 'http'],
      ['symphony-tcp', 'nat'],
    ]),
  },
  last: { id: 4, status: 'failed', createdAt: new Date(T0), settledAt: new Date(T0 + 1250) },
  ...over,
});

/** The exposition as { name → [{ labels, value }] }, checking every line's syntax on the way. */
function parse(text: string) {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const series: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (m) {
      help.set(m[1], m[2]);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line);
    if (m) {
      type.set(m[1], m[2]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN)$/.exec(line);
    assert.ok(m, `a valid sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    series.push({ name: m[1], labels, value: Number(m[3]) });
  }
  const value = (name: string, labels: Record<string, string> = {}) =>
    series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);
  return { help, type, series, value };
}

async function scrapeOnce(status: EngineStatus | null, cfg = config()) {
  return parse(await render(buildSamples({ status, config: cfg, now: T0 }, new CounterGuard(), new TransitionCounter())));
}

describe('the exposition', () => {
  test('every metric has its HELP and TYPE, in the documented order, and nothing else is exposed', async () => {
    const text = await render(buildSamples({ status: engineStatus(), config: config(), now: T0 }, new CounterGuard(), new TransitionCounter()));
    const p = parse(text);
    assert.deepEqual(
      [...p.type.keys()],
      METRIC_DEFS.map((d) => d.name),
    );
    for (const d of METRIC_DEFS) {
      assert.equal(p.type.get(d.name), d.type, d.name);
      assert.ok(p.help.get(d.name)!.length > 10, `${d.name} has a HELP text`);
      assert.ok(d.type !== 'counter' || d.name.endsWith('_total'), `counter ${d.name} ends in _total`);
      assert.match(d.name, /^fulcrum_[a-z0-9_]+$/);
    }
    for (const s of p.series) {
      const def = METRIC_DEFS.find((d) => d.name === s.name);
      assert.ok(def, `${s.name} is a documented metric`);
      assert.deepEqual(Object.keys(s.labels).sort(), [...def.labels].sort(), `${s.name} has exactly its labels`);
    }
  });

  test('values come from the engine status and the console record', async () => {
    const p = await scrapeOnce(engineStatus());
    const web = { service: 'symphony-web' };
    assert.deepEqual(p.value('fulcrum_engine_up'), [1]);
    assert.deepEqual(p.value('fulcrum_engine_running_version'), [3]);
    assert.deepEqual(p.value('fulcrum_engine_start_time_seconds'), [(T0 - 3_600_000) / 1000]);
    assert.deepEqual(p.value('fulcrum_dataplane_available', { data_plane: 'l4' }), [0]);
    assert.deepEqual(p.value('fulcrum_dataplane_available', { data_plane: 'l7' }), [1]);
    assert.deepEqual(p.value('fulcrum_config_applies_total', { outcome: 'applied' }), [3]);
    assert.deepEqual(p.value('fulcrum_config_applies_total', { outcome: 'failed' }), [1]);
    assert.deepEqual(p.value('fulcrum_config_running_version'), [3]);
    assert.deepEqual(p.value('fulcrum_config_in_sync'), [1]);
    assert.deepEqual(p.value('fulcrum_config_last_apply_status', { outcome: 'failed' }), [1]);
    assert.deepEqual(p.value('fulcrum_config_last_apply_status', { outcome: 'applied' }), [0]);
    assert.deepEqual(p.value('fulcrum_config_last_apply_duration_seconds'), [1.25]);
    assert.deepEqual(p.value('fulcrum_config_last_apply_timestamp_seconds'), [T0 / 1000]);
    assert.deepEqual(p.value('fulcrum_service_status', { ...web, layer: '7', state: 'programmed' }), [1]);
    assert.deepEqual(p.value('fulcrum_service_status', { service: 'symphony-tcp', layer: '4', state: 'not-programmed' }), [1]);
    assert.deepEqual(p.value('fulcrum_frontend_current_sessions', web), [2]);
    assert.deepEqual(p.value('fulcrum_frontend_sessions_total', web), [40]);
    assert.deepEqual(p.value('fulcrum_frontend_bytes_in_total', web), [5000]);
    assert.deepEqual(p.value('fulcrum_frontend_http_requests_total', web), [31]);
    assert.deepEqual(p.value('fulcrum_frontend_http_responses_total', { ...web, code: '5xx' }), [1], 'the 502 Fulcrum made itself');
    assert.deepEqual(p.value('fulcrum_backend_http_responses_total', { ...web, code: '2xx' }), [28], 'the sum over the servers');
    assert.deepEqual(p.value('fulcrum_backend_http_responses_total', { ...web, code: '5xx' }), [0]);
    assert.deepEqual(p.value('fulcrum_backend_active_servers', web), [1]);
    assert.deepEqual(p.value('fulcrum_backend_status', { ...web, state: 'UP' }), [1]);
    const a1 = { ...web, server: 'app-1' };
    const a2 = { ...web, server: 'app-2' };
    assert.deepEqual(p.value('fulcrum_server_http_requests_total', a1), [16]);
    assert.deepEqual(p.value('fulcrum_server_http_responses_total', { ...a1, code: '4xx' }), [1]);
    assert.deepEqual(p.value('fulcrum_server_sessions_total', a1), [3]);
    assert.deepEqual(p.value('fulcrum_server_bytes_out_total', a1), [45_000]);
    assert.deepEqual(p.value('fulcrum_server_weight', a1), [100]);
    assert.deepEqual(p.value('fulcrum_server_weight', a2), [0]);
    assert.deepEqual(p.value('fulcrum_server_status', { ...a2, state: 'DOWN' }), [1]);
    assert.deepEqual(p.value('fulcrum_server_health', { ...a2, state: 'down' }), [1]);
    assert.deepEqual(p.value('fulcrum_server_operator_state', { ...a2, state: 'online' }), [1]);
    assert.deepEqual(p.value('fulcrum_server_check_status', { ...a2, state: 'L4CON' }), [1]);
    assert.deepEqual(p.value('fulcrum_server_check_duration_seconds', a2), [0.0004]);
    assert.deepEqual(p.value('fulcrum_server_check_last_change_seconds', a2), [5]);
    // Layer 4: packets and inactive connections, no HTTP series; a service without mode http has none either.
    const t1 = { service: 'symphony-tcp', server: 'tcp-1' };
    assert.deepEqual(p.value('fulcrum_server_inactive_sessions', t1), [1]);
    assert.deepEqual(p.value('fulcrum_server_packets_in_total', t1), [7]);
    assert.deepEqual(p.value('fulcrum_frontend_packets_out_total', { service: 'symphony-tcp' }), [9]);
    assert.deepEqual(p.value('fulcrum_server_http_requests_total', t1), []);
    assert.deepEqual(p.value('fulcrum_frontend_http_responses_total', { service: 'symphony-tcp' }), []);
    assert.deepEqual(p.value('fulcrum_server_status', { ...t1, state: 'DRAIN' }), [1]);
    assert.deepEqual(p.value('fulcrum_server_check_status', t1), [], 'no check status for a server the monitor does not know');
    assert.deepEqual(p.value('fulcrum_frontend_packets_in_total', web), [], 'no packet counts at layer 7');
    assert.deepEqual(p.value('fulcrum_ha_role'), [], 'no HA role without an ha block');
  });

  test('a state is one series per value, exactly one of them 1 (HAProxy style)', async () => {
    const p = await scrapeOnce(engineStatus());
    const sets = { fulcrum_server_status: 5, fulcrum_server_health: 3, fulcrum_server_operator_state: 3, fulcrum_server_check_status: CHECK_STATES.length };
    for (const [name, size] of Object.entries(sets)) {
      for (const srv of ['app-1', 'app-2']) {
        const values = p.value(name, { service: 'symphony-web', server: srv });
        assert.equal(values.length, size, `${name} of ${srv}: one series per state`);
        assert.deepEqual(values.filter((v) => v === 1).length, 1, `${name} of ${srv}: one current state`);
        assert.ok(values.every((v) => v === 0 || v === 1));
      }
    }
    assert.deepEqual(
      p.series.filter((s) => s.name === 'fulcrum_server_check_status' && s.value === 1 && s.labels.server === 'app-1').map((s) => s.labels.state),
      ['L7OK'],
    );
    assert.ok(CHECK_STATES.includes('INI') && CHECK_STATES.includes('L7STS') && CHECK_STATES.includes('DCMREJ'));
  });

  test('with the engine down: engine_up 0, the console record, every HELP line, no service series', async () => {
    const text = await render(buildSamples({ status: null, config: config(), now: T0 }, new CounterGuard(), new TransitionCounter()));
    const p = parse(text);
    assert.deepEqual(p.value('fulcrum_engine_up'), [0]);
    assert.deepEqual(p.value('fulcrum_config_applies_total', { outcome: 'applied' }), [3]);
    assert.deepEqual(p.value('fulcrum_engine_running_version'), [], 'not 0: unknown');
    assert.deepEqual(p.value('fulcrum_config_in_sync'), []);
    assert.equal(p.series.filter((s) => 'service' in s.labels).length, 0);
    assert.equal(p.help.size, METRIC_DEFS.length);
  });

  test('label values are escaped as the format requires: backslash, double quote, line feed', async () => {
    const odd = 'a"b\\c\nd';
    const st = engineStatus({ web: { name: odd } });
    const text = await render(buildSamples({ status: st, config: config(), now: T0 }, new CounterGuard(), new TransitionCounter()));
    assert.ok(text.includes('fulcrum_frontend_sessions_total{service="a\\"b\\\\c\\nd"} 40'), 'escaped in the text');
    assert.ok(!text.split('\n').some((l) => l.startsWith('d"')), 'the line feed did not break the line');
    assert.deepEqual(parse(text).value('fulcrum_frontend_sessions_total', { service: odd }), [40], 'and reads back as the name');
  });

  test('no configuration yet: versions 0, no last apply', async () => {
    const p = await scrapeOnce(null, config({ applied: 0, failed: 0, running: null, last: null }));
    assert.deepEqual(p.value('fulcrum_config_running_version'), [0]);
    assert.deepEqual(p.value('fulcrum_config_last_apply_status'), []);
    assert.deepEqual(p.value('fulcrum_config_last_apply_duration_seconds'), []);
  });
});

describe('server state (HAProxy names from the two axes)', () => {
  const down = { disposition: 'quiesce', weight: 0, isHealthDown: true } as const;
  const quiet = { disposition: 'quiesce', weight: 0, isHealthDown: false } as const;
  const serve = { disposition: 'serve', weight: 10, isHealthDown: false } as const;
  const agent = (admin: string) => ({ type: 'http', target: 't', health: 'up' as const, since: '', agent: { admin, message: '', at: '' } });
  const cases: [string, Partial<RealServer>, string][] = [
    ['online and up', { decision: serve }, 'UP'],
    ['online, health unknown (counts as up)', { health: 'unknown', decision: serve }, 'UP'],
    ['online and down', { health: 'down', decision: down }, 'DOWN'],
    ['drained', { operator: 'drain', decision: quiet }, 'DRAIN'],
    ['drained and down', { operator: 'drain', health: 'down', decision: down }, 'DOWN'],
    ['halted', { operator: 'halt', decision: { disposition: 'remove', weight: 0, isHealthDown: false } }, 'MAINT'],
    ['halted and down', { operator: 'halt', health: 'down', decision: { disposition: 'remove', weight: 0, isHealthDown: true } }, 'MAINT'],
    ['its agent says drain', { decision: quiet, check: agent('drain') }, 'DRAIN'],
    ['its agent says maint', { decision: down, check: agent('maint') }, 'MAINT'],
    ['up, weighted out to 0', { decision: quiet }, 'NOLB'],
  ];
  for (const [name, over, want] of cases) test(name, () => assert.equal(serverStatus(server('s', over)), want));
});

describe('counters stay monotonic', () => {
  // [raw read, epoch] → exported
  const cases: { name: string; reads: [number, string][]; want: number[] }[] = [
    {
      name: 'growing counts pass through',
      reads: [
        [0, 'a'],
        [5, 'a'],
        [9, 'a'],
      ],
      want: [0, 5, 9],
    },
    {
      name: 'a new engine process counts from 0: added on top',
      reads: [
        [10, 'a'],
        [3, 'b'],
        [8, 'b'],
      ],
      want: [10, 13, 18],
    },
    {
      name: 'a new engine that already counted past the old value',
      reads: [
        [10, 'a'],
        [12, 'b'],
      ],
      want: [10, 22],
    },
    {
      name: 'one low read (a worker missed it) is held, then the count goes on',
      reads: [
        [10, 'a'],
        [6, 'a'],
        [12, 'a'],
      ],
      want: [10, 10, 12],
    },
    {
      name: 'two low reads (counts lost): held, then it grows from there',
      reads: [
        [10, 'a'],
        [4, 'a'],
        [5, 'a'],
        [9, 'a'],
      ],
      want: [10, 10, 10, 14],
    },
    {
      name: 'a halted layer 4 server back from 0',
      reads: [
        [100, ''],
        [0, ''],
        [0, ''],
        [7, ''],
      ],
      want: [100, 100, 100, 107],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const g = new CounterGuard();
      const got = c.reads.map(([raw, epoch]) => g.value('k', 'o', raw, epoch));
      assert.deepEqual(got, c.want);
      for (let i = 1; i < got.length; i++) assert.ok(got[i] >= got[i - 1], 'never down');
    });
  }

  test('through scrapes: an engine restart keeps layer 7 counters going, IPVS counts are not added twice', async () => {
    let status = engineStatus({ app1: { requests: 16 } });
    const c = createMetricsCollector({
      status: async () => status,
      healthTransitions: async () => ({ engineStartedAt: status.startedAt, transitions: [] }),
      config: async () => config(),
      now: () => T0,
    });
    const read = async () => parse(await c.scrape());
    const a1 = { service: 'symphony-web', server: 'app-1' };
    const t1 = { service: 'symphony-tcp', server: 'tcp-1' };
    assert.deepEqual((await read()).value('fulcrum_server_http_requests_total', a1), [16]);
    status = engineStatus({ startedAt: new Date(T0).toISOString(), app1: { requests: 4 } });
    const after = await read();
    assert.deepEqual(after.value('fulcrum_server_http_requests_total', a1), [20], 'new engine: 16 + its 4');
    assert.deepEqual(after.value('fulcrum_server_packets_in_total', t1), [7], 'the kernel kept its counts: not added again');
  });

  test('a server that is gone is forgotten: when it is configured again it starts afresh', async () => {
    const g = new CounterGuard();
    const t = new TransitionCounter();
    const scrape = (st: EngineStatus) => render(buildSamples({ status: st, config: config(), now: T0 }, g, t)).then(parse);
    await scrape(engineStatus({ app1: { requests: 16 } }));
    const without = engineStatus();
    without.services[0].realServers = without.services[0].realServers.filter((r) => r.name !== 'app-1');
    await scrape(without);
    const back = await scrape(engineStatus({ app1: { requests: 2 } }));
    assert.deepEqual(back.value('fulcrum_server_http_requests_total', { service: 'symphony-web', server: 'app-1' }), [2]);
  });
});

describe('health transitions', () => {
  const tr = (seq: number, realServer: string, health: 'up' | 'down'): HealthTransitionEvent => ({
    type: 'health',
    seq,
    at: new Date(T0 + seq).toISOString(),
    virtualService: 'symphony-web',
    realServer,
    previous: health === 'up' ? 'down' : 'up',
    health,
    code: health === 'up' ? 'L7OK' : 'L4CON',
    message: '',
    durationMs: 1,
    check: 'http',
    target: '127.0.0.1:8082',
  });

  test('counted once per transition across scrapes, by server and new health; a new engine counts on', async () => {
    let engineStartedAt = '2026-12-01T08:00:00.000Z';
    let log: HealthTransitionEvent[] = [];
    const asked: number[] = [];
    const status = () => ({ ...engineStatus(), startedAt: engineStartedAt });
    const c = createMetricsCollector({
      status: async () => status(),
      healthTransitions: async (since): Promise<HealthTransitionsResponse> => {
        asked.push(since);
        return { engineStartedAt, transitions: log.filter((t) => t.seq > since) };
      },
      config: async () => config(),
      now: () => T0,
    });
    const count = async (server: string, to: string) =>
      parse(await c.scrape()).value('fulcrum_health_transitions_total', { service: 'symphony-web', server, to });
    log = [tr(1, 'app-2', 'down'), tr(2, 'app-2', 'up')];
    assert.deepEqual(await count('app-2', 'down'), [1]);
    log.push(tr(3, 'app-2', 'down'));
    assert.deepEqual(await count('app-2', 'down'), [2]);
    assert.deepEqual(await count('app-2', 'up'), [1], 'not counted again');
    assert.deepEqual(asked, [0, 2, 3], 'asks from the last seq seen');
    engineStartedAt = '2026-12-01T08:30:00.000Z';
    log = [tr(1, 'app-2', 'down')];
    assert.deepEqual(await count('app-2', 'down'), [3], 'seq 1 of a new engine is a new transition');
  });

  test('an engine that restarts between status and the transitions read is asked again from 0', async () => {
    const t = new TransitionCounter();
    await t.update(async () => ({ engineStartedAt: 'e1', transitions: [tr(1, 'app-1', 'down'), tr(2, 'app-1', 'up'), tr(3, 'app-1', 'down')] }), 'e1');
    const asked: number[] = [];
    await t.update(async (since) => {
      asked.push(since);
      return {
        engineStartedAt: 'e2',
        transitions: [tr(1, 'app-1', 'up'), tr(2, 'app-1', 'down'), tr(3, 'app-1', 'up'), tr(4, 'app-1', 'down')].filter((x) => x.seq > since),
      };
    }, 'e1');
    assert.deepEqual(asked, [3, 0]);
    const byTo = Object.fromEntries([...t.counts.values()].map((c) => [c.to, c.n]));
    assert.deepEqual(byTo, { down: 4, up: 3 });
  });
});

describe('the README is the contract', () => {
  test('its Metrics table lists every metric with its type and labels, and nothing else', () => {
    const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    // Cells padded to the column's width (the formatter aligns the table).
    const rows = [...readme.matchAll(/^\| `(fulcrum_[a-z0-9_]+)` +\| (gauge|counter) +\| ([^|]*)\|/gm)].map((m) => ({
      name: m[1],
      type: m[2],
      labels: [...m[3].matchAll(/`([a-z_]+)`/g)].map((l) => l[1]).sort(),
    }));
    assert.deepEqual(
      rows,
      METRIC_DEFS.map((d) => ({ name: d.name, type: d.type, labels: [...d.labels].sort() })),
    );
  });
});
