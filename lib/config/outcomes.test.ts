/** Apply outcomes in words (outcomes.ts): every engine code has a sentence, and none of them reads like an errno. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINE_ERRORS, EngineError, type EngineErrorCode } from '../../engine/errors.ts';
import { ERRNO_SENTENCES, OUTCOME_SENTENCES, outcomeSentence, resultAdvice, versionReason } from './outcomes.ts';

const ERRNO = /\bE[A-Z]{4,}\b/;

test('every engine outcome code has a sentence, and the table names no code the engine lacks', () => {
  const codes = Object.keys(ENGINE_ERRORS) as EngineErrorCode[];
  const missing = codes.filter((c) => typeof OUTCOME_SENTENCES[c] !== 'function');
  assert.deepEqual(missing, [], `codes without a sentence in lib/config/outcomes.ts: ${missing.join(', ')}`);
  assert.deepEqual(
    Object.keys(OUTCOME_SENTENCES).filter((c) => !codes.includes(c as EngineErrorCode)),
    [],
  );
});

test('each sentence says what to do, in words, whatever errno the engine named', () => {
  const params = {
    summary: 'virtualServices.0.ports: Give at least one port.',
    endpoint: '192.168.10.51:443',
    reason: 'EADDRNOTAVAIL',
    errno: 'EINVAL',
    operation: 'adding service 192.168.10.51:443',
    version: 3,
    previous: 2,
    running: 2,
    socket: '/x',
    scheduler: 'lblcr',
    what: 'Service',
    service: 'web',
    count: 2000,
    max: 1000,
    name: 'web',
    difference: 'weight',
    state: 'master',
    found: 'x',
    problems: 'l7 down',
    nodes: 'a, b',
    path: '/x y',
    delay: 1,
    server: 's',
    at: 'now',
    instead: 'another address or port',
  };
  for (const code of Object.keys(ENGINE_ERRORS) as EngineErrorCode[]) {
    const message = new EngineError(code, params).message;
    const s = outcomeSentence(code, message, 'web');
    assert.ok(s.length > 20 && /[.!]$/.test(s), `${code}: "${s}"`);
    if (code !== 'CFG_INVALID') assert.doesNotMatch(s, ERRNO, `${code} names an errno: "${s}"`);
    assert.doesNotMatch(s, /\{\w+\}/, `${code} has an unfilled placeholder: "${s}"`);
  }
  for (const [errno, sentence] of Object.entries(ERRNO_SENTENCES)) assert.doesNotMatch(sentence({ message: '', errno }), ERRNO, errno);
});

test('a listener on an address the appliance lacks: add a floating IP', () => {
  const message = new EngineError('PROXY_LISTEN_FAILED', { endpoint: '192.168.10.51:443', reason: 'EADDRNOTAVAIL' }).message;
  assert.equal(
    resultAdvice({ name: 'web', status: 'failed', code: 'PROXY_LISTEN_FAILED', message }),
    '192.168.10.51 is not an address of this appliance: add it as a floating IP or choose another.',
  );
  const busy = new EngineError('PROXY_LISTEN_FAILED', { endpoint: '192.168.10.51:443', reason: 'EADDRINUSE' }).message;
  assert.equal(
    resultAdvice({ name: 'web', status: 'failed', code: 'PROXY_LISTEN_FAILED', message: busy }),
    'Another program already listens on 192.168.10.51:443: stop it, or choose another port or address.',
  );
});

test('an IPVS service held by another program: the advice speaks of the mark for a firewall-mark service', () => {
  const mark = new EngineError('IPVS_EXISTS', { what: 'An IPVS firewall-mark service for mark 7', instead: 'another firewall mark' }).message;
  assert.equal(
    resultAdvice({ name: 'm', status: 'failed', code: 'IPVS_EXISTS', message: mark }),
    'Another program made an IPVS service for this firewall mark: remove it there (ipvsadm -D -f MARK), or choose another mark.',
  );
  const vip = new EngineError('IPVS_EXISTS', { what: 'IPVS service TCP 192.0.2.1:80', instead: 'another address or port' }).message;
  assert.match(resultAdvice({ name: 'w', status: 'failed', code: 'IPVS_EXISTS', message: vip })!, /choose another address or port\.$/);
});

test('running and removed services need nothing; not programmed says why', () => {
  assert.equal(resultAdvice({ name: 'a', status: 'programmed', message: 'ok' }), null);
  assert.equal(resultAdvice({ name: 'a', status: 'removed', message: 'removed' }), null);
  assert.match(resultAdvice({ name: 'a', status: 'not-programmed', message: 'IPVS is not available' })!, /no IPVS/);
});

test('a failed version keeps its reason: the sentence of its code and each failed service', () => {
  const stored = {
    ok: false,
    error: {
      code: 'ENGINE_APPLY_FAILED',
      message: 'The engine could not apply version 3; version 2 is still running. web: Cannot listen on 192.168.10.51:443: EADDRNOTAVAIL.',
    },
    results: [
      { name: 'web', layer: 7, status: 'failed', code: 'PROXY_LISTEN_FAILED', message: 'Cannot listen on 192.168.10.51:443: EADDRNOTAVAIL.' },
      { name: 'pacs', layer: 7, status: 'programmed', message: 'listening' },
    ],
  };
  const r = versionReason(stored)!;
  assert.match(r.reason, /^Nothing of this version runs/);
  assert.deepEqual(r.services, [{ name: 'web', advice: '192.168.10.51 is not an address of this appliance: add it as a floating IP or choose another.' }]);
  assert.equal(versionReason({ ok: true, results: [{ name: 'pacs', status: 'programmed', message: '' }] }), null);
});
