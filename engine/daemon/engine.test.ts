/**
 * The daemon's core with data planes that record what they are told: apply, refusal, rollback to the last good
 * version, operator state through the one decision, and reconciliation after a restart. And the real socket API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Engine } from './engine.ts';
import { createEngineServer, listenOnSocket } from './server.ts';
import { createEngineClient } from '../client/index.ts';
import type { ApplyInput, DataPlane, ServiceResult } from '../dataplane.ts';
import type { EngineEvent } from '../api-types.ts';
import { result, type CheckResult } from '../health/status.ts';

// No check in this file may leave the machine: the services below name 10.0.x addresses.
process.env.FULCRUM_HEALTH_ALLOWED_NETWORKS = '127.0.0.0/8,::1/128';

const quiet = () => undefined;

/** A request past the typed client, to see the wire format. */
function rawPost(socketPath: string, urlPath: string, body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request(
      { socketPath, method: 'POST', path: urlPath, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** A layer 4 data plane that programs everything, except services whose name starts with "bad". */
function recordingPlane(): DataPlane & { calls: ApplyInput[] } {
  const calls: ApplyInput[] = [];
  return {
    name: 'l4',
    calls,
    capabilities: async () => ({ dataPlane: 'l4', isAvailable: true }),
    apply: async (input) => {
      calls.push(input);
      return input.config.virtualServices
        .filter((v) => v.layer === 4)
        .map(
          (v): ServiceResult =>
            v.name.startsWith('bad')
              ? { name: v.name, layer: 4, status: 'failed', message: 'the kernel refused it', code: 'IPVS_KERNEL' }
              : { name: v.name, layer: 4, status: 'programmed', message: 'ok' },
        );
    },
    counters: async () => new Map(),
    close: async () => undefined,
  };
}

const svc = (name: string, state = 'online') => ({
  name,
  layer: 4,
  mode: 'nat',
  address: '10.0.0.1',
  ports: [name.length + 80],
  healthCheck: { type: 'none' },
  realServers: [{ name: 'r1', address: '10.0.1.1', port: 8080, weight: 7, state }],
});
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-engine-'));

test('a failed apply restores the previous version and says which service failed', async () => {
  const plane = recordingPlane();
  const e = new Engine(tmp(), [plane], quiet);
  const ok = await e.apply(1, { virtualServices: [svc('good')] });
  assert.equal(ok.ok, true);
  const bad = await e.apply(2, { virtualServices: [svc('good'), svc('bad-one')] });
  assert.equal(bad.ok, false);
  assert.equal(bad.runningVersion, 1);
  assert.match(bad.error!.message, /bad-one: the kernel refused it/);
  assert.match(bad.error!.message, /version 1 is still running/);
  const last = plane.calls.at(-1)!;
  assert.deepEqual(
    last.config.virtualServices.map((v) => v.name),
    ['good'],
    'the data plane was given version 1 again',
  );
  assert.equal((await e.status()).running!.version, 1);
});

test('invalid configuration is refused with field paths before any data plane is touched', async () => {
  const plane = recordingPlane();
  const e = new Engine(tmp(), [plane], quiet);
  await assert.rejects(
    e.apply(1, { virtualServices: [{ ...svc('x'), mode: 'dr', realServers: [{ name: 'r', address: '10.0.1.1', port: 8080 }] }] }),
    (err: Error & { code: string; details: { fields: { path: string }[] } }) => {
      assert.equal(err.code, 'CFG_INVALID');
      assert.equal(err.details.fields[0].path, 'virtualServices.0.realServers.0.port');
      return true;
    },
  );
  assert.equal(plane.calls.length, 0);
});

test('operator state goes through the one decision: drain is weight 0, halt removes, online restores', async () => {
  const plane = recordingPlane();
  // The check's verdict is set by the test (no traffic): fall 1 and rise 1, run when the test says.
  let verdict: CheckResult = result('L4CON', { target: '10.0.1.1:8080', reason: 'connection refused' }, 1);
  let runs = 0;
  const checked = () =>
    new Promise<void>((resolve) => {
      const on = (ev: EngineEvent) => {
        if (ev.type !== 'health') return;
        e.off('event', on);
        resolve();
      };
      e.on('event', on);
    });
  const e = new Engine(tmp(), [plane], quiet, {
    health: { allowedNetworks: undefined, random: () => 0.5, checkers: { connect: async () => (runs++, verdict) } as never },
  });
  await e.apply(1, { virtualServices: [{ ...svc('web'), healthCheck: { type: 'connect', intervalMs: 3_600_000, rise: 1, fall: 1 } }] });
  assert.equal(runs, 0, 'the first check waits for its random offset');
  const decision = () => plane.calls.at(-1)!.decisions.get('web/r1');
  assert.deepEqual(decision(), { disposition: 'serve', weight: 7, isHealthDown: false });
  await e.setServerState('web', 'r1', 'drain');
  assert.deepEqual(decision(), { disposition: 'quiesce', weight: 0, isHealthDown: false });
  await e.setServerState('web', 'r1', 'halt');
  assert.equal(decision()!.disposition, 'remove');
  const down = checked();
  e.runChecksNow();
  await down;
  await e.setServerState('web', 'r1', 'online');
  assert.deepEqual(decision(), { disposition: 'quiesce', weight: 0, isHealthDown: true }, 'online but health-down stays out of rotation');
  verdict = result('L4OK', { target: '10.0.1.1:8080' }, 1);
  const up = checked();
  e.runChecksNow();
  await up;
  assert.deepEqual(decision(), { disposition: 'serve', weight: 7, isHealthDown: false });
  assert.equal(runs, 2);
  await assert.rejects(e.setServerState('web', 'nope', 'drain'), /not in the running configuration/);
});

test('a restarted engine reconciles to the recorded version, states included', async () => {
  const dir = tmp();
  const first = new Engine(dir, [recordingPlane()], quiet);
  await first.apply(4, { virtualServices: [svc('web')] });
  await first.setServerState('web', 'r1', 'drain');
  assert.equal(fs.statSync(path.join(dir, 'engine-running.json')).mode & 0o777, 0o600);
  const plane = recordingPlane();
  const second = new Engine(dir, [plane], quiet);
  await second.start();
  assert.equal(plane.calls.length, 1, 'one reconcile at start, no flush');
  assert.equal(plane.calls[0].decisions.get('web/r1')!.disposition, 'quiesce');
  assert.equal((await second.status()).running!.version, 4);
});

test('an engine killed after recording a version, before its outcome said so: the restarted engine says it runs', async () => {
  const dir = tmp();
  const first = new Engine(dir, [recordingPlane()], quiet);
  await first.apply(1, { virtualServices: [svc('web')] });
  await first.apply(2, { virtualServices: [svc('web'), svc('mail')] });
  // The kill: version 2 is in the record, its outcome still 'applying' (recordOutcome('applied') never ran); and
  // version 3 was under way, not recorded.
  const outcomes = path.join(dir, 'engine-applies.json');
  const left = (JSON.parse(fs.readFileSync(outcomes, 'utf8')) as { version: number; status: string }[]).map((o) =>
    o.version === 2 ? { ...o, status: 'applying' } : o,
  );
  fs.writeFileSync(outcomes, JSON.stringify([...left, { version: 3, hash: 'h3', status: 'applying', at: new Date().toISOString() }]));
  const second = new Engine(dir, [recordingPlane()], quiet);
  await second.start();
  assert.equal((await second.status()).running!.version, 2);
  assert.deepEqual(
    [1, 2, 3].map((v) => second.outcome(v)?.status),
    ['applied', 'applied', 'failed'],
  );
  assert.match(second.outcome(3)!.message!, /stopped while applying it/);
  // And it stays so across another restart.
  const third = new Engine(dir, [recordingPlane()], quiet);
  assert.equal(third.outcome(2)?.status, 'applied');
});

test('the socket API: owner-only socket, typed client, coded errors', async () => {
  const dir = tmp();
  const e = new Engine(dir, [recordingPlane()], quiet);
  const server = createEngineServer(e, quiet);
  const socket = path.join(dir, 'engine.sock');
  await listenOnSocket(server, socket);
  try {
    assert.equal(fs.statSync(socket).mode & 0o777, 0o600);
    const client = createEngineClient(socket);
    const events: string[] = [];
    // Counters arrive as 'stats' events on their own clock (the test below); here only the change events count.
    const sub = client.subscribe((ev) => ev.type !== 'stats' && events.push(ev.type));
    const r = await client.apply(1, 'h', { virtualServices: [svc('web')] });
    assert.equal(r.ok, true);
    const bad = await client.apply(2, 'h', { virtualServices: [svc('bad')] });
    assert.equal(bad.ok, false);
    assert.equal(bad.error?.code, 'ENGINE_APPLY_FAILED');
    assert.deepEqual([bad.results[0].name, bad.results[0].status, bad.runningVersion], ['bad', 'failed', 1]);
    // On the wire a refused apply is the error envelope every other refusal uses, with what was tried as details.
    const wire = await rawPost(socket, '/v1/apply', { version: 3, config: { virtualServices: [svc('bad')] } });
    assert.equal(wire.status, 502);
    assert.deepEqual(Object.keys(wire.body), ['error']);
    assert.equal(wire.body.error.code, 'ENGINE_APPLY_FAILED');
    assert.match(wire.body.error.message, /could not apply version 3; version 1 is still running/);
    assert.equal(wire.body.error.details.results[0].name, 'bad');
    await assert.rejects(
      client.validate({ virtualServices: [{ ...svc('web'), wieght: 3 }] }),
      (err: Error & { code: string }) => err.code === 'CFG_INVALID' && /Unknown field "virtualServices\.0\.wieght"/.test(err.message),
    );
    await assert.rejects(client.validate({ virtualServices: [{ name: 'x' }] }), (err: Error & { code: string }) => err.code === 'CFG_INVALID');
    await assert.rejects(client.setServerState('web', 'ghost', 'drain'), (err: Error & { code: string }) => err.code === 'ENGINE_NOT_FOUND');
    const st = await client.status();
    assert.equal(st.running!.version, 1);
    for (let i = 0; i < 50 && events.length < 3; i++) await new Promise((res) => setTimeout(res, 20));
    sub.stop();
    assert.deepEqual(events.slice(0, 3), ['hello', 'applied', 'apply-failed']);
    await assert.rejects(listenOnSocket(createEngineServer(e, quiet), socket), /already answering/);
  } finally {
    server.close();
    server.closeAllConnections();
  }
  const gone = createEngineClient(path.join(dir, 'nothing.sock'));
  await assert.rejects(gone.status(), (err: Error & { code: string }) => err.code === 'ENGINE_UNREACHABLE' && /npm run engine/.test(err.message));
});

test('a status of named services answers those only, and detail=health reads no counters', async () => {
  const dir = tmp();
  let reads = 0;
  const counter = { activeConnections: 1, totalConnections: 2, bytesIn: 3, bytesOut: 4 };
  const plane: DataPlane = {
    ...recordingPlane(),
    counters: async () => {
      reads++;
      return new Map(['a', 'bb', 'ccc'].map((n) => [n, { service: counter, servers: new Map([['r1', counter]]) }]));
    },
  };
  const e = new Engine(dir, [plane], quiet);
  const server = createEngineServer(e, quiet);
  const socket = path.join(dir, 'engine.sock');
  await listenOnSocket(server, socket);
  try {
    const client = createEngineClient(socket);
    assert.equal((await client.apply(1, 'h', { virtualServices: [svc('a'), svc('bb'), svc('ccc')] })).ok, true);
    const all = await client.status();
    assert.deepEqual(
      all.services.map((s) => s.name),
      ['a', 'bb', 'ccc'],
    );
    const named = await client.status({ services: ['ccc', 'a', 'ghost'] });
    assert.deepEqual(
      named.services,
      all.services.filter((s) => s.name !== 'bb'),
      'the same status of each named service, in the configured order; a name not running is left out',
    );
    assert.deepEqual(named.running, all.running);
    const none = await client.status({ services: [] });
    assert.deepEqual([none.services, none.running?.version], [[], 1], 'an empty list: no service, the summary still');

    const before = reads;
    const health = await client.status({ detail: 'health', services: ['bb'] });
    assert.equal(reads, before, "detail=health must not read the data planes' counters");
    assert.deepEqual(health.services, [
      {
        name: 'bb',
        layer: 4,
        status: 'programmed',
        message: 'ok',
        realServers: [{ name: 'r1', operator: 'online', health: 'unknown', decision: all.services[1].realServers[0].decision }],
      },
    ]);
    await assert.rejects(
      client.status({ detail: 'everything' as 'full' }),
      (err: Error & { code: string; status: number }) => err.code === 'ENGINE_BAD_REQUEST' && err.status === 400,
    );
  } finally {
    server.close();
    server.closeAllConnections();
    await e.close();
  }
});

test('counters reach the status and, every interval while someone listens, the event stream', async () => {
  const dir = tmp();
  let reads = 0;
  const web = {
    activeConnections: 3,
    totalConnections: 41,
    bytesIn: 5120,
    bytesOut: 90210,
    requests: 40,
    responses: { '1xx': 0, '2xx': 38, '3xx': 0, '4xx': 1, '5xx': 1, other: 0 },
    latencyMs: 2.5,
  };
  const plane: DataPlane = {
    ...recordingPlane(),
    counters: async () => {
      reads++;
      return new Map([['web', { service: web, servers: new Map([['r1', { ...web, requests: 40 }]]) }]]);
    },
  };
  const e = new Engine(dir, [plane], quiet, { statsIntervalMs: 50 });
  const server = createEngineServer(e, quiet);
  const socket = path.join(dir, 'engine.sock');
  await listenOnSocket(server, socket);
  try {
    const client = createEngineClient(socket);
    assert.equal((await client.apply(1, 'h', { virtualServices: [svc('web')] })).ok, true);
    const st = await client.status();
    assert.deepEqual(st.services[0].counters, web);
    assert.deepEqual(st.services[0].realServers[0].counters, web);

    const before = reads;
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(reads, before, 'nobody listens: the engine must not collect counters');

    const stats: EngineEvent[] = [];
    const sub = client.subscribe((ev) => ev.type === 'stats' && stats.push(ev));
    for (let i = 0; i < 250 && stats.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
    sub.stop();
    assert.ok(stats.length >= 2, `expected two stats events, got ${stats.length}`);
    const ev = stats[0] as Extract<EngineEvent, { type: 'stats' }>;
    assert.equal(ev.services.length, 1);
    assert.equal(ev.services[0].name, 'web');
    assert.deepEqual(ev.services[0].counters, web);
    assert.deepEqual(ev.services[0].realServers[0].counters, web);

    // The subscription is gone once the server sees the connection close; then collection stops.
    for (let i = 0; i < 250 && e.listenerCount('event') > 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(e.listenerCount('event'), 0);
    const after = reads;
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(reads, after, 'the last listener left: the engine must stop collecting counters');
  } finally {
    server.close();
    server.closeAllConnections();
    await e.close();
  }
});

test('apply is idempotent per version: the running version sent again changes nothing and answers its result', async () => {
  const plane = recordingPlane();
  const e = new Engine(tmp(), [plane], quiet);
  const first = await e.apply(1, { virtualServices: [svc('web')] });
  const again = await e.apply(1, { virtualServices: [svc('web')] });
  assert.equal(again.ok, true);
  assert.equal(again.isRepeat, true);
  assert.deepEqual(again.results, first.results);
  assert.equal(plane.calls.length, 1, 'the data plane was not called again');
  assert.equal(e.outcome(1)!.status, 'applied');
});

test('an apply whose deadline passed before its turn is refused unapplied, and its outcome is kept across a restart', async () => {
  const dir = tmp();
  const plane = recordingPlane();
  const e = new Engine(dir, [plane], quiet);
  await e.apply(1, { virtualServices: [svc('web')] });
  await assert.rejects(e.apply(2, { virtualServices: [svc('web'), svc('late')] }, { deadline: Date.now() - 1 }), (err: Error & { code: string }) => {
    assert.equal(err.code, 'ENGINE_APPLY_EXPIRED');
    assert.match(err.message, /Version 2 reached the engine after its deadline and was not applied; version 1 is still running/);
    return true;
  });
  assert.equal(plane.calls.length, 1);
  assert.equal((await e.status()).running!.version, 1);
  await assert.rejects(e.setServerState('web', 'r1', 'drain', { deadline: Date.now() - 1 }), /ENGINE_STATE_EXPIRED|after its deadline/);
  assert.equal(plane.calls.length, 1, 'an expired state change is not made either');
  const second = new Engine(dir, [recordingPlane()], quiet);
  assert.deepEqual([second.outcome(1)?.status, second.outcome(2)?.status, second.outcome(3)], ['applied', 'expired', undefined]);
});

test('an apply the engine cannot record is rolled back, not left running unrecorded', async () => {
  const dir = tmp();
  const plane = recordingPlane();
  const e = new Engine(dir, [plane], quiet);
  await e.apply(1, { virtualServices: [svc('web')] });
  // Neither the record's temporary file nor its journal can be written (directories in their place), as on a full or
  // read-only disk: the next write is a journal entry (record.ts), or a whole record.
  fs.mkdirSync(path.join(dir, 'engine-running.json.tmp'));
  fs.mkdirSync(path.join(dir, 'engine-running.journal'));
  await assert.rejects(e.apply(2, { virtualServices: [svc('web'), svc('more')] }), (err: Error & { code: string }) => err.code === 'ENGINE_RECORD_FAILED');
  assert.deepEqual(
    plane.calls.at(-1)!.config.virtualServices.map((v) => v.name),
    ['web'],
    'the data plane has version 1 again',
  );
  assert.equal((await e.status()).running!.version, 1);
  assert.equal(e.outcome(2)!.status, 'failed');
});

test('the record of what runs keeps private keys sealed, and a restarted engine opens them', async () => {
  const dir = tmp();
  const cert = {
    name: 'symphony',
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    privateKeyPem: '-----BEGIN PRIVATE KEY-----\nSECRETKEYBYTES\n-----END PRIVATE KEY-----\n',
  };
  const e = new Engine(dir, [recordingPlane()], quiet);
  assert.equal((await e.apply(1, { virtualServices: [svc('web')], certificates: [cert] })).ok, true);
  const record = fs.readFileSync(path.join(dir, 'engine-running.json'), 'utf8');
  assert.doesNotMatch(record, /SECRETKEYBYTES|BEGIN PRIVATE KEY/);
  assert.match(record, /fulcrum-sealed:v1:/);
  // A second certificate: the change goes to the record's journal (record.ts), sealed there too.
  const other = { ...cert, name: 'other', privateKeyPem: cert.privateKeyPem.replace('SECRETKEYBYTES', 'OTHERKEYBYTES') };
  assert.equal((await e.apply(2, { virtualServices: [svc('web')], certificates: [cert, other] })).ok, true);
  const journal = fs.readFileSync(path.join(dir, 'engine-running.journal'), 'utf8');
  assert.doesNotMatch(journal, /SECRETKEYBYTES|OTHERKEYBYTES|BEGIN PRIVATE KEY/);
  assert.match(journal, /fulcrum-sealed:v1:/);
  const plane = recordingPlane();
  await new Engine(dir, [plane], quiet).start();
  assert.deepEqual(
    plane.calls[0].config.certificates.map((c) => c.privateKeyPem),
    [cert.privateKeyPem, other.privateKeyPem],
  );
});

test('health transitions that arrive while an earlier batch waits for the data planes are each announced once', async () => {
  // A data plane that holds the first health change until the test lets it go.
  let release: () => void = () => undefined;
  let calls = 0;
  const plane: DataPlane = {
    ...recordingPlane(),
    apply: async (input) => {
      if (++calls === 2) await new Promise<void>((r) => (release = r)); // call 1 is the apply itself
      return input.config.virtualServices.map((v): ServiceResult => ({ name: v.name, layer: 4, status: 'programmed', message: 'ok' }));
    },
  };
  // r2's check answers only when the test says, so its result lands in a batch of its own.
  let answerR2: () => void = () => undefined;
  const r2Answered = new Promise<void>((r) => (answerR2 = r));
  const checker = async (t: { address: string }) => {
    if (t.address === '10.0.1.2') await r2Answered;
    return result('L4CON', { target: t.address, reason: 'refused' }, 1);
  };
  const e = new Engine(tmp(), [plane], quiet, { health: { allowedNetworks: undefined, random: () => 0.5, checkers: { connect: checker } as never } });
  const seen: string[] = [];
  e.on('event', (ev) => ev.type === 'health' && seen.push(`${ev.realServer} ${ev.health}`));
  const hc = { type: 'connect', intervalMs: 3_600_000, rise: 1, fall: 1 };
  await e.apply(1, {
    virtualServices: [
      { name: 'a', layer: 4, mode: 'nat', address: '10.0.0.1', ports: [81], healthCheck: hc, realServers: [{ name: 'r1', address: '10.0.1.1', port: 8080 }] },
      { name: 'b', layer: 4, mode: 'nat', address: '10.0.0.1', ports: [82], healthCheck: hc, realServers: [{ name: 'r2', address: '10.0.1.2', port: 8080 }] },
    ],
  });
  // Two results in two batches: r1's waits in the data plane while r2's is logged.
  e.runChecksNow();
  for (let i = 0; i < 200 && calls < 2; i++) await new Promise((r) => setTimeout(r, 5));
  answerR2();
  for (let i = 0; i < 200 && e.healthTransitions(0).length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  release();
  for (let i = 0; i < 200 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seen.sort(), ['r1 down', 'r2 down']);
  assert.deepEqual(
    e.healthTransitions(0).map((t) => t.seq),
    [1, 2],
  );
});

test('the request body is let go once validated: the data planes run without it alive', async () => {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  let isBodyAlive: boolean | undefined;
  let body: WeakRef<object> | undefined;
  const plane = recordingPlane();
  const apply = plane.apply;
  plane.apply = async (input) => {
    // A turn of the event loop first: a WeakRef keeps its target alive until the job that made it has ended.
    await new Promise((r) => setImmediate(r));
    gc();
    isBodyAlive = body?.deref() !== undefined;
    return apply(input);
  };
  const e = new Engine(tmp(), [plane], quiet);
  // Made in a function of its own, so that the test holds the body only through the WeakRef.
  const applyOnce = (version: number) => {
    const raw = JSON.parse(JSON.stringify({ virtualServices: [svc('web')] })) as object;
    body = new WeakRef(raw);
    return e.apply(version, raw, { isOwned: true });
  };
  assert.equal((await applyOnce(1)).ok, true);
  assert.equal(isBodyAlive, false);
});
