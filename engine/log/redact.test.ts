/** The one redaction list: what the console's log and the engine's logs hide, and what they keep. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactFields, redactText, REDACTED } from './redact.ts';

test('values under listed keys are replaced at any depth ("-" and "_" ignored); others are kept', () => {
  const out = redactFields({
    password: 'p',
    newPassphrase: 'q',
    apiKey: 'k',
    'x-api-key': 'k',
    setupToken: 't',
    privateKey: 'pem',
    private_key: 'pem',
    client: '10.0.0.1:5000',
    headers: { cookie: 'fulcrum_session=abc', Authorization: 'Bearer x', host: 'ed.example' },
    req: { headers: { 'set-cookie': ['fulcrum_session=abc'], accept: '*/*' } },
    list: [{ token: 't', name: 'a' }],
    at: new Date(0),
  });
  assert.deepEqual(out, {
    password: REDACTED,
    newPassphrase: REDACTED,
    apiKey: REDACTED,
    'x-api-key': REDACTED,
    setupToken: REDACTED,
    privateKey: REDACTED,
    private_key: REDACTED,
    client: '10.0.0.1:5000',
    headers: { cookie: REDACTED, Authorization: REDACTED, host: 'ed.example' },
    req: { headers: { 'set-cookie': REDACTED, accept: '*/*' } },
    list: [{ token: REDACTED, name: 'a' }],
    at: new Date(0),
  });
});

test('an Error is written by its type, message and stack (its own properties are not enumerable), cleaned too', () => {
  const e = Object.assign(new Error('login as alice with Basic YWxpY2U6cGFzcw=='), { code: 'AUTH_BAD' });
  const out = redactFields({ error: e }).error as unknown as Record<string, string>;
  assert.deepEqual([out.type, out.message, out.code], ['Error', `login as alice with Basic ${REDACTED}`, 'AUTH_BAD']);
  assert.match(out.stack, /^Error: login as alice with Basic \[redacted\]\n/);
});

test('strings lose PEM private keys and Authorization credentials whatever their key; prose is kept', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----';
  const ec = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----';
  const cases: [string, string][] = [
    [`key: ${pem} (bad)`, `key: ${REDACTED} (bad)`],
    [ec, REDACTED],
    ['-----BEGIN RSA PRIVATE KEY-----\nMIIEcut off mid-key', REDACTED],
    ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'],
    ['Authorization: Bearer eyJhbGciOi.J9.sig', `Authorization: Bearer ${REDACTED}`],
    ['authorization: basic YWxpY2U6cGFzcw==', `authorization: basic ${REDACTED}`],
    ['Basic authentication failed; bearer tokens are refused', 'Basic authentication failed; bearer tokens are refused'],
    ['nothing here', 'nothing here'],
  ];
  for (const [input, want] of cases) assert.equal(redactText(input), want, input);
  assert.deepEqual(redactFields({ detail: pem, list: [pem] }), { detail: REDACTED, list: [REDACTED] });
});

test('a cycle or a very deep value is cut, not walked forever', () => {
  const a: Record<string, unknown> = { name: 'a' };
  a.self = a;
  assert.deepEqual(redactFields({ a }), { a: { name: 'a', self: '[not walked]' } });
  let deep: Record<string, unknown> = { password: 'p' };
  for (let i = 0; i < 20; i++) deep = { deep };
  assert.ok(!JSON.stringify(redactFields(deep)).includes('"p"'));
});
