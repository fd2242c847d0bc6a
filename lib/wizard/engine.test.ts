/**
 * The step engine: each template and mode, answered as an engineer would, gives objects the one config schema accepts
 * (parsed again here on their own), and each wrong answer comes back at its step and field with the schema's sentence.
 * Health checks here are none or target loopback: these objects are never applied, but nothing in a test names an
 * address a check could leave the machine for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigSchema, type Config } from '../../engine/config/index.ts';
import { checkRun, issuesFor } from './engine.ts';
import { loadTemplates, templates } from './template.ts';
import type { Answers } from './answers.ts';

const empty: Config = ConfigSchema.parse({});
const symphony = templates().get('emis-symphony')!;
const dicom = templates().get('dicom-imaging')!;

const drAnswers = (): Answers => ({
  mode: { modeId: 'l4-dr' },
  service: {
    name: 'symphony',
    address: '127.0.0.50',
    ports: [
      { port: 80, label: 'HTTP', isTls: false },
      { port: 443, label: 'HTTPS', isTls: true },
    ],
  },
  servers: {
    realServers: [
      { name: 'sym-app-1', address: '127.0.0.11', port: null, weight: null },
      { name: 'sym-app-2', address: '127.0.0.12', port: null, weight: null },
    ],
  },
  persistence: { type: 'source-ip', timeoutSeconds: 3600 },
  health: { type: 'none', port: null, intervalMs: null, timeoutMs: null },
});

test('templates are data: every JSON file in the directory is a template, checked by its schema', () => {
  assert.deepEqual([...templates().keys()].sort(), ['dicom-imaging', 'emis-symphony']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wizard-templates-'));
  const pacs = JSON.parse(fs.readFileSync(path.resolve('lib/wizard/templates/dicom-imaging.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'ris.json'), JSON.stringify({ ...pacs, id: 'ris', title: 'Radiology information system' }));
  assert.deepEqual([...loadTemplates(dir).keys()], ['ris'], 'a new application is one more file');
  fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ ...pacs, id: 'bad', modes: [{ ...pacs.modes[0], persistence: { type: 'sticky' } }] }));
  assert.throws(() => loadTemplates(dir), /bad\.json: modes\.0\.persistence\.type/);
  fs.rmSync(dir, { recursive: true });
});

test('Symphony in Layer 4 DR: one DR service on 80 and 443, source-IP persistence, real servers without ports', () => {
  const r = checkRun(symphony, drAnswers(), empty);
  assert.deepEqual(r.issues, []);
  assert.equal(r.objects.length, 1);
  const vs = r.objects[0];
  assert.deepEqual([vs.layer, vs.mode, vs.ports, vs.persistence], [4, 'dr', [80, 443], { type: 'source-ip', timeoutSeconds: 3600 }]);
  assert.deepEqual(
    vs.realServers.map((rs) => [rs.name, rs.address, rs.port]),
    [
      ['sym-app-1', '127.0.0.11', undefined],
      ['sym-app-2', '127.0.0.12', undefined],
    ],
  );
  assert.ok(ConfigSchema.safeParse({ virtualServices: r.objects }).success);
});

test('Symphony in Layer 7 SNAT with a self-signed certificate: an HTTPS service and an HTTP one that redirects', () => {
  const answers: Answers = {
    ...drAnswers(),
    mode: { modeId: 'l7-snat' },
    servers: { realServers: [{ name: 'sym-app-1', address: '127.0.0.11', port: 8080, weight: null }] },
    persistence: { type: 'http-cookie', cookieName: 'SYMPHONYID', timeoutSeconds: null },
    health: { type: 'http', path: '/health', expectText: 'OK', port: null, intervalMs: null, timeoutMs: null },
    tls: { source: 'self-signed', httpsRedirect: true, xForwardedFor: true },
  };
  const r = checkRun(symphony, answers, empty);
  assert.deepEqual(r.issues, []);
  assert.equal(r.selfSignedCertificate, 'symphony-self-signed');
  const [https, http] = r.objects;
  assert.deepEqual([https.name, https.layer, https.mode, https.ports, https.layer7?.tls?.certificate], ['symphony', 7, 'http', [443], 'symphony-self-signed']);
  assert.deepEqual([http.name, http.ports, http.layer7?.httpsRedirect], ['symphony-http', [80], { status: 301, port: 443 }]);
  assert.equal(https.persistence.type, 'http-cookie');
  assert.deepEqual(https.healthCheck.http?.path, '/health');
  assert.equal(https.realServers[0].port, 8080, 'layer 7 translates ports');
  // With the certificate the run makes, the whole configuration parses.
  const pem = {
    certificatePem: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
    privateKeyPem: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n',
  };
  assert.ok(ConfigSchema.safeParse({ virtualServices: r.objects, certificates: [{ name: 'symphony-self-signed', ...pem }] }).success);
});

test('Layer 7 with a signing request for the CA: the HTTPS service names the request, a placeholder stands in until it is signed', () => {
  const answers = (tls: Answers['tls']): Answers => ({
    ...drAnswers(),
    mode: { modeId: 'l7-snat' },
    servers: { realServers: [{ name: 'sym-app-1', address: '127.0.0.11', port: 8080, weight: null }] },
    persistence: { type: 'http-cookie', timeoutSeconds: null },
    health: { type: 'connect', port: null, intervalMs: null, timeoutMs: null },
    tls,
  });
  const r = checkRun(symphony, answers({ source: 'request', certificate: 'symphony-web', httpsRedirect: true, xForwardedFor: true }), empty);
  assert.deepEqual(r.issues, []);
  assert.deepEqual([r.certificateRequest, r.selfSignedCertificate, r.objects[0].layer7?.tls?.certificate], ['symphony-web', 'symphony-web', 'symphony-web']);
  // No request made yet: refused at the certificate field, saying what to do.
  const none = checkRun(symphony, answers({ source: 'request', httpsRedirect: true, xForwardedFor: true }), empty);
  assert.deepEqual(
    issuesFor('tls', none.issues).map((i) => i.path),
    ['certificate'],
  );
  assert.match(issuesFor('tls', none.issues)[0].message, /make the key and signing request here first/);
});

test('DICOM imaging: DR on port 104 with a DICOM C-ECHO check (or 11112)', () => {
  const answers: Answers = {
    mode: { modeId: 'l4-dr' },
    service: { name: 'pacs', address: '127.0.0.60', ports: [{ port: 11112, label: 'DICOM', isTls: false }] },
    servers: { realServers: [{ name: 'pacs-1', address: '127.0.0.21', port: null, weight: null }] },
    health: { type: 'dicom-echo', calledAeTitle: 'PACS', port: null, intervalMs: null, timeoutMs: null },
  };
  const r = checkRun(dicom, answers, empty);
  assert.deepEqual(r.issues, []);
  const vs = r.objects[0];
  assert.deepEqual(
    [vs.mode, vs.ports, vs.scheduler, vs.healthCheck.type, vs.healthCheck.dicom],
    ['dr', [11112], 'lc', 'dicom-echo', { calledAeTitle: 'PACS', callingAeTitle: 'FULCRUM' }],
  );
  assert.deepEqual(
    dicom.modes[0].ports.map((p) => p.port),
    [104],
    'the template offers 104 by default',
  );
});

test("each wrong answer is refused at its own step and field, in the schema's words", () => {
  const a = drAnswers();
  a.service = { ...a.service!, name: 'has space', address: '192.168.10.300', ports: [{ port: 70000, label: 'HTTP', isTls: false }] };
  a.servers = { realServers: [{ name: 'sym-app-1', address: '127.0.0.11', port: 8080, weight: null }] };
  a.persistence = { type: 'source-ip', timeoutSeconds: 0 };
  a.health = { type: 'http', path: 'no-slash', port: null, intervalMs: 1000, timeoutMs: 2000 };
  const r = checkRun(symphony, a, empty);
  const at = (step: Parameters<typeof issuesFor>[0]) => Object.fromEntries(issuesFor(step, r.issues).map((i) => [i.path, i.message]));
  assert.match(at('service').name, /letters, digits/);
  assert.match(at('service').address, /IPv4 address such as/);
  assert.match(at('service')['ports.0.port'], /Ports run from 1 to 65535/);
  assert.match(at('persistence').timeoutSeconds, /at least 1 s/);
  assert.match(at('health').path, /starts with "\/"/);
  assert.match(at('health').timeoutMs, /not be longer than the interval/);
  assert.deepEqual(r.objects, [], 'nothing is built while an issue stands');
  // Rules across fields run once the fields themselves are right (the wizard walks its steps in order).
  const b = drAnswers();
  b.servers = {
    realServers: [
      { name: 'sym-app-1', address: '127.0.0.11', port: 8080, weight: null },
      { name: 'sym-app-1', address: '127.0.0.12', port: null, weight: null },
    ],
  };
  const cross = Object.fromEntries(issuesFor('servers', checkRun(symphony, b, empty).issues).map((i) => [i.path, i.message]));
  assert.match(cross['realServers.0.port'], /cannot translate ports/);
  assert.match(cross['realServers.1.name'], /used twice/);
});

test('a step not yet answered takes the defaults and reports nothing; the mode step must be answered first', () => {
  const r = checkRun(symphony, { mode: { modeId: 'l4-dr' } }, empty);
  assert.deepEqual(issuesFor('mode', r.issues), []);
  assert.ok(
    issuesFor('service', r.issues).some((i) => i.path === 'address'),
    'the VIP is still missing',
  );
  assert.deepEqual(issuesFor('persistence', r.issues), []);
  assert.match(checkRun(symphony, {}, empty).issues[0].message, /Choose a deployment mode/);
  assert.match(checkRun(symphony, { mode: { modeId: 'l4-nat' } }, empty).issues[0].message, /no mode "l4-nat"/);
});

test('layer 7 with an HTTPS port needs a certificate; DICOM echo needs the called AE title', () => {
  const l7 = checkRun(symphony, { ...drAnswers(), mode: { modeId: 'l7-snat' }, tls: { source: 'none', httpsRedirect: true, xForwardedFor: true } }, empty);
  assert.match(issuesFor('tls', l7.issues)[0].message, /Port 443 is marked HTTPS, so it needs a certificate/);
  const dr = checkRun(
    dicom,
    { mode: { modeId: 'l4-dr' }, service: { name: 'pacs', address: '127.0.0.60', ports: [{ port: 104, label: 'DICOM', isTls: false }] } },
    empty,
  );
  assert.match(issuesFor('health', dr.issues).find((i) => i.path === 'calledAeTitle')!.message, /AE title is 1 to 16/);
});

test('what is already staged counts: a taken name or VIP:port is refused at the VIP step', () => {
  const first = checkRun(symphony, drAnswers(), empty);
  const staged = ConfigSchema.parse({ virtualServices: first.objects });
  const again = checkRun(symphony, drAnswers(), staged);
  assert.match(issuesFor('service', again.issues).find((i) => i.path === 'name')!.message, /already used/);
  const other = drAnswers();
  other.service = { ...other.service!, name: 'symphony-2' };
  const clash = checkRun(symphony, other, staged);
  assert.match(issuesFor('service', clash.issues).find((i) => i.path === 'ports')!.message, /"symphony" already listens on 127\.0\.0\.50/);
});

test('text typed in a number field reaches the schema, which says what it wants; no real server is refused', () => {
  const a = drAnswers();
  a.persistence = { type: 'source-ip', timeoutSeconds: 'an hour' };
  a.servers = { realServers: [] };
  const r = checkRun(symphony, a, empty);
  assert.deepEqual(
    issuesFor('persistence', r.issues).map((i) => [i.path, i.message]),
    [['timeoutSeconds', 'Give The persistence timeout in seconds.']],
  );
  assert.match(issuesFor('servers', r.issues)[0].message, /Give at least one real server/);
});

test('an empty or non-numeric port gets the port schema\'s sentence, not the union\'s "Invalid input"', () => {
  for (const port of [null, 'http']) {
    const a = drAnswers();
    a.service = { ...a.service!, ports: [{ port, label: 'HTTP', isTls: false }] };
    assert.equal(
      issuesFor('service', checkRun(symphony, a, empty).issues).find((i) => i.path === 'ports.0.port')?.message,
      'Give a port number from 1 to 65535.',
    );
  }
});
