/**
 * The incremental check (check.ts) gives the verdict of parsing the whole candidate, over random tables made to
 * collide: few addresses (IPv6 in two spellings), few ports, firewall marks, L4 SNAT and L7 sharing real servers,
 * certificate references that exist and do not. The oracle is the way the console checked before: the whole
 * candidate rendered from the rows, the edit put in place, ConfigSchema over all of it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigSchema, VirtualServiceSchema, type VirtualService } from '../../engine/config/index.ts';
import { ApiError } from '../errors.ts';
import { seededRandom } from '../../engine/testing/seeded-random.ts';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-check-'));
  process.env.FULCRUM_DATA_DIR = dir;
});
after(async () => {
  const { closeDb } = await import('../db.ts');
  await closeDb();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Seeded, so a failure names its seed and can be replayed. */
const rng = seededRandom;

const VIPS = ['10.0.0.1', '10.0.0.2', '2001:db8::1', '2001:DB8:0::1'];
const RIPS = ['10.1.0.1', '10.1.0.2', '2001:db8::a', '2001:db8:0:0::A'];

/** `isEdit`: also an address that is an HA node's and an interface the table lacks (so HA rules come into play). */
function randomService(r: ReturnType<typeof rng>, name: string, isEdit = false): VirtualService | null {
  const layer = r.pick([4, 4, 7] as const);
  const mode = layer === 4 ? r.pick(['nat', 'snat', 'snat', 'dr'] as const) : r.pick(['http', 'tcp'] as const);
  const address = r.pick(isEdit ? [...VIPS, '10.0.0.3'] : VIPS);
  const isV6 = address.includes(':');
  const family = (a: string) => a.includes(':') === isV6;
  const hasMark = layer === 4 && r.next() < 0.2;
  // Ports that meet at a range's ends (8100 in 8000-8100 and 8100-8200) as well as inside one (8080).
  const ports = hasMark ? [] : layer === 7 ? [r.pick([80, 443, 8080, 8100])] : [r.pick([80, 443, '8000-8100', '8100-8200'] as const)];
  const rips = RIPS.filter((a) => layer === 7 || family(a));
  const count = Math.floor(r.next() * 3);
  const realServers = Array.from({ length: count }, (_, k) => ({
    name: `${name}-rs${k}`,
    address: rips[(k + Math.floor(r.next() * rips.length)) % rips.length],
    ...(mode !== 'dr' && r.next() < 0.6 ? { port: r.pick([80, 443, 8080, 8050]) } : {}),
  }));
  const tls = layer === 7 && mode === 'http' && r.next() < 0.3 ? { tls: { certificate: r.pick(['c1', 'c2']) } } : {};
  const iface = r.pick(isEdit ? [undefined, 'eth0', 'eth1', 'eth3'] : [undefined, undefined, 'eth0', 'eth1']);
  const raw = {
    name,
    layer,
    mode,
    address,
    ports,
    isEnabled: r.next() < 0.85,
    healthCheck: { type: 'none' },
    ...(iface ? { interface: iface } : {}),
    ...(hasMark ? { firewallMark: r.pick([1, 2]) } : {}),
    ...(layer === 7 ? { layer7: { ...tls } } : {}),
    realServers,
  };
  const parsed = VirtualServiceSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

type Field = { path: string; message: string };

/** Every row as the candidate (render.ts's reading, without its parse, so an invalid one can be looked at). */
async function wholeCandidate(tx: import('../db.ts').Tx) {
  const { RS_ORDER } = await import('./render.ts');
  const services = await tx.virtualService.findMany({ orderBy: [{ position: 'asc' }, { createdAt: 'asc' }], include: { realServers: { orderBy: RS_ORDER } } });
  const ha = await tx.haSettings.findUnique({ where: { id: 1 } });
  return {
    virtualServices: services.map((v) => ({
      ...JSON.parse(v.spec),
      realServers: v.realServers.map((x) => ({ ...JSON.parse(x.spec), state: x.state })),
    })) as VirtualService[],
    certificates: (await tx.certificate.findMany({ orderBy: { name: 'asc' } })).map((c) => ({
      name: c.name,
      certificatePem: c.certificatePem,
      privateKeyPem: '-----BEGIN PRIVATE KEY-----',
    })),
    floatingIps: (await tx.floatingIp.findMany({ orderBy: { address: 'asc' } })).map((f) => ({ address: f.address, interface: f.interface })),
    ...(ha ? { ha: JSON.parse(ha.spec) } : {}),
  };
}

/** The whole-candidate verdict, as the console computed it before check.ts. */
async function oracle(tx: import('../db.ts').Tx, vs: VirtualService, replacing?: string): Promise<Field[] | null> {
  const cand = await wholeCandidate(tx);
  const list = cand.virtualServices.filter((v) => v.name !== replacing && v.name !== vs.name);
  const at = replacing ? cand.virtualServices.findIndex((v) => v.name === replacing) : -1;
  const index = at >= 0 ? Math.min(at, list.length) : list.length;
  list.splice(index, 0, vs);
  if (replacing !== vs.name && cand.virtualServices.some((v) => v.name === vs.name))
    return [{ path: 'name', message: `A virtual service named "${vs.name}" already exists.` }];
  const r = ConfigSchema.safeParse({ ...cand, virtualServices: list });
  if (r.success) return null;
  return r.error.issues.map((i) => {
    const isOurs = i.path[0] === 'virtualServices' && i.path[1] === index;
    return { path: (isOurs ? i.path.slice(2) : i.path).map(String).join('.'), message: i.message };
  });
}

async function incremental(tx: import('../db.ts').Tx, vs: VirtualService, replacing?: string): Promise<Field[] | null> {
  const { checkCandidate } = await import('./check.ts');
  try {
    await checkCandidate(tx, vs, replacing);
    return null;
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== 'API_VALIDATION') throw e;
    return (e.details as { fields: Field[] }).fields;
  }
}

const sorted = (f: Field[] | null) => f && [...f].sort((a, b) => `${a.path}${a.message}`.localeCompare(`${b.path}${b.message}`));

test('the incremental check and the whole-candidate check agree on every edit of random tables', async () => {
  const { db } = await import('../db.ts');
  const { vsColumns, rsColumns, nextPosition } = await import('./store.ts');
  const { sealPrivateKey } = await import('../secrets.ts');
  let compared = 0;
  let refused = 0;
  let haRefused = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const r = rng(seed);
    await db().virtualService.deleteMany();
    await db().certificate.deleteMany();
    await db().haSettings.deleteMany();
    await db().floatingIp.deleteMany();
    await db().floatingIp.create({ data: { address: '10.8.0.1', interface: r.pick(['eth0', 'eth2']) } });
    await db().certificate.create({
      data: {
        name: 'c1',
        certificatePem: '-----BEGIN CERTIFICATE-----',
        privateKeyPem: sealPrivateKey('c1', '-----BEGIN PRIVATE KEY-----'),
        subject: 'CN=c1',
        fingerprint: 'x',
        notAfter: new Date(Date.now() + 1e10),
      },
    });
    // A valid table, built as the API builds it: each service kept only if the whole candidate stays valid.
    for (let i = 0; i < 25; i++) {
      const vs = randomService(r, `s${i}`);
      if (!vs) continue;
      await db().$transaction(async (tx) => {
        if ((await oracle(tx, vs)) !== null) return;
        const row = await tx.virtualService.create({ data: { ...vsColumns(vs), position: await nextPosition(tx) } });
        for (const rs of vs.realServers) await tx.realServer.create({ data: { ...rsColumns(rs), state: rs.state, virtualServiceId: row.id } });
      });
    }
    // Half the seeds run as an HA pair over that table: a node on a VIP's address, a VIP among the moving addresses,
    // the highest router ID the table allows (so a new interface overflows it).
    if (seed % 2 === 0) {
      const cand = await db().$transaction((tx) => wholeCandidate(tx));
      const vips = cand.virtualServices.filter((v) => v.isEnabled && v.interface).map((v) => v.address);
      const movingAddresses = vips.length && r.next() < 0.6 ? ['10.8.0.1', r.pick(vips)] : undefined;
      for (const virtualRouterId of [255, 254, 253, 1]) {
        const block = ConfigSchema.shape.ha.parse({
          interface: 'eth0',
          virtualRouterId,
          nodes: [
            { name: 'a', address: '10.0.0.3', priority: 100 },
            { name: 'b', address: '10.9.0.2', priority: 90 },
          ],
          ...(movingAddresses ? { movingAddresses } : {}),
        });
        if (ConfigSchema.safeParse({ ...cand, ha: block }).success) {
          await db().haSettings.create({ data: { id: 1, spec: JSON.stringify(block) } });
          break;
        }
      }
    }
    const names = (await db().virtualService.findMany({ select: { name: true } })).map((x) => x.name);
    for (let e = 0; e < 40; e++) {
      const replacing = r.next() < 0.5 && names.length ? r.pick(names) : undefined;
      const name = replacing && r.next() < 0.8 ? replacing : r.next() < 0.2 && names.length ? r.pick(names) : `new${e}`;
      const vs = randomService(r, name, true);
      if (!vs) continue;
      await db().$transaction(async (tx) => {
        const want = await oracle(tx, vs, replacing);
        const got = await incremental(tx, vs, replacing);
        assert.deepEqual(sorted(got), sorted(want), `seed ${seed}, edit ${e}: ${JSON.stringify(vs)} replacing ${replacing}`);
        compared++;
        if (want) refused++;
        if (want?.some((f) => f.path.startsWith('ha.'))) haRefused++;
      });
    }
  }
  // The test means something only if both verdicts occurred often.
  assert.ok(compared > 200, `compared ${compared}`);
  assert.ok(refused > 40 && compared - refused > 40, `refused ${refused} of ${compared}`);
  assert.ok(haRefused > 3, `refused by an HA rule ${haRefused}`);
});

test('the check knows every part of the configuration a cross-object rule looks at', async () => {
  // check.ts's table covers services, certificates, floating IPs and the HA block; a new top-level part must be added
  // to it first.
  // layer4 (IPVS's kernel-wide timeouts) has no cross-object rule, so the check needs none of it.
  assert.deepEqual(Object.keys(ConfigSchema.shape).sort(), ['certificates', 'floatingIps', 'ha', 'layer4', 'schemaVersion', 'virtualServices']);
});
