/**
 * The health check group's form text → schema input, for every check kind, parsed by the one schema; and every
 * issue path the schema can give under healthCheck lands at a field of the group.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthCheckSchema, HEALTH_CHECK_TYPES } from '../engine/config/schema.ts';
import { DEFAULT_HEALTH_CHECK, healthCheckForm, healthFieldOf, toHealthCheck, type HealthCheckForm } from './health-check-fields.tsx';

const filled: Record<string, Partial<HealthCheckForm>> = {
  'send-expect': { send: 'PING\n', expect: '^PONG', isRegex: true },
  'dicom-echo': { calledAeTitle: 'SYMPHONY' },
  external: { command: '/usr/local/bin/check-symphony', args: '--quick\n\n--site=ed\n' },
  https: { verifyTls: true, serverName: 'symphony.example.nhs.uk', bodyMatch: 'regex', body: 'ok|ready' },
  http: { httpPath: '/health', expectStatus: '200, 204', bodyMatch: 'text', body: 'OK', httpHost: 'symphony.example.nhs.uk' },
};

for (const type of HEALTH_CHECK_TYPES) {
  test(`${type}: the form's defaults (and its own fields) parse, and read back to the same form`, () => {
    const form = { ...DEFAULT_HEALTH_CHECK, type, ...filled[type], hasAgent: true };
    const r = HealthCheckSchema.safeParse(toHealthCheck(form));
    assert.ok(r.success, JSON.stringify(!r.success && r.error.issues));
    const back = healthCheckForm(r.data);
    assert.deepEqual(
      toHealthCheck(back),
      toHealthCheck({ ...form, expectStatus: form.expectStatus.replace(/\s+/g, ''), args: form.args.split('\n').filter(Boolean).join('\n') }),
    );
  });
}

test('external arguments are one per line, blank lines dropped', () => {
  const hc = toHealthCheck({ ...DEFAULT_HEALTH_CHECK, type: 'external', command: '/bin/true', args: 'a b\r\n\nc' }) as { external: { args: string[] } };
  assert.deepEqual(hc.external.args, ['a b', 'c']);
});

test('schema issues land at their field; an unnamed healthCheck path at the kind; others are not ours', () => {
  const cases: [string, string | undefined][] = [
    ['healthCheck.timeoutMs', 'timeoutMs'],
    ['healthCheck.http.expectBodyRegex', 'body'],
    ['healthCheck.http.verifyTls', 'verifyTls'],
    ['healthCheck.sendExpect', 'expect'],
    ['healthCheck.sendExpect.expect', 'expect'],
    ['healthCheck.dicom', 'calledAeTitle'],
    ['healthCheck.dicom.callingAeTitle', 'callingAeTitle'],
    ['healthCheck.external.args.3', 'args'],
    ['healthCheck.agent.timeoutMs', 'agentTimeoutMs'],
    ['healthCheck.somethingNew', 'type'],
    ['healthCheck', 'type'],
    ['realServers.0.port', undefined],
    ['healthChecks', undefined],
  ];
  for (const [path, field] of cases) assert.equal(healthFieldOf(path), field, path);
  // The schema's own refusals, by path, each land at a field (cross-field rules run once the fields parse).
  const at = (form: Partial<HealthCheckForm>) => {
    const r = HealthCheckSchema.safeParse(toHealthCheck({ ...DEFAULT_HEALTH_CHECK, ...form }));
    assert.ok(!r.success);
    return r.error.issues.map((i) => healthFieldOf(['healthCheck', ...i.path.map(String)].join('.'))).sort();
  };
  assert.deepEqual(at({ type: 'send-expect', rise: '', intervalMs: '12.5' }), ['expect', 'intervalMs', 'rise']);
  assert.deepEqual(at({ timeoutMs: '9000', hasAgent: true, agentTimeoutMs: '9000' }), ['agentTimeoutMs', 'timeoutMs']);
  assert.deepEqual(at({ type: 'http', bodyMatch: 'regex', body: '(' }), ['body']);
});
