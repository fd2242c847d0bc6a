/**
 * renderCandidate reads its rows in plain SQL (render.ts): on a varied table — services out of position order and
 * tied on position, real servers tied on createdAt, operator states, sealed private keys, floating IPs with and
 * without a prefix, the HA block — it gives, to the character, what the Prisma query it replaced gave, parsed by
 * ConfigSchema itself; and again after edits, when most services come from the parser's memo.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigSchema, HaSchema, VirtualServiceSchema } from '../../engine/config/index.ts';
import { selfSignedPem } from '../testing/self-signed.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-render-'));
  process.env.FULCRUM_DATA_DIR = dir;
});
after(async () => {
  const { closeDb } = await import('../db.ts');
  await closeDb();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The rendering renderCandidate had before its plain SQL: Prisma's query, the same inputs, ConfigSchema's parse. */
async function prismaRendering() {
  const { db } = await import('../db.ts');
  const { RS_ORDER } = await import('./render.ts');
  const { openPrivateKey } = await import('../secrets.ts');
  const reader = db();
  const services = await reader.virtualService.findMany({
    orderBy: [{ position: 'asc' }, { createdAt: 'asc' }],
    select: { spec: true, realServers: { orderBy: RS_ORDER, select: { spec: true, state: true } } },
  });
  const certificates = await reader.certificate.findMany({ orderBy: { name: 'asc' } });
  const floatingIps = await reader.floatingIp.findMany({ orderBy: { address: 'asc' } });
  const ha = await reader.haSettings.findUnique({ where: { id: 1 } });
  return ConfigSchema.parse({
    virtualServices: services.map((vs) => ({ ...JSON.parse(vs.spec), realServers: vs.realServers.map((rs) => ({ ...JSON.parse(rs.spec), state: rs.state })) })),
    certificates: certificates.map((c) => ({ name: c.name, certificatePem: c.certificatePem, privateKeyPem: openPrivateKey(c.name, c.privateKeyPem) })),
    floatingIps: floatingIps.map((f) => ({ address: f.address, interface: f.interface, ...(f.prefixLength !== null ? { prefixLength: f.prefixLength } : {}) })),
    ...(ha ? { ha: JSON.parse(ha.spec) } : {}),
  });
}

const l4 = (name: string, address: string, servers: number) =>
  VirtualServiceSchema.parse({
    name,
    layer: 4,
    mode: 'nat',
    protocol: 'tcp',
    address,
    ports: [443],
    scheduler: 'wlc',
    healthCheck: { type: 'none' },
    realServers: Array.from({ length: servers }, (_, k) => ({ name: `${name}-app-${k + 1}`, address: `10.2.0.${k + 1}`, port: 8443, weight: 100 + k })),
  });

const l7 = (name: string, port: number) =>
  VirtualServiceSchema.parse({
    name,
    layer: 7,
    mode: 'http',
    address: '127.0.0.1',
    ports: [port],
    scheduler: 'rr',
    healthCheck: { type: 'none' },
    realServers: [
      { name: `${name}-a`, address: '127.0.0.1', port: 9001, weight: 100 },
      { name: `${name}-b`, address: '127.0.0.1', port: 9002, weight: 50 },
    ],
  });

async function assertSameRendering(what: string) {
  const { renderCandidate } = await import('./render.ts');
  const [ours, theirs] = [await renderCandidate(), await prismaRendering()];
  assert.equal(JSON.stringify(ours), JSON.stringify(theirs), what);
  assert.deepEqual(ours, theirs, what);
}

test('the candidate rendered in plain SQL is the one the Prisma query rendered, on a varied table and after edits', async () => {
  const { db } = await import('../db.ts');
  const { insertService, insertRealServers, updateService } = await import('./store.ts');
  const { sealPrivateKey } = await import('../secrets.ts');
  const { inspectCertificate } = await import('../certificates.ts');
  const { renderCandidate } = await import('./render.ts');
  assert.equal(JSON.stringify(await renderCandidate()), JSON.stringify(await prismaRendering()), 'an empty table');

  const ids: string[] = [];
  await db().$transaction(async (tx) => {
    for (let i = 0; i < 12; i++) {
      const row = await insertService(tx, i % 3 === 0 ? l4(`svc-${i}`, `10.1.0.${i + 1}`, i % 4) : l7(`svc-${i}`, 22000 + i));
      ids.push(row.id);
    }
  });
  // Positions out of creation order, and two services tied on position (createdAt decides between them).
  await db().virtualService.update({ where: { id: ids[0] }, data: { position: 7 } });
  await db().virtualService.update({ where: { id: ids[11] }, data: { position: 0 } });
  await db().virtualService.update({ where: { id: ids[5] }, data: { position: 3 } });
  // Real servers added later, by one statement (tied on createdAt: their ids decide), and operator states.
  await db().$transaction(async (tx) => {
    const [added] = (await tx.virtualService.findMany({ where: { id: ids[3] } })).map((r) => r.id);
    await insertRealServers(tx, added, [
      { ...l4('x', '10.1.0.99', 1).realServers[0], name: 'late-1', address: '10.3.0.2' },
      { ...l4('x', '10.1.0.99', 1).realServers[0], name: 'late-2', address: '10.3.0.1' },
    ]);
    await updateService(tx, added);
  });
  const servers = await db().realServer.findMany({ orderBy: { name: 'asc' } });
  await db().realServer.update({ where: { id: servers[0].id }, data: { state: 'drain' } });
  await db().realServer.update({ where: { id: servers[1].id }, data: { state: 'halt' } });
  for (const name of ['zeta', 'alpha']) {
    const pair = selfSignedPem(name);
    await db().certificate.create({
      data: {
        name,
        certificatePem: pair.certificatePem,
        privateKeyPem: sealPrivateKey(name, pair.privateKeyPem),
        ...inspectCertificate(pair.certificatePem, pair.privateKeyPem),
      },
    });
  }
  await db().floatingIp.create({ data: { address: '192.168.10.50', interface: 'eth0', prefixLength: 24 } });
  await db().floatingIp.create({ data: { address: '192.168.10.40', interface: 'eth1', prefixLength: null } });
  const ha = HaSchema.parse({
    interface: 'lo',
    virtualRouterId: 61,
    nodes: [
      { name: 'lb1', address: '127.0.0.11', priority: 150 },
      { name: 'lb2', address: '127.0.0.12', priority: 100 },
    ],
  });
  await db().haSettings.create({ data: { id: 1, spec: JSON.stringify(ha) } });
  await assertSameRendering('a varied table');

  // One weight changed, one service's spec changed, one removed, one added: the memo serves the rest.
  const weighted = servers[2];
  await db().realServer.update({ where: { id: weighted.id }, data: { spec: JSON.stringify({ ...JSON.parse(weighted.spec), weight: 0 }) } });
  await db().virtualService.update({
    where: { id: ids[4] },
    data: { spec: JSON.stringify({ ...JSON.parse((await db().virtualService.findUniqueOrThrow({ where: { id: ids[4] } })).spec), scheduler: 'lc' }) },
  });
  await db().virtualService.delete({ where: { id: ids[7] } });
  await db().$transaction((tx) => insertService(tx, l7('svc-new', 23000)));
  await db().realServer.update({ where: { id: servers[0].id }, data: { state: 'online' } });
  await assertSameRendering('after edits');
  assert.equal((await renderCandidate()).virtualServices.length, 12);
});
