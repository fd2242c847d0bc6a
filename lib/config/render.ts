/**
 * Database rows → the engine's Config, in one function. The result is parsed with the one schema, so what the
 * console stores, shows as pending and sends is exactly what the engine will accept.
 */
import { createConfigParser, type Config } from '../../engine/config/index.ts';
import type { Tx } from '../db.ts';
import { db } from '../db.ts';
import { openPrivateKey } from '../secrets.ts';

/**
 * Real servers in the order they were added. Those added by one request share a createdAt (Prisma takes now() once
 * per query); their cuid ids then keep the order (a cuid starts with its time and a per-process counter).
 */
export const RS_ORDER = [{ createdAt: 'asc' as const }, { id: 'asc' as const }];

type Reader = Pick<Tx, 'virtualService' | 'certificate' | 'floatingIp' | 'haSettings'>;

/** ConfigSchema's parse, remembering each service's (engine/config/memo-parse.ts): the table changes a little at a time. */
const parseConfig = createConfigParser();

export async function renderCandidate(reader: Reader = db()): Promise<Config> {
  // Only the stored texts: the other columns are the same facts in query form.
  const services = await reader.virtualService.findMany({
    orderBy: [{ position: 'asc' }, { createdAt: 'asc' }],
    select: { spec: true, realServers: { orderBy: RS_ORDER, select: { spec: true, state: true } } },
  });
  const certificates = await reader.certificate.findMany({ orderBy: { name: 'asc' } });
  const floatingIps = await reader.floatingIp.findMany({ orderBy: { address: 'asc' } });
  const ha = await reader.haSettings.findUnique({ where: { id: 1 } }); // no row: a single node (lib/ha-settings.ts)
  // A service's key is its rows' stored texts (JSON has no raw control characters, so the separators cannot occur in
  // them): one whose rows did not change is not even read as JSON again.
  const parsed = parseConfig.keyed(
    services.map((vs) => ({
      key: `${vs.spec}\u0000${vs.realServers.map((rs) => `${rs.spec}\u0001${rs.state}`).join('\u0000')}`,
      input: () => ({ ...JSON.parse(vs.spec), realServers: vs.realServers.map((rs) => ({ ...JSON.parse(rs.spec), state: rs.state })) }),
    })),
    {
      // Private keys are sealed in their rows (lib/secrets.ts); the engine gets them open.
      certificates: certificates.map((c) => ({ name: c.name, certificatePem: c.certificatePem, privateKeyPem: openPrivateKey(c.name, c.privateKeyPem) })),
      floatingIps: floatingIps.map((f) => ({
        address: f.address,
        interface: f.interface,
        ...(f.prefixLength !== null ? { prefixLength: f.prefixLength } : {}),
      })),
      ...(ha ? { ha: JSON.parse(ha.spec) } : {}),
    },
  );
  if (!parsed.success) throw parsed.error;
  return parsed.data;
}
