/** Certificates (PEM) for layer 7 TLS, and floating IPs. Private keys are accepted, stored owner-only, never returned. */
import { CertificateSchema, FloatingIpSchema } from '../../../engine/config/index.ts';
import { ApiError } from '../../errors.ts';
import { db } from '../../db.ts';
import { defineRoute } from '../route.ts';
import { CertificateList, CertificateView } from '../views.ts';
import { mutate } from '../mutate.ts';
import { inspectCertificate } from '../../certificates.ts';

const certView = (c: { id: string; name: string; subject: string; fingerprint: string; notAfter: Date; createdAt: Date }) => ({
  id: c.id, name: c.name, subject: c.subject, fingerprint: c.fingerprint, notAfter: c.notAfter, createdAt: c.createdAt,
});

export const certificateRoutes = [
  defineRoute({
    method: 'GET', path: '/certificates', response: CertificateList, permission: 'config:read', tag: 'certificates', action: 'certificate.list', objectType: 'certificate',
    summary: 'List certificates (never private keys)',
    async handler() {
      return { body: { items: (await db().certificate.findMany({ orderBy: { name: 'asc' } })).map(certView) } };
    },
  }),
  defineRoute({
    method: 'POST', path: '/certificates', response: CertificateView, permission: 'config:write', tag: 'certificates', action: 'certificate.create', objectType: 'certificate',
    summary: 'Upload a certificate and its private key (PEM)', body: CertificateSchema,
    async handler(ctx) {
      const info = inspectCertificate(ctx.body.certificatePem, ctx.body.privateKeyPem);
      if (await db().certificate.findUnique({ where: { name: ctx.body.name } })) {
        throw new ApiError('API_VALIDATION', { summary: `name: "${ctx.body.name}" is taken.` }, { fields: [{ path: 'name', message: 'A certificate with this name exists.' }] });
      }
      const row = await mutate(
        (tx) => tx.certificate.create({ data: { ...ctx.body, ...info } }),
        (r) => ctx.audit({ action: 'certificate.create', objectType: 'certificate', objectId: r.id, after: certView(r), outcome: 'success' }),
      );
      return { status: 201, body: certView(row) };
    },
  }),
  defineRoute({
    method: 'DELETE', path: '/certificates/:id', permission: 'config:write', tag: 'certificates', action: 'certificate.delete', objectType: 'certificate',
    summary: 'Delete a certificate (refused while a service uses it)',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const c = await tx.certificate.findUnique({ where: { id: ctx.params.id } });
          if (!c) throw new ApiError('API_NOT_FOUND', { what: `Certificate ${ctx.params.id}` });
          const users = (await tx.virtualService.findMany()).filter((v) => {
            const tls = JSON.parse(v.spec).layer7?.tls;
            return tls && (tls.certificate === c.name || tls.sniCertificates?.includes(c.name));
          });
          if (users.length) throw new ApiError('API_CONFLICT', { reason: `Certificate "${c.name}" is used by ${users.map((u) => `"${u.name}"`).join(', ')}; change those services first.` });
          await tx.certificate.delete({ where: { id: c.id } });
          return c;
        },
        (r) => ctx.audit({ action: 'certificate.delete', objectType: 'certificate', objectId: r.id, before: certView(r), outcome: 'success' }),
      );
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'GET', path: '/floating-ips', permission: 'config:read', tag: 'floating-ips', action: 'floating-ip.list', objectType: 'floating-ip',
    summary: 'List floating IPs',
    async handler() {
      return { body: { items: await db().floatingIp.findMany({ orderBy: { address: 'asc' } }) } };
    },
  }),
  defineRoute({
    method: 'POST', path: '/floating-ips', permission: 'config:write', tag: 'floating-ips', action: 'floating-ip.create', objectType: 'floating-ip',
    summary: 'Add a floating IP (staged until applied)', body: FloatingIpSchema,
    async handler(ctx) {
      if (await db().floatingIp.findUnique({ where: { address: ctx.body.address } })) {
        throw new ApiError('API_VALIDATION', { summary: `address: ${ctx.body.address} is already a floating IP.` }, { fields: [{ path: 'address', message: 'This address is already a floating IP.' }] });
      }
      const row = await mutate(
        (tx) => tx.floatingIp.create({ data: { address: ctx.body.address, interface: ctx.body.interface, prefixLength: ctx.body.prefixLength ?? null } }),
        (r) => ctx.audit({ action: 'floating-ip.create', objectType: 'floating-ip', objectId: r.id, after: r, outcome: 'success' }),
      );
      return { status: 201, body: row };
    },
  }),
  defineRoute({
    method: 'DELETE', path: '/floating-ips/:id', permission: 'config:write', tag: 'floating-ips', action: 'floating-ip.delete', objectType: 'floating-ip',
    summary: 'Remove a floating IP (staged until applied)',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const f = await tx.floatingIp.findUnique({ where: { id: ctx.params.id } });
          if (!f) throw new ApiError('API_NOT_FOUND', { what: `Floating IP ${ctx.params.id}` });
          await tx.floatingIp.delete({ where: { id: f.id } });
          return f;
        },
        (r) => ctx.audit({ action: 'floating-ip.delete', objectType: 'floating-ip', objectId: r.id, before: r, outcome: 'success' }),
      );
      return { status: 204 };
    },
  }),
];
