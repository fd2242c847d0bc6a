/** Changes in words (words.ts, diff.ts, audit-words.ts): one case per kind of field the schema has. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema, type Config } from '../../engine/config/index.ts';
import { diffConfigs } from './diff.ts';
import { auditWords } from './audit-words.ts';

const base = (): Config =>
  ConfigSchema.parse({
    virtualServices: [
      {
        name: 'symphony-web',
        layer: 7,
        mode: 'http',
        address: '192.168.10.50',
        ports: [443],
        persistence: { type: 'http-cookie' },
        layer7: { requestHeaders: [{ action: 'set', name: 'X-Site', value: 'north' }], tls: { certificate: 'web' } },
        realServers: [
          { name: 'sym-app-1', address: '192.168.10.61', port: 8080, weight: 100 },
          { name: 'sym-app-2', address: '192.168.10.62', port: 8080 },
        ],
      },
    ],
    certificates: [{ name: 'web', certificatePem: '-----BEGIN CERTIFICATE-----\nAAAA', privateKeyPem: '-----BEGIN PRIVATE KEY-----\nBBBB' }],
    floatingIps: [{ address: '192.168.10.40', interface: 'eth0' }],
  });

function texts(edit: (c: Config) => void): string[] {
  const after = base();
  edit(after);
  return diffConfigs(base(), after).flatMap((c) => [c.headline, ...c.fields.map((f) => f.text)]);
}

const vs = (c: Config) => c.virtualServices[0];

const cases: [string, (c: Config) => void, string[]][] = [
  [
    'a number',
    (c) => {
      vs(c).realServers[0].weight = 50;
    },
    ['Real server sym-app-1 in symphony-web changed', 'weight of sym-app-1 in symphony-web: 100 → 50'],
  ],
  [
    'a string',
    (c) => {
      vs(c).address = '192.168.10.51';
    },
    ['Virtual service symphony-web changed', 'address of symphony-web: 192.168.10.50 → 192.168.10.51'],
  ],
  [
    'a boolean',
    (c) => {
      vs(c).realServers[1].isBackup = true;
    },
    ['Real server sym-app-2 in symphony-web changed', 'backup server of sym-app-2 in symphony-web: off → on'],
  ],
  [
    'a choice',
    (c) => {
      vs(c).scheduler = 'rr';
    },
    ['Virtual service symphony-web changed', 'scheduler of symphony-web: wlc → rr'],
  ],
  [
    'a list of values',
    (c) => {
      vs(c).ports = [443, 8443];
    },
    ['Virtual service symphony-web changed', 'ports of symphony-web: 443 → 443, 8443'],
  ],
  [
    'a duration in ms',
    (c) => {
      vs(c).healthCheck.intervalMs = 2000;
    },
    ['Virtual service symphony-web changed', 'health check interval of symphony-web: 5 s → 2 s'],
  ],
  [
    'a duration in seconds, nested',
    (c) => {
      (vs(c).persistence as { maxIdleSeconds?: number }).maxIdleSeconds = 900;
    },
    ['Virtual service symphony-web changed', 'persistence max idle of symphony-web set to 900 s'],
  ],
  [
    'an optional field set',
    (c) => {
      vs(c).description = 'Symphony ED';
    },
    ['Virtual service symphony-web changed', 'description of symphony-web set to Symphony ED'],
  ],
  [
    'an optional field cleared',
    (c) => {
      delete vs(c).layer7!.tls;
    },
    [
      'Virtual service symphony-web changed',
      'TLS of symphony-web cleared (was certificate web, SNI certificates (none), min version TLSv1.2, cipher profile intermediate)',
    ],
  ],
  [
    'an item of a list of objects',
    (c) => {
      vs(c).layer7!.requestHeaders[0].value = 'south';
    },
    ['Virtual service symphony-web changed', 'request header rule 1 value of symphony-web: north → south'],
  ],
  [
    'an item added to a list of objects',
    (c) => {
      vs(c).layer7!.requestHeaders.push({ action: 'delete', name: 'Server' });
    },
    ['Virtual service symphony-web changed', 'request header rule 2 of symphony-web set to action delete, name Server'],
  ],
  [
    'an object added',
    (c) => {
      vs(c).realServers.push({ ...vs(c).realServers[0], name: 'sym-app-3', address: '192.168.10.63' });
    },
    [
      'Real server sym-app-3 added to symphony-web',
      'address of sym-app-3 in symphony-web set to 192.168.10.63',
      'backup server of sym-app-3 in symphony-web set to off',
      'maximum connections of sym-app-3 in symphony-web set to no limit',
      'minimum connections of sym-app-3 in symphony-web set to 0',
      'name of sym-app-3 in symphony-web set to sym-app-3',
      'port of sym-app-3 in symphony-web set to 8080',
      'weight of sym-app-3 in symphony-web set to 100',
    ],
  ],
  [
    'an object removed',
    (c) => {
      vs(c).realServers.pop();
    },
    [
      'Real server sym-app-2 removed from symphony-web',
      'address of sym-app-2 in symphony-web cleared (was 192.168.10.62)',
      'backup server of sym-app-2 in symphony-web cleared (was off)',
      'maximum connections of sym-app-2 in symphony-web cleared (was no limit)',
      'minimum connections of sym-app-2 in symphony-web cleared (was 0)',
      'name of sym-app-2 in symphony-web cleared (was sym-app-2)',
      'port of sym-app-2 in symphony-web cleared (was 8080)',
      'weight of sym-app-2 in symphony-web cleared (was 100)',
    ],
  ],
  [
    'a connection limit: 0 is no limit, never a limit of 0',
    (c) => {
      vs(c).realServers[0].maxConnections = 200;
    },
    ['Real server sym-app-1 in symphony-web changed', 'maximum connections of sym-app-1 in symphony-web: no limit → 200'],
  ],
  [
    'a certificate replaced (its key never shown)',
    (c) => {
      c.certificates[0].certificatePem = '-----BEGIN CERTIFICATE-----\nCCCC';
    },
    ['Certificate web changed'],
  ],
  [
    'a floating IP',
    (c) => {
      c.floatingIps[0].interface = 'eth1';
    },
    ['Floating IP 192.168.10.40 changed', 'interface of 192.168.10.40: eth0 → eth1'],
  ],
];

for (const [kind, edit, want] of cases) {
  test(`diff in words: ${kind}`, () => {
    const got = texts(edit);
    if (kind.startsWith('a certificate')) {
      assert.equal(got[0], want[0]);
      assert.match(got[1], /^certificate \(SHA-256\) of web: [0-9a-f]{64} → [0-9a-f]{64}$/);
      assert.ok(!got.join(' ').includes('BBBB'), 'no private key in the words');
      return;
    }
    assert.deepEqual(got, want);
  });
}

test('diff in words: the sh/mh scheduler flags say which flag, by name', () => {
  const l4 = (fallback: boolean) =>
    ConfigSchema.parse({
      virtualServices: [
        {
          name: 'dns',
          layer: 4,
          mode: 'nat',
          protocol: 'udp',
          address: '192.168.10.53',
          ports: [53],
          scheduler: 'sh',
          layer4: { schedulerFallback: fallback },
        },
      ],
    });
  assert.deepEqual(
    diffConfigs(l4(false), l4(true)).flatMap((c) => [c.headline, ...c.fields.map((f) => f.text)]),
    ['Virtual service dns changed', 'scheduler fallback (sh/mh) of dns: off → on'],
  );
});

test('no change, no words', () => {
  assert.deepEqual(
    texts(() => {}),
    [],
  );
});

test('audit: a drain names the server and the service', () => {
  const w = auditWords({
    action: 'real-server.state',
    objectType: 'real-server',
    objectId: 'ckx1',
    outcome: 'success',
    before: { virtualService: 'symphony-web', realServer: 'sym-app-1', state: 'online' },
    after: { virtualService: 'symphony-web', realServer: 'sym-app-1', state: 'drain' },
  });
  assert.deepEqual(w, { objectName: 'sym-app-1 in symphony-web', summary: 'Drained sym-app-1 in symphony-web (was online)', changes: [] });
});

test('audit: an update reads field by field, by name', () => {
  const w = auditWords({
    action: 'real-server.update',
    objectType: 'real-server',
    objectId: 'ckx1',
    outcome: 'success',
    before: { virtualService: 'symphony-web', name: 'sym-app-1', address: '192.168.10.61', weight: 100 },
    after: { virtualService: 'symphony-web', name: 'sym-app-1', address: '192.168.10.61', weight: 50 },
  });
  assert.deepEqual(w, {
    objectName: 'sym-app-1 in symphony-web',
    summary: 'Changed real server sym-app-1 in symphony-web',
    changes: ['weight of sym-app-1 in symphony-web: 100 → 50'],
  });
});

test('audit: a create, a refusal and an apply', () => {
  assert.equal(
    auditWords({ action: 'virtual-service.create', objectType: 'virtual-service', objectId: 'ckx2', outcome: 'success', before: null, after: { name: 'pacs' } })
      .summary,
    'Created virtual service pacs',
  );
  assert.equal(
    auditWords({ action: 'virtual-service.create', objectType: 'virtual-service', objectId: null, outcome: 'invalid', before: null, after: { details: {} } })
      .summary,
    'Created virtual service (invalid)',
  );
  assert.equal(
    auditWords({ action: 'config.apply', objectType: 'config-version', objectId: '7', outcome: 'success', before: null, after: { version: 7 } }).summary,
    'Applied version 7',
  );
});
