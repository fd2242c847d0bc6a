/**
 * The wizard's HTTP → HTTPS redirect names the service's own HTTPS port. With HTTPS on a port other than 443, a
 * redirect to 443 sends every client to nothing; this runs the wizard's HTTP service in a real proxy (in-process,
 * loopback only, health check none) and reads the Location it answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema, type Config } from '../../engine/config/index.ts';
import { createL7DataPlane } from '../../engine/l7/index.ts';
import { fetchOnce, freePort } from '../../engine/l7/test-helpers.ts';
import { checkRun } from './engine.ts';
import { templates } from './template.ts';
import type { Answers } from './answers.ts';

const symphony = templates().get('emis-symphony')!;
const empty: Config = ConfigSchema.parse({});

function answers(httpPort: number, httpsPort: number): Answers {
  return {
    mode: { modeId: 'l7-snat' },
    service: {
      name: 'symphony',
      address: '127.0.0.1',
      ports: [
        { port: httpPort, label: 'HTTP', isTls: false },
        { port: httpsPort, label: 'HTTPS', isTls: true },
      ],
    },
    servers: { realServers: [{ name: 'sym-app-1', address: '127.0.0.11', port: 8080, weight: null }] },
    persistence: { type: 'http-cookie', cookieName: 'SYMPHONYID', timeoutSeconds: null },
    health: { type: 'none', port: null, intervalMs: null, timeoutMs: null },
    tls: { source: 'self-signed', httpsRedirect: true, xForwardedFor: true },
  };
}

test('the redirect service sends clients to the HTTPS port the engineer gave, not to 443', () => {
  const r = checkRun(symphony, answers(8080, 8443), empty);
  assert.deepEqual(r.issues, []);
  const http = r.objects.find((o) => o.name === 'symphony-http')!;
  assert.deepEqual(http.layer7?.httpsRedirect, { status: 301, port: 8443 });
});

test('through the proxy: Location carries the HTTPS port (and leaves it out for 443)', async () => {
  const dp = createL7DataPlane({ dataDir: '/nonexistent-unused', workers: 0 });
  try {
    for (const httpsPort of [8443, 443]) {
      const httpPort = await freePort();
      const { objects } = checkRun(symphony, answers(httpPort, httpsPort), empty);
      const http = objects.find((o) => o.name === 'symphony-http')!;
      const results = await dp.apply({ config: ConfigSchema.parse({ virtualServices: [http] }), decisions: new Map() });
      assert.equal(results[0].status, 'programmed', results[0].message);
      const res = await fetchOnce(httpPort, 'GET', '/symphony/login?ward=ed', { Host: `symphony.trust.example:${httpPort}` });
      assert.equal(res.status, 301);
      assert.equal(
        res.headers.location,
        httpsPort === 443 ? 'https://symphony.trust.example/symphony/login?ward=ed' : `https://symphony.trust.example:${httpsPort}/symphony/login?ward=ed`,
      );
    }
  } finally {
    await dp.close();
  }
});
