/**
 * The API over real HTTP, against a real SQLite file and the real engine daemon on its Unix socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { ADMIN, Client, setupAdmin, startHarness, type Harness } from '../testing/harness.ts';
import { selfSignedPem } from '../testing/self-signed.ts';

let h: Harness;
let admin: Client;

const service = (over: Record<string, unknown> = {}) => ({
  name: 'symphony-web',
  layer: 4,
  mode: 'dr',
  protocol: 'tcp',
  address: '192.168.10.50',
  ports: [80, 443],
  scheduler: 'wlc',
  persistence: { type: 'source-ip', timeoutSeconds: 3600 },
  realServers: [
    { name: 'sym-app-1', address: '192.168.10.61', weight: 100 },
    { name: 'sym-app-2', address: '192.168.10.62', weight: 100 },
  ],
  ...over,
});

/** Id of the newest audit event (reading the trail is not itself audited; exporting is). */
async function auditCount(): Promise<number> {
  const r = await admin.req('GET', '/audit?limit=1');
  return r.body.items[0]?.id ?? 0;
}

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

describe('first start', () => {
  test('no default password: setup needs the token from the data directory, and only once', async () => {
    const c = new Client(h.baseUrl);
    const s = await c.req('GET', '/setup');
    assert.equal(s.body.isRequired, true);
    const tokenFile = path.join(h.dataDir, 'setup-token');
    assert.equal(s.body.tokenPath, tokenFile);
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
    const wrong = await c.req('POST', '/setup', { token: 'guess', ...ADMIN });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.code, 'AUTH_SETUP_TOKEN');
    const short = await c.req('POST', '/setup', { token: 'x', username: 'admin', password: 'short' });
    assert.equal(short.status, 422);
    assert.deepEqual(
      short.body.error.details.fields.map((f: { path: string }) => f.path),
      ['password'],
    );
    const anon = await c.req('GET', '/virtual-services');
    assert.equal(anon.status, 401);
    assert.equal(anon.body.error.code, 'AUTH_REQUIRED');
    admin = await setupAdmin(h);
    assert.equal(fs.existsSync(tokenFile), false, 'the token is removed once used');
    const again = await c.req('POST', '/setup', { token: 'anything', ...ADMIN });
    assert.equal(again.status, 409);
  });

  test('the database is a real SQLite file in WAL mode, owner-only', () => {
    const db = path.join(h.dataDir, 'fulcrum.db');
    assert.equal(fs.statSync(db).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(db).subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
    assert.ok(fs.existsSync(`${db}-wal`), 'WAL file present');
  });
});

describe('sessions', () => {
  test('cookie is HttpOnly, SameSite=Strict; mutations need the CSRF token', async () => {
    const c = new Client(h.baseUrl);
    const r = await c.login(ADMIN.username, ADMIN.password);
    assert.equal(r.status, 200);
    const cookie = r.headers.get('set-cookie')!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const csrf = c.csrf;
    c.csrf = '';
    const before = await auditCount();
    const denied = await c.req('POST', '/virtual-services', service({ name: 'csrf-test' }));
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'AUTH_CSRF');
    assert.equal(await auditCount(), before + 1, 'the refusal is audited');
    c.csrf = csrf;
    const out = await c.req('DELETE', '/session');
    assert.equal(out.status, 204);
    assert.equal((await c.req('GET', '/session')).status, 401, 'the session is gone after logout');
  });

  test('failed logins are audited and throttled with Retry-After', async () => {
    const c = new Client(h.baseUrl);
    await admin.req('POST', '/users', { username: 'victim', password: 'a long enough password', role: 'viewer' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await c.login('victim', `Hunter2-secret-${i}`)).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    const locked = await c.login('victim', 'a long enough password');
    assert.equal(locked.status, 429, 'even the right password waits out the lock');
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    const audit = await admin.req('GET', '/audit?action=session.login&outcome=denied&limit=20');
    assert.ok(audit.body.items.filter((e: { actor: string }) => e.actor === 'victim').length >= 6);
    assert.ok(!JSON.stringify(audit.body).includes('Hunter2-secret'), 'passwords never reach the audit trail');
  });
});

describe('bad input gets a clear answer and loses nothing', () => {
  const cases: { name: string; body: unknown; contentType?: string; status: number; code: string; field?: string; message?: RegExp }[] = [
    { name: 'malformed JSON', body: '{"name": ', status: 400, code: 'API_MALFORMED_JSON', message: /not valid JSON: at line 1, column 10: the text ends/ },
    {
      name: 'malformed JSON, a line further',
      body: '{\n  "name": x\n}',
      status: 400,
      code: 'API_MALFORMED_JSON',
      message: /at line 2, column 11: unexpected token 'x'/,
    },
    { name: 'not JSON at all', body: 'name=x', contentType: 'application/x-www-form-urlencoded', status: 415, code: 'API_UNSUPPORTED_MEDIA' },
    { name: 'wrong type', body: service({ ports: 'eighty' }), status: 422, code: 'API_VALIDATION', field: 'ports' },
    {
      name: 'out of range weight',
      body: service({ realServers: [{ name: 'a', address: '10.0.0.1', weight: 70000 }] }),
      status: 422,
      code: 'API_VALIDATION',
      field: 'realServers.0.weight',
    },
    { name: 'unknown field', body: service({ colour: 'blue' }), status: 422, code: 'API_VALIDATION', field: 'colour' },
    {
      name: 'unknown nested field',
      body: service({ realServers: [{ name: 'a', address: '10.0.0.1', wieght: 5 }] }),
      status: 422,
      code: 'API_VALIDATION',
      field: 'realServers.0.wieght',
      message: /Unknown field "realServers\.0\.wieght"; remove it/,
    },
    { name: 'missing required field', body: { layer: 4, mode: 'dr', ports: [80] }, status: 422, code: 'API_VALIDATION', field: 'name' },
    {
      name: 'DR port translation',
      body: service({ realServers: [{ name: 'a', address: '10.0.0.1', port: 8080 }] }),
      status: 422,
      code: 'API_VALIDATION',
      field: 'realServers.0.port',
    },
    { name: 'oversized body', body: JSON.stringify({ ...service(), description: 'x'.repeat(2 * 1024 * 1024) }), status: 413, code: 'API_BODY_TOO_LARGE' },
    { name: 'an array instead of an object', body: [1, 2, 3], status: 422, code: 'API_VALIDATION' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const before = (await admin.req('GET', '/virtual-services')).body.items.length;
      const auditBefore = await auditCount();
      const r = await admin.req('POST', '/virtual-services', c.body, c.contentType ? { 'content-type': c.contentType } : {});
      assert.equal(r.status, c.status, r.text.slice(0, 300));
      assert.equal(r.body.error.code, c.code);
      assert.ok(r.body.error.message.length > 10, 'a sentence, not a bare code');
      if (c.message) assert.match(r.body.error.message, c.message);
      assert.ok(!/\bat \S+\.(ts|js):\d+/.test(r.text), 'no stack trace');
      if (c.field)
        assert.ok(
          r.body.error.details.fields.some((f: { path: string }) => f.path === c.field),
          `field ${c.field} named: ${r.text}`,
        );
      assert.equal((await admin.req('GET', '/virtual-services')).body.items.length, before, 'nothing written');
      assert.equal(await auditCount(), auditBefore + 1, 'the refusal is audited');
    });
  }

  test('unknown route and wrong method are 404 and 405, not 500', async () => {
    const a = await admin.req('GET', '/nothing-here');
    assert.equal(a.status, 404);
    const b = await admin.req('PATCH', '/virtual-services');
    assert.equal(b.status, 405);
    assert.match(b.headers.get('allow')!, /GET/);
  });
});

describe('staged changes, apply, versions, rollback', () => {
  let vsId = '';
  test('create stages a change; apply sends it to the engine, which says layer 4 is not programmed here', async () => {
    const created = await admin.req('POST', '/virtual-services', service());
    assert.equal(created.status, 201, created.text);
    vsId = created.body.id;
    assert.equal(created.headers.get('etag'), '"1"');
    const changes = await admin.req('GET', '/changes');
    assert.deepEqual(changes.body.changes.map((c: { kind: string; name: string }) => `${c.kind} ${c.name}`).sort(), [
      'added symphony-web',
      'added symphony-web/sym-app-1',
      'added symphony-web/sym-app-2',
    ]);
    const applied = await admin.req('POST', '/apply', { comment: 'first' });
    assert.equal(applied.status, 200, applied.text);
    assert.equal(applied.body.results.length, 1);
    const [res] = applied.body.results;
    assert.equal(res.name, 'symphony-web');
    const caps = (await admin.req('GET', '/status')).body.engine.status.capabilities;
    const l4 = caps.find((c: { dataPlane: string }) => c.dataPlane === 'l4');
    assert.equal(res.status, l4.isAvailable ? 'programmed' : 'not-programmed', 'never claims live when the kernel has no IPVS');
    assert.equal((await admin.req('GET', '/changes')).body.count, 0);
    const again = await admin.req('POST', '/apply', {});
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'API_NOTHING_TO_APPLY');
  });

  test('a second service on the same VIP and port is refused at the field, across services', async () => {
    const r = await admin.req('POST', '/virtual-services', service({ name: 'clash', ports: [443] }));
    assert.equal(r.status, 422);
    assert.ok(
      r.body.error.details.fields.some((f: { path: string }) => f.path === 'ports'),
      r.text,
    );
  });

  test('concurrent edits: a stale If-Match is refused, a missing one is required', async () => {
    const cur = await admin.req('GET', `/virtual-services/${vsId}`);
    const { id: _i, version: _v, createdAt: _c, updatedAt: _u, realServers: _r, ...spec } = cur.body;
    const first = await admin.req('PUT', `/virtual-services/${vsId}`, { ...spec, scheduler: 'rr' }, { 'if-match': cur.headers.get('etag')! });
    assert.equal(first.status, 200, first.text);
    const stale = await admin.req('PUT', `/virtual-services/${vsId}`, { ...spec, scheduler: 'lc' }, { 'if-match': cur.headers.get('etag')! });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.error.code, 'API_VERSION_CONFLICT');
    const none = await admin.req('PUT', `/virtual-services/${vsId}`, { ...spec, scheduler: 'lc' });
    assert.equal(none.status, 428);
    assert.equal((await admin.req('GET', `/virtual-services/${vsId}`)).body.scheduler, 'rr', 'the first edit stands');
  });

  test('drain takes effect at once, is audited, and is not a pending change', async () => {
    const vs = (await admin.req('GET', `/virtual-services/${vsId}`)).body;
    const rs = vs.realServers[0];
    const before = (await admin.req('GET', '/changes')).body.count;
    const r = await admin.req('PUT', `/real-servers/${rs.id}/state`, { state: 'drain' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.engine, 'applied at once');
    assert.equal((await admin.req('GET', '/changes')).body.count, before);
    const status = (await admin.req('GET', '/status')).body.engine.status;
    const srv = status.services[0].realServers.find((x: { name: string }) => x.name === rs.name);
    assert.equal(srv.operator, 'drain');
    assert.deepEqual(srv.decision, { disposition: 'quiesce', weight: 0, isHealthDown: false });
    const audit = await admin.req('GET', `/audit?action=real-server.state&objectId=${rs.id}`);
    assert.equal(audit.body.items[0].before.state, 'online');
    assert.equal(audit.body.items[0].after.state, 'drain');
    const bad = await admin.req('PUT', `/real-servers/${rs.id}/state`, { state: 'paused' });
    assert.equal(bad.status, 422);
    assert.match(bad.body.error.message, /online, drain or halt/);
  });

  test('rollback restores an earlier version as a new version, keeping operator states', async () => {
    const applied = await admin.req('POST', '/apply', { comment: 'scheduler rr' });
    assert.equal(applied.status, 200, applied.text);
    const versions = (await admin.req('GET', '/config-versions')).body;
    assert.equal(versions.runningVersion, applied.body.version);
    const diff = await admin.req('GET', `/config-versions/${applied.body.version}/diff`);
    assert.deepEqual(
      diff.body.changes.map((c: { name: string; fields: { path: string }[] }) => [c.name, c.fields.map((f) => f.path)]),
      [['symphony-web', ['scheduler']]],
    );
    const rb = await admin.req('POST', '/config-versions/1/rollback');
    assert.equal(rb.status, 200, rb.text);
    const vs = (await admin.req('GET', `/virtual-services/${vsId}`)).body;
    assert.equal(vs.scheduler, 'wlc');
    assert.equal(vs.realServers[0].state, 'drain', 'the drain survives the rollback');
    assert.equal((await admin.req('GET', '/changes')).body.count, 0);
    const audit = (await admin.req('GET', '/audit?action=config.rollback')).body.items;
    assert.ok(audit.some((e: { action: string; outcome: string }) => e.action === 'config.rollback' && e.outcome === 'success'));
  });
});

describe('nothing lost', () => {
  test('restarting the engine keeps the running version and every operator state', async () => {
    const before = (await admin.req('GET', '/status')).body.engine.status;
    await h.restartEngine();
    const after = (await admin.req('GET', '/status')).body.engine.status;
    assert.notEqual(after.pid, before.pid);
    assert.deepEqual(after.running, before.running);
    assert.deepEqual(
      after.services.map((s: { realServers: { name: string; operator: string }[] }) => s.realServers.map((r) => `${r.name}:${r.operator}`)),
      before.services.map((s: { realServers: { name: string; operator: string }[] }) => s.realServers.map((r) => `${r.name}:${r.operator}`)),
    );
  });

  test('reopening the database (a console restart) keeps all data', async () => {
    const before = (await admin.req('GET', '/virtual-services')).body.items;
    const { closeDb } = await import('../db.ts');
    await closeDb();
    const after = (await admin.req('GET', '/virtual-services')).body.items;
    assert.deepEqual(after, before);
    assert.equal((await admin.req('GET', '/audit/verify')).body.isIntact, true);
  });

  test('with the engine down, apply fails with a reason and the candidate stays staged', async () => {
    await admin.req('POST', '/virtual-services', service({ name: 'while-down', ports: [8444] }));
    h.engineProcess!.kill('SIGTERM');
    await once(h.engineProcess!, 'exit');
    const r = await admin.req('POST', '/apply', {});
    assert.equal(r.status, 502);
    assert.equal(r.body.error.code, 'ENGINE_APPLY_FAILED');
    assert.match(r.body.error.message, /not answering/);
    assert.ok((await admin.req('GET', '/changes')).body.changes.some((c: { name: string }) => c.name === 'while-down'));
    const st = (await admin.req('GET', '/status')).body.engine;
    assert.equal(st.isReachable, false);
    await h.restartEngine();
    const ok = await admin.req('POST', '/apply', {});
    assert.equal(ok.status, 200, ok.text);
  });
});

describe('an engine that lost its state', () => {
  test('is shown out of sync, and apply sends the configuration again though nothing is staged', async () => {
    const applied = (await admin.req('GET', '/status')).body;
    assert.equal(applied.isInSync, true);
    assert.equal((await admin.req('GET', '/changes')).body.count, 0);
    h.engineProcess!.kill('SIGTERM');
    await once(h.engineProcess!, 'exit');
    fs.rmSync(path.join(h.dataDir, 'engine-running.json'));
    await h.restartEngine();
    const st = (await admin.req('GET', '/status')).body;
    assert.equal(st.engine.status.running, null);
    assert.equal(st.isInSync, false);
    const r = await admin.req('POST', '/apply', { comment: 'engine replaced' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await admin.req('GET', '/status')).body.isInSync, true);
    assert.equal((await admin.req('POST', '/apply', {})).status, 409, 'and then there is nothing to apply');
  });
});

describe('certificates', () => {
  test('upload checks the key matches, never returns it, refuses deletion while used, and survives a rollback', async () => {
    const a = selfSignedPem('symphony.trust.nhs.uk');
    const b = selfSignedPem('other.example');
    const mismatched = await admin.req('POST', '/certificates', { name: 'symphony', certificatePem: a.certificatePem, privateKeyPem: b.privateKeyPem });
    assert.equal(mismatched.status, 422);
    assert.equal(mismatched.body.error.details.fields[0].path, 'privateKeyPem');
    const versionBefore = (await admin.req('GET', '/config-versions')).body.runningVersion;
    const up = await admin.req('POST', '/certificates', { name: 'symphony', ...a });
    assert.equal(up.status, 201, up.text);
    assert.match(up.body.subject, /symphony\.trust\.nhs\.uk/);
    assert.ok(!up.text.includes('PRIVATE KEY'));
    const list = await admin.req('GET', '/certificates');
    assert.ok(!list.text.includes('PRIVATE KEY'));
    const l7 = await admin.req('POST', '/virtual-services', {
      name: 'symphony-tls',
      layer: 7,
      mode: 'http',
      address: '127.0.0.1',
      ports: [0 + 18443],
      scheduler: 'wrr',
      layer7: { tls: { certificate: 'symphony' } },
      realServers: [{ name: 'a', address: '127.0.0.1', port: 18444 }],
    });
    assert.equal(l7.status, 201, l7.text);
    const del = await admin.req('DELETE', `/certificates/${up.body.id}`);
    assert.equal(del.status, 409);
    assert.match(del.body.error.message, /symphony-tls/);
    const changes = await admin.req('GET', '/changes');
    const cert = changes.body.changes.find((c: { objectType: string }) => c.objectType === 'certificate');
    assert.ok(cert && !JSON.stringify(cert).includes('PRIVATE KEY'), 'the diff never shows a private key');
    const rb = await admin.req('POST', `/config-versions/${versionBefore}/rollback`);
    assert.equal(rb.status, 200, rb.text);
    assert.equal((await admin.req('GET', '/certificates')).body.items.length, 1, 'a rollback does not throw a private key away');
    assert.equal((await admin.req('GET', '/changes')).body.count, 0);
  });

  test('a PFX file is imported with its password; a wrong password is refused at the field', async () => {
    const pem = selfSignedPem('pfx.trust.nhs.uk');
    const dir = fs.mkdtempSync(path.join(h.dataDir, 'pfx-'));
    fs.writeFileSync(`${dir}/c.pem`, pem.certificatePem);
    fs.writeFileSync(`${dir}/k.pem`, pem.privateKeyPem);
    execFileSync('openssl', ['pkcs12', '-export', '-in', `${dir}/c.pem`, '-inkey', `${dir}/k.pem`, '-out', `${dir}/x.pfx`, '-passout', 'pass:s3cret-pfx'], {
      stdio: 'ignore',
    });
    const pfxBase64 = fs.readFileSync(`${dir}/x.pfx`).toString('base64');
    const wrong = await admin.req('POST', '/certificates/import-pfx', { name: 'from-pfx', pfxBase64, password: 'nope' });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.body.error.details.fields[0].path, 'pfxBase64');
    const ok = await admin.req('POST', '/certificates/import-pfx', { name: 'from-pfx', pfxBase64, password: 's3cret-pfx' });
    assert.equal(ok.status, 201, ok.text);
    assert.match(ok.body.subject, /pfx\.trust\.nhs\.uk/);
    const audit = await admin.req('GET', '/audit?action=certificate.create&limit=5');
    assert.ok(!JSON.stringify(audit.body).includes('s3cret-pfx'), 'the PFX password never reaches the audit trail');
  });
});

describe('API keys', () => {
  test('a key works as Bearer with its role, is stored hashed, and stops on revoke', async () => {
    const k = await admin.req('POST', '/api-keys', { name: 'pipeline', role: 'viewer' });
    assert.equal(k.status, 201);
    assert.match(k.body.key, /^fk_[A-Za-z0-9]{8}_/);
    const bot = new Client(h.baseUrl);
    bot.bearer = k.body.key;
    assert.equal((await bot.req('GET', '/virtual-services')).status, 200);
    const write = await bot.req('POST', '/virtual-services', service({ name: 'by-key', ports: [8443] }));
    assert.equal(write.status, 403);
    const raw = fs.readFileSync(path.join(h.dataDir, 'fulcrum.db'));
    const wal = fs.existsSync(path.join(h.dataDir, 'fulcrum.db-wal')) ? fs.readFileSync(path.join(h.dataDir, 'fulcrum.db-wal')) : Buffer.alloc(0);
    assert.ok(!raw.includes(k.body.key) && !wal.includes(k.body.key), 'the key itself is never stored');
    assert.equal((await admin.req('DELETE', `/api-keys/${k.body.id}`)).status, 204);
    assert.equal((await bot.req('GET', '/virtual-services')).status, 401);
  });
});

describe('audit', () => {
  test('cursor pagination walks every row once, newest first', async () => {
    const all: number[] = [];
    let cursor: number | null = null;
    do {
      const r: { body: { items: { id: number }[]; nextCursor: number | null } } = await admin.req('GET', `/audit?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      all.push(...r.body.items.map((i) => i.id));
      cursor = r.body.nextCursor;
    } while (cursor);
    const sorted = [...all].sort((a, b) => b - a);
    assert.deepEqual(all, sorted);
    assert.equal(new Set(all).size, all.length);
    assert.equal(all.at(-1), 1);
  });

  test('CSV export quotes formula-looking cells and is itself audited', async () => {
    const r = await admin.req('GET', '/audit/export?format=csv&action=virtual-service');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /text\/csv/);
    const lines = r.text.trim().split('\r\n');
    assert.equal(lines[0].split(',')[0], 'id');
    assert.ok(lines.length > 2);
    const last = (await admin.req('GET', '/audit?limit=1')).body.items[0];
    assert.equal(last.action, 'audit.export');
  });

  test('a bad filter is a 422 naming the field', async () => {
    const r = await admin.req('GET', '/audit?from=yesterday');
    assert.equal(r.status, 422);
    assert.equal(r.body.error.details.fields[0].path, 'from');
  });
});

describe('OpenAPI', () => {
  test('the document lists every route, generated from the schemas', async () => {
    const r = await new Client(h.baseUrl).req('GET', '/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const post = r.body.paths['/api/v1/virtual-services'].post;
    assert.ok(post.requestBody.content['application/json'].schema.properties.realServers);
    assert.ok(r.body.paths['/api/v1/real-servers/{id}/state'].put);
  });
});

describe('responses', () => {
  test('go through their output schema: a user never carries its password hash', async () => {
    const r = await admin.req('GET', '/users');
    assert.ok(r.body.items.length >= 2);
    for (const u of r.body.items)
      assert.deepEqual(Object.keys(u).sort(), ['createdAt', 'id', 'isDisabled', 'mustChangePassword', 'role', 'updatedAt', 'username', 'version']);
    const doc = (await admin.req('GET', '/openapi.json')).body;
    assert.ok(doc.paths['/api/v1/users'].get.responses['200'].content['application/json'].schema.properties.items);
  });
});
