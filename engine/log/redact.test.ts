/** The one redaction list: what the console's log and the engine's logs hide, and what they keep. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactFields, REDACTED } from './redact.ts';

test('values under listed keys are replaced, at the top level and one level down; others are kept', () => {
  const out = redactFields({
    password: 'p',
    newPassphrase: 'q',
    apiKey: 'k',
    setupToken: 't',
    privateKey: 'pem',
    client: '10.0.0.1:5000',
    headers: { cookie: 'fulcrum_session=abc', Authorization: 'Bearer x', host: 'ed.example' },
    error: new Error('kept as it is'),
    list: [{ token: 'not walked' }],
  });
  assert.deepEqual(
    { ...out, error: undefined },
    {
      password: REDACTED,
      newPassphrase: REDACTED,
      apiKey: REDACTED,
      setupToken: REDACTED,
      privateKey: REDACTED,
      client: '10.0.0.1:5000',
      headers: { cookie: REDACTED, Authorization: REDACTED, host: 'ed.example' },
      error: undefined,
      list: [{ token: 'not walked' }],
    },
  );
  assert.ok(out.error instanceof Error);
});
