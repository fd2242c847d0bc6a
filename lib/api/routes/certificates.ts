/** Certificates (PEM) for layer 7 TLS, and floating IPs. Private keys are accepted, stored owner-only, never returned. */
import { CertificateSchema, FloatingIpSchema } from '../../../engine/config/index.ts';
import { ApiError } from '../../errors.ts';
import { db } from '../../db.ts';
import { defineRoute, type RouteContext } from '../route.ts';
import { CertificateList, CertificateView } from '../views.ts';
import { mutate } from '../mutate.ts';
import { inspectCertificate } from '../../certificates.ts';
import { sealPrivateKey } from '../../secrets.ts';
import { importPfx } from '../../../engine/l7/pfx.ts';
import { NameSchema } from '../../../engine/config/index.ts';
import { z } from 'zod';

const certView = (c: { id: string; name: string; subject: string; fingerprint: string; notAfter: Date; createdAt: Date }) => ({
  id: c.id, name: c.name, subject: c.subject, fingerprint: c.fingerprint, notAfter: c.notAfter, createdAt: c.createdAt,
});

async function storeCertificate(ctx: { audit: RouteContext<unknown, unknown>['audit'] }, input: { name: string; certificatePem: string; privateKeyPem: string }) {
  const info = inspectCertificate(input.certificatePem, input.privateKeyPem);
  if (await db().certificate.findUnique({ where: { name: input.name } })) {
    throw new ApiError('API_VALIDATION', { summary: `name: "${input.name}" is taken.` }, { fields: [{ path: 'name', message: 'A certificate with this name exists.' }] });
  }
  const row = await mutate(
    (tx) => tx.certificate.create({ data: { ...input, privateKeyPem: sealPrivateKey(input.name, input.privateKeyPem), ...info } }),
    (r) => ctx.audit({ action: 'certificate.create', objectType: 'certificate', objectId: r.id, after: certView(r), outcome: 'success' }),
  );
  return certView(row);
}

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
      return { status: 201, body: await storeCertificate(ctx, ctx.body) };
    },
  }),
  defineRoute({
    method: 'POST', path: '/certificates/import-pfx', response: CertificateView, permission: 'config:write', tag: 'certificates', action: 'certificate.create', objectType: 'certificate',
    summary: 'Import a certificate, its chain and its private key from a PFX / PKCS#12 file',
    body: z.strictObject({
      name: NameSchema,
      pfxBase64: z.string().min(1, 'Choose the PFX file.').max(1_000_000, 'The file is larger than 750 KB.').regex(/^[A-Za-z0-9+/=\s]+$/, 'Send the file as base64.'),
      password: z.string().max(1024).default(''),
    }),
    async handler(ctx) {
      let pem: { certificatePem: string; privateKeyPem: string };
      try {
        pem = await importPfx(Buffer.from(ctx.body.pfxBase64, 'base64'), ctx.body.password);
      } catch (e) {
        const message = `This PFX file cannot be read: ${(e as Error).message.split('\n')[0]}. Check the password.`;
        throw new ApiError('API_VALIDATION', { summary: `pfxBase64: ${message}` }, { fields: [{ path: 'pfxBase64', message }] });
      }
      return { status: 201, body: await storeCertificate(ctx, { name: ctx.body.name, ...pem }) };
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
