/** exchange-persistence.ts in-process: what a response teaches, and the next request finds, for each persistence type. */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { learnPersistence, lookupPersistence } from './exchange-persistence.ts';
import type { Routing } from './exchange-rules.ts';
import { parseRequestHead } from './http-codec.ts';
import { planServices } from './plan.ts';
import { ServiceRuntime, ServiceState } from './service.ts';
import { config, httpService } from './test-helpers.ts';

function runtime(persistence: object) {
  const vs = httpService('p', 1, [], {
    realServers: [
      { name: 'a', address: '127.0.0.1', port: 2 },
      { name: 'b', address: '127.0.0.1', port: 3 },
    ],
    persistence,
  } as never);
  const [plan] = planServices(config([vs]), new Map());
  return new ServiceRuntime(plan, new ServiceState('p'), Buffer.alloc(48), (_, s) => `k${s}9`);
}

const routing = (): Routing => ({ group: '', hashKey: '', isPersistent: false, sourceKeyValue: '', cookieFirstSeen: undefined, cookieLastSeen: undefined });
const request = (cookie?: string) => {
  const t = `GET / HTTP/1.1\r\nHost: x\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}\r\n`;
  return parseRequestHead(Buffer.from(t, 'latin1'), t.indexOf('\r\n\r\n'));
};

test('source-ip: the masked address learns its server and finds it again', () => {
  const rt = runtime({ type: 'source-ip', netmaskPrefix: 24 });
  const first = routing();
  lookupPersistence(rt, request(), '10.0.0.7', first);
  assert.equal(first.persistentName, undefined);
  assert.equal(first.sourceKeyValue, '10.0.0.0/24');
  learnPersistence(rt, [], false, rt.byName.get('b')!, first);
  const next = routing();
  lookupPersistence(rt, request(), '10.0.0.99', next);
  assert.equal(next.persistentName, 'b', 'a neighbour in the same /24');
});

test('http-cookie: the insert cookie names the server, is refreshed after a quarter of the idle limit, and expires', () => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  try {
    const rt = runtime({ type: 'http-cookie', cookieName: 'LB', maxIdleSeconds: 400, httpOnly: true });
    const out: string[] = [];
    learnPersistence(rt, out, true, rt.byName.get('a')!, routing());
    assert.equal(out[0], 'Set-Cookie');
    assert.match(out[1], /^LB=[^;]+; Path=\/; HttpOnly; Secure$/);
    const cookie = out[1].slice(0, out[1].indexOf(';'));

    mock.timers.tick(99_000);
    const r = routing();
    lookupPersistence(rt, request(cookie), '10.0.0.1', r);
    assert.equal(r.persistentName, 'a');
    r.isPersistent = true;
    const again: string[] = [];
    learnPersistence(rt, again, true, rt.byName.get('a')!, r);
    assert.deepEqual(again, [], 'not yet a quarter of the idle limit: no new cookie');
    mock.timers.tick(2_000);
    learnPersistence(rt, again, true, rt.byName.get('a')!, r);
    assert.equal(again[0], 'Set-Cookie', 'refreshed');

    mock.timers.tick(400_000);
    const late = routing();
    lookupPersistence(rt, request(cookie), '10.0.0.1', late);
    assert.equal(late.persistentName, undefined, 'idle too long');
  } finally {
    mock.timers.reset();
  }
});

test('app-cookie: the server’s own session cookie is learnt from its Set-Cookie and followed', () => {
  const rt = runtime({ type: 'app-cookie', cookieName: 'JSESSIONID' });
  learnPersistence(rt, ['Set-Cookie', 'JSESSIONID=s1; Path=/', 'set-cookie', 'other=x'], false, rt.byName.get('b')!, routing());
  const r = routing();
  lookupPersistence(rt, request('a=1; JSESSIONID=s1'), '10.0.0.1', r);
  assert.equal(r.persistentName, 'b');
  const unknown = routing();
  lookupPersistence(rt, request('JSESSIONID=s2'), '10.0.0.1', unknown);
  assert.equal(unknown.persistentName, undefined);
});
