/**
 * Differential smuggling test: every case of smuggling-cases.ts goes through HAProxy 2.6 and through Fulcrum
 * (in-process) to raw real servers that record the bytes they get (smuggling-harness.ts). For every case:
 *
 *   - wherever HAProxy refuses, Fulcrum refuses too (a clear 4xx/501/505 for requests, 502 for responses, and an entry
 *     in the proxy's log with the reason); where Fulcrum refuses and HAProxy does not, the case says why (`stricter`);
 *   - the real server never receives a request it could frame differently from the proxy, and the client never
 *     receives a response it could (the strict reference framer lists no violation);
 *   - Fulcrum does what the case says, and for forwarded messages the other side gets what the case says.
 *
 * HAProxy is a Debian package this project's test machines have (ENVIRONMENT.md); without it the test fails.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createL7DataPlane, type L7DataPlane } from './index.ts';
import { config, freePort, httpService } from './test-helpers.ts';
import { converse, firstStatus, frame, RawServer, startHaproxy, type Conversation, type Framing } from './smuggling-harness.ts';
import { REQUEST_CASES, RESPONSE_CASES, type RequestCase, type ResponseCase } from './smuggling-cases.ts';
import { setProxyLog } from './proxy-log.ts';

/** 'cut': the server's response began to reach the client but did not end (responses only). */
type Seen = 'refuse' | 'forward' | 'cut' | 'hang';

interface Side {
  outcome: Seen;
  status: number | null;
  /** Requests: what the real server received. Responses: what the client received. */
  framed: Framing;
  conversation: Conversation;
}

interface Result {
  haproxy: Side;
  fulcrum: Side;
  /** Every connection Fulcrum opened to the real server was closed by the end (response cases). */
  isFulcrumServerClosed?: boolean;
}

const GET = 'GET / HTTP/1.1\r\nHost: a.example\r\n\r\n';
const DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-l7-smuggling-'));
const requestResults = new Map<string, Result>();
const responseResults = new Map<string, Result>();
const logs = new Map<string, string[]>();
let dp: L7DataPlane;
let haproxy: Awaited<ReturnType<typeof startHaproxy>>;
const servers: RawServer[] = [];

const parts = (send: string | string[]) => (Array.isArray(send) ? send : [send]);
const reqName = (c: RequestCase) => `q-${c.name}`;
const resName = (c: ResponseCase) => `s-${c.name}`;

function requestSide(conv: Conversation, server: RawServer): Side {
  const framed = server.received();
  const status = firstStatus(conv.bytes);
  // Forwarded: something complete (or ambiguous) reached the real server.
  const isForwarded = framed.messages.length > 0 || framed.violations.length > 0;
  const outcome: Seen = isForwarded ? 'forward' : (status !== null && status >= 400) || (status === null && conv.isClosed) ? 'refuse' : 'hang';
  return { outcome, status, framed, conversation: conv };
}

function responseSide(conv: Conversation, c: ResponseCase): Side {
  const requests = c.requests ?? [GET];
  const methods = requests.map((r) => r.slice(0, r.indexOf(' ')));
  const framed = frame(conv.bytes, 'response', { methods, isClosed: conv.isClosed });
  const status = firstStatus(conv.bytes);
  const answered = Number(/^HTTP\/1\.[01] (\d{3})/.exec(c.answer.replace(/^HTTP\/1\.1 1\d\d[\s\S]*?\r\n\r\n/, ''))?.[1] ?? 0);
  // Refused: a 5xx the server did not send, or nothing at all before the proxy closed.
  const isProxyAnswer = status === null || (status >= 500 && status !== answered);
  const isComplete = framed.messages.some((m) => m.status >= 200) || framed.violations.length > 0;
  const outcome: Seen = isProxyAnswer ? (status !== null || conv.isClosed ? 'refuse' : 'hang') : isComplete ? 'forward' : 'cut';
  return { outcome, status, framed, conversation: conv };
}

/** Runs `jobs` with at most `n` at a time. */
async function pool(jobs: (() => Promise<void>)[], n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) await jobs[next++]();
    }),
  );
}

before(async () => {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
  } catch {
    throw new Error('haproxy is not installed: apt-get install -y haproxy (the differential test needs HAProxy 2.6)');
  }
  setProxyLog((_level, msg, fields) => {
    const service = (fields as { service?: string } | undefined)?.service ?? '';
    (logs.get(service) ?? logs.set(service, []).get(service)!).push(msg);
  }, Infinity);
  type Pair = { name: string; h: RawServer; f: RawServer; hPort: number; fPort: number };
  const pairs: Pair[] = [];
  const add = async (name: string, answer?: string, close?: boolean) => {
    const [h, f] = await Promise.all([new RawServer(answer, close).start(), new RawServer(answer, close).start()]);
    servers.push(h, f);
    pairs.push({ name, h, f, hPort: 0, fPort: 0 });
  };
  for (const c of REQUEST_CASES) await add(reqName(c));
  for (const c of RESPONSE_CASES) await add(resName(c), c.answer, c.close);
  // Proxy ports once every real server listens, none twice (a port freePort saw free may come round again).
  const taken = new Set(servers.map((s) => s.port));
  const port = async () => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) return (taken.add(p), p);
    }
  };
  for (const p of pairs) [p.hPort, p.fPort] = [await port(), await port()];
  haproxy = await startHaproxy(pairs.map((p) => ({ name: p.name, port: p.hPort, serverPort: p.h.port })));
  dp = createL7DataPlane({ dataDir: DATA_DIR, workers: 0, closeGraceMs: 200 });
  const applied = await dp.apply({
    config: config(
      pairs.map((p) =>
        httpService(p.name, p.fPort, [], {
          realServers: [{ name: 'raw', address: '127.0.0.1', port: p.f.port }],
          layer7: { timeouts: { httpRequestMs: 2000, clientMs: 5000, serverMs: 5000 } },
        }),
      ),
    ),
    decisions: new Map(),
  });
  assert.ok(
    applied.every((r) => r.status === 'programmed'),
    JSON.stringify(applied.filter((r) => r.status !== 'programmed')),
  );
  const byName = new Map(pairs.map((p) => [p.name, p]));
  const jobs: (() => Promise<void>)[] = [];
  for (const c of REQUEST_CASES) {
    jobs.push(async () => {
      const p = byName.get(reqName(c))!;
      const [h, f] = await Promise.all([converse(p.hPort, parts(c.send)), converse(p.fPort, parts(c.send))]);
      requestResults.set(c.name, { haproxy: requestSide(h, p.h), fulcrum: requestSide(f, p.f) });
    });
  }
  for (const c of RESPONSE_CASES) {
    jobs.push(async () => {
      const p = byName.get(resName(c))!;
      const send = c.requests ?? [GET];
      const [h, f] = await Promise.all([converse(p.hPort, send), converse(p.fPort, send)]);
      responseResults.set(c.name, {
        haproxy: responseSide(h, c),
        fulcrum: responseSide(f, c),
        isFulcrumServerClosed: p.f.connections.every((x) => x.isClosed),
      });
    });
  }
  await pool(jobs, 12);
});

after(async () => {
  setProxyLog(null);
  await dp?.close();
  await haproxy?.stop();
  await Promise.all(servers.map((s) => s.close()));
  fs.rmSync(DATA_DIR, { recursive: true, force: true });
});

/** One line for the TAP diagnostics: outcome, status, and what the other side framed. */
function summarize(s: Side): string {
  const m = s.framed.messages;
  const seen = m.map((x) => `${x.startLine.slice(0, 40)} [${x.framing}${x.body ? ` ${JSON.stringify(x.body.slice(0, 20))}` : ''}]`).join(' + ');
  return `${s.outcome} ${s.status ?? '-'} (${m.length} framed${seen ? `: ${seen}` : ''}${s.framed.violations.length ? `; violation: ${s.framed.violations.join(', ')}` : ''})`;
}

const show = (b: Buffer) => JSON.stringify(b.toString('latin1').slice(0, 300));

/** The checks both tables share: HAProxy's refusals are Fulcrum's, divergences are declared, refusals are logged. */
function checkDifferential(kind: string, c: RequestCase | ResponseCase, r: Result, service: string): void {
  const { haproxy: h, fulcrum: f } = r;
  assert.notEqual(f.outcome, 'hang', `${kind} ${c.name}: Fulcrum neither answered nor closed; got ${show(f.conversation.bytes)}`);
  // A response HAProxy cut short was not delivered either: Fulcrum may refuse it or cut it, not deliver it.
  const isHeld = (s: Side) => s.outcome === 'refuse' || s.outcome === 'cut';
  if (isHeld(h))
    assert.ok(isHeld(f), `${kind} ${c.name}: HAProxy ${h.outcome}s (${h.status}), Fulcrum ${f.outcome}s; client got ${show(f.conversation.bytes)}`);
  if (f.outcome === 'refuse' && !isHeld(h)) {
    assert.ok(c.stricter, `${kind} ${c.name}: Fulcrum refuses where HAProxy ${h.outcome}s: the case must say why (stricter)`);
  }
  assert.equal(f.outcome, c.fulcrum, `${kind} ${c.name}: expected Fulcrum to ${c.fulcrum}; client got ${show(f.conversation.bytes)}`);
  if (f.outcome === 'refuse') {
    const entries = logs.get(service) ?? [];
    assert.ok(
      entries.length > 0 && entries.every((e) => /refused .* with \d{3}: \S/.test(e)),
      `${kind} ${c.name}: a refusal is logged with its reason; log: ${JSON.stringify(entries)}`,
    );
  }
}

for (const c of REQUEST_CASES) {
  test(`request ${c.name} (${c.rfc})`, (t) => {
    const r = requestResults.get(c.name)!;
    t.diagnostic(`haproxy ${summarize(r.haproxy)}; fulcrum ${summarize(r.fulcrum)}`);
    const f = r.fulcrum;
    assert.deepEqual(f.framed.violations, [], `request ${c.name}: the real server got a message it could frame differently`);
    checkDifferential('request', c, r, reqName(c));
    if (f.outcome === 'refuse') {
      assert.ok(
        f.status !== null && ((f.status >= 400 && f.status < 500) || f.status === 501 || f.status === 505),
        `request ${c.name}: refused with ${f.status}`,
      );
    } else {
      const want = c.server ?? {};
      const got = f.framed.messages;
      assert.equal(got.length, want.requests ?? 1, `request ${c.name}: requests the real server received`);
      const first = got[0];
      const host = first.fields.find(([k]) => k.toLowerCase() === 'host')?.[1];
      if (want.target !== undefined) assert.equal(first.target, want.target);
      if (want.host !== undefined) assert.equal(host, want.host);
      if (want.body !== undefined) assert.equal(first.body, want.body);
      if (want.framing !== undefined) assert.equal(first.framing, want.framing);
      if (c.isClosedAfter) assert.ok(f.conversation.isClosed, `request ${c.name}: Fulcrum closes the client connection after the answer`);
    }
  });
}

for (const c of RESPONSE_CASES) {
  test(`response ${c.name} (${c.rfc})`, (t) => {
    const r = responseResults.get(c.name)!;
    t.diagnostic(`haproxy ${summarize(r.haproxy)}; fulcrum ${summarize(r.fulcrum)}`);
    const f = r.fulcrum;
    assert.deepEqual(f.framed.violations, [], `response ${c.name}: the client got a response it could frame differently: ${show(f.conversation.bytes)}`);
    checkDifferential('response', c, r, resName(c));
    const requests = c.requests ?? [GET];
    const finals = f.framed.messages.filter((m) => m.status >= 200);
    assert.ok(finals.length <= requests.length, `response ${c.name}: more responses than requests: ${show(f.conversation.bytes)}`);
    if (f.outcome === 'refuse') assert.equal(f.status, 502, `response ${c.name}: refused with ${f.status}`);
    else {
      const want = c.client ?? {};
      if (requests[0].includes('HTTP/1.0'))
        assert.ok(
          f.framed.messages.every((m) => m.status >= 200),
          `response ${c.name}: an HTTP/1.0 client got a 1xx`,
        );
      assert.equal(finals.length, want.responses ?? 1, `response ${c.name}: responses the client received: ${show(f.conversation.bytes)}`);
      for (const m of finals) {
        if (want.status !== undefined) assert.equal(m.status, want.status);
        if (want.body !== undefined) assert.equal(m.body, want.body);
      }
      if (c.isServerClosedAfter) assert.ok(r.isFulcrumServerClosed, `response ${c.name}: Fulcrum closes a server connection whose framing it cannot trust`);
    }
  });
}

test('the table is large enough, and the aggregate', (t) => {
  assert.ok(REQUEST_CASES.length >= 40, `${REQUEST_CASES.length} request cases`);
  assert.ok(RESPONSE_CASES.length >= 15, `${RESPONSE_CASES.length} response cases`);
  t.diagnostic(haproxy.version);
  if (!/version 2\.6\./.test(haproxy.version)) t.diagnostic('warning: the cases were measured against HAProxy 2.6 (Debian 12)');
  const names = [...REQUEST_CASES, ...RESPONSE_CASES].map((c) => c.name);
  assert.equal(new Set(names).size, names.length, 'case names are unique');
  for (const [kind, results] of [
    ['requests', requestResults],
    ['responses', responseResults],
  ] as const) {
    const count = (pred: (r: Result) => boolean) => [...results.values()].filter(pred).length;
    const stricter = [...results]
      .filter(([, r]) => r.fulcrum.outcome === 'refuse' && r.haproxy.outcome !== 'refuse' && r.haproxy.outcome !== 'cut')
      .map(([n]) => n);
    t.diagnostic(
      `${kind}: ${results.size} cases; both refuse ${count((r) => r.haproxy.outcome === 'refuse' && r.fulcrum.outcome === 'refuse')}, ` +
        `both forward ${count((r) => r.haproxy.outcome !== 'refuse' && r.fulcrum.outcome === 'forward')}, Fulcrum stricter on ${stricter.length}: ${stricter.join(', ')}`,
    );
  }
});
