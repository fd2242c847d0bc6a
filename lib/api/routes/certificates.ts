/**
 * Certificates (PEM) for layer 7 TLS, and floating IPs. Private keys are accepted, stored owner-only, never returned.
 * A certificate is listed with its issuer, subject alternative names, chain, expiry and the services that use it.
 * Keys and signing requests can be made here (the key never leaves); the CA's certificate completes a request into a
 * certificate, or replaces one of the same name in place (a renewal), staged like any change: the services using it
 * get it at the next apply.
 */
import { CertificateSchema, FloatingIpSchema } from '../../../engine/config/index.ts';
import { ApiError } from '../../errors.ts';
import { db } from '../../db.ts';
import { defineRoute, type RouteContext } from '../route.ts';
import { CertificateView } from '../views.ts';
import { mutate } from '../mutate.ts';
import { certificateMatchesKey, describeCertificate, generateRequest, inspectCertificate, KEY_TYPES } from '../../certificates.ts';
import { openPrivateKey } from '../../secrets.ts';
import type { Tx } from '../../db.ts';
import { sealPrivateKey } from '../../secrets.ts';
import { refuseIfHaBreaks } from '../../ha-settings.ts';
import { importPfx } from '../../../engine/l7/pfx.ts';
import { NameSchema } from '../../../engine/config/index.ts';
import { z } from 'zod';

const Timestamp = z.iso.datetime({ offset: true });
const ChainLinkView = z.object({
  subject: z.string(),
  issuer: z.string(),
  notBefore: Timestamp,
  notAfter: Timestamp,
  isCa: z.boolean(),
  isSignedByNext: z.boolean().nullable(),
});
export const CertificateDetailView = CertificateView.extend({
  issuer: z.string(),
  altNames: z.array(z.string()),
  serialNumber: z.string(),
  keyType: z.string(),
  notBefore: Timestamp,
  chain: z.array(ChainLinkView),
  chainStatus: z.string(),
  usedBy: z.array(z.string()),
});
export const CertificateRequestView = z.object({
  id: z.string(),
  name: z.string(),
  subject: z.string(),
  altNames: z.array(z.string()),
  keyType: z.string(),
  csrPem: z.string(),
  createdBy: z.string(),
  createdAt: Timestamp,
  isRenewal: z.boolean(),
});

/** The services whose layer 7 TLS names this certificate (as its certificate or one of its SNI certificates). */
async function servicesUsing(tx: Pick<Tx, 'virtualService'>, name: string): Promise<string[]> {
  return (await tx.virtualService.findMany({ orderBy: { name: 'asc' } }))
    .filter((v) => {
      const tls = JSON.parse(v.spec).layer7?.tls;
      return tls && (tls.certificate === name || tls.sniCertificates?.includes(name));
    })
    .map((v) => v.name);
}

const certView = (c: { id: string; name: string; subject: string; fingerprint: string; notAfter: Date; createdAt: Date }) => ({
  id: c.id,
  name: c.name,
  subject: c.subject,
  fingerprint: c.fingerprint,
  notAfter: c.notAfter,
  createdAt: c.createdAt,
});

async function storeCertificate(
  ctx: { audit: RouteContext<unknown, unknown>['audit'] },
  input: { name: string; certificatePem: string; privateKeyPem: string },
  requestId?: string,
) {
  const info = inspectCertificate(input.certificatePem, input.privateKeyPem);
  if (await db().certificate.findUnique({ where: { name: input.name } })) {
    throw new ApiError(
      'API_VALIDATION',
      { summary: `name: "${input.name}" is taken.` },
      { fields: [{ path: 'name', message: 'A certificate with this name exists.' }] },
    );
  }
  const row = await mutate(
    async (tx) => {
      if (requestId) await tx.certificateRequest.delete({ where: { id: requestId } });
      return tx.certificate.create({ data: { ...input, privateKeyPem: sealPrivateKey(input.name, input.privateKeyPem), ...info } });
    },
    (r) => ctx.audit({ action: 'certificate.create', objectType: 'certificate', objectId: r.id, after: certView(r), outcome: 'success' }),
  );
  return certView(row);
}

type RequestRow = { id: string; name: string; subject: string; altNames: string; keyType: string; csrPem: string; createdBy: string; createdAt: Date };
const requestView = (r: RequestRow, isRenewal: boolean) => ({
  id: r.id,
  name: r.name,
  subject: r.subject,
  altNames: JSON.parse(r.altNames) as string[],
  keyType: r.keyType,
  csrPem: r.csrPem,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  isRenewal,
});

/**
 * A certificate's new PEM (and key) under its old name, in one transaction with its audit row (and the request it
 * completes, if any): the services naming it pick it up at the next apply, as the pending changes show.
 */
async function replaceCertificate(
  ctx: { audit: RouteContext<unknown, unknown>['audit'] },
  id: string,
  name: string,
  certificatePem: string,
  privateKeyPem: string,
  requestId?: string,
) {
  const info = inspectCertificate(certificatePem, privateKeyPem);
  const r = await mutate(
    async (tx) => {
      const before = await tx.certificate.findUniqueOrThrow({ where: { id } });
      const after = await tx.certificate.update({ where: { id }, data: { certificatePem, privateKeyPem: sealPrivateKey(name, privateKeyPem), ...info } });
      if (requestId) await tx.certificateRequest.delete({ where: { id: requestId } });
      return { before, after, usedBy: await servicesUsing(tx, name) };
    },
    (r) =>
      ctx.audit({
        action: 'certificate.replace',
        objectType: 'certificate',
        objectId: id,
        before: certView(r.before),
        after: { ...certView(r.after), usedBy: r.usedBy, fromRequest: requestId ?? null },
        outcome: 'success',
      }),
  );
  return certView(r.after);
}

export const certificateRoutes = [
  defineRoute({
    method: 'GET',
    path: '/certificates',
    response: z.object({ items: z.array(CertificateDetailView) }),
    permission: 'config:read',
    tag: 'certificates',
    action: 'certificate.list',
    objectType: 'certificate',
    summary: 'List certificates with issuer, alternative names, chain, expiry and the services using each (never private keys)',
    async handler() {
      const rows = await db().certificate.findMany({ orderBy: { name: 'asc' } });
      return {
        body: {
          items: await Promise.all(
            rows.map(async (c) => ({ ...certView(c), ...describeCertificate(c.certificatePem), usedBy: await servicesUsing(db(), c.name) })),
          ),
        },
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/certificates',
    response: CertificateView,
    permission: 'config:write',
    tag: 'certificates',
    action: 'certificate.create',
    objectType: 'certificate',
    summary: 'Upload a certificate and its private key (PEM)',
    body: CertificateSchema,
    async handler(ctx) {
      return { status: 201, body: await storeCertificate(ctx, ctx.body) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/certificates/import-pfx',
    response: CertificateView,
    permission: 'config:write',
    tag: 'certificates',
    action: 'certificate.create',
    objectType: 'certificate',
    summary: 'Import a certificate, its chain and its private key from a PFX / PKCS#12 file',
    body: z.strictObject({
      name: NameSchema,
      pfxBase64: z
        .string()
        .min(1, 'Choose the PFX file.')
        .max(1_000_000, 'The file is larger than 750 KB.')
        .regex(/^[A-Za-z0-9+/=\s]+$/, 'Send the file as base64.'),
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
    method: 'DELETE',
    path: '/certificates/:id',
    permission: 'config:write',
    tag: 'certificates',
    action: 'certificate.delete',
    objectType: 'certificate',
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
          if (users.length)
            throw new ApiError('API_CONFLICT', {
              reason: `Certificate "${c.name}" is used by ${users.map((u) => `"${u.name}"`).join(', ')}; change those services first.`,
            });
          await tx.certificate.delete({ where: { id: c.id } });
          return c;
        },
        (r) => ctx.audit({ action: 'certificate.delete', objectType: 'certificate', objectId: r.id, before: certView(r), outcome: 'success' }),
      );
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/floating-ips',
    permission: 'config:read',
    tag: 'floating-ips',
    action: 'floating-ip.list',
    objectType: 'floating-ip',
    summary: 'List floating IPs',
    async handler() {
      return { body: { items: await db().floatingIp.findMany({ orderBy: { address: 'asc' } }) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/floating-ips',
    permission: 'config:write',
    tag: 'floating-ips',
    action: 'floating-ip.create',
    objectType: 'floating-ip',
    summary: 'Add a floating IP (staged until applied)',
    body: FloatingIpSchema,
    async handler(ctx) {
      if (await db().floatingIp.findUnique({ where: { address: ctx.body.address } })) {
        throw new ApiError(
          'API_VALIDATION',
          { summary: `address: ${ctx.body.address} is already a floating IP.` },
          { fields: [{ path: 'address', message: 'This address is already a floating IP.' }] },
        );
      }
      const row = await mutate(
        async (tx) => {
          const row = await tx.floatingIp.create({
            data: { address: ctx.body.address, interface: ctx.body.interface, prefixLength: ctx.body.prefixLength ?? null },
          });
          await refuseIfHaBreaks(tx, 'address'); // a node's own address may not float
          return row;
        },
        (r) => ctx.audit({ action: 'floating-ip.create', objectType: 'floating-ip', objectId: r.id, after: r, outcome: 'success' }),
      );
      return { status: 201, body: row };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/floating-ips/:id',
    permission: 'config:write',
    tag: 'floating-ips',
    action: 'floating-ip.delete',
    objectType: 'floating-ip',
    summary: 'Remove a floating IP (staged until applied)',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const f = await tx.floatingIp.findUnique({ where: { id: ctx.params.id } });
          if (!f) throw new ApiError('API_NOT_FOUND', { what: `Floating IP ${ctx.params.id}` });
          await tx.floatingIp.delete({ where: { id: f.id } });
          await refuseIfHaBreaks(tx, 'address'); // listed in the HA settings' moving addresses
          return f;
        },
        (r) => ctx.audit({ action: 'floating-ip.delete', objectType: 'floating-ip', objectId: r.id, before: r, outcome: 'success' }),
      );
      return { status: 204 };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/certificates/:id',
    response: CertificateView,
    permission: 'config:write',
    tag: 'certificates',
    action: 'certificate.replace',
    objectType: 'certificate',
    summary: 'Replace a certificate in place (renewal), keeping its name and, if no new key is given, its key; staged until applied',
    body: z.strictObject({ certificatePem: CertificateSchema.shape.certificatePem, privateKeyPem: CertificateSchema.shape.privateKeyPem.optional() }),
    async handler(ctx) {
      const c = await db().certificate.findUnique({ where: { id: ctx.params.id } });
      if (!c) throw new ApiError('API_NOT_FOUND', { what: `Certificate ${ctx.params.id}` });
      const privateKeyPem = ctx.body.privateKeyPem ?? openPrivateKey(c.name, c.privateKeyPem);
      return { body: await replaceCertificate(ctx, c.id, c.name, ctx.body.certificatePem, privateKeyPem) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/certificate-requests',
    response: z.object({ items: z.array(CertificateRequestView) }),
    permission: 'config:read',
    tag: 'certificates',
    action: 'certificate-request.list',
    objectType: 'certificate-request',
    summary: "List keys made here that wait for their CA's certificate (with their requests, never the keys)",
    async handler() {
      const rows = await db().certificateRequest.findMany({ orderBy: { createdAt: 'desc' } });
      const names = new Set((await db().certificate.findMany({ select: { name: true } })).map((c) => c.name));
      return { body: { items: rows.map((r) => requestView(r, names.has(r.name))) } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/certificate-requests',
    response: CertificateRequestView,
    permission: 'config:write',
    tag: 'certificates',
    action: 'certificate-request.create',
    objectType: 'certificate-request',
    summary: 'Make a private key here and a certificate signing request (CSR) for it; name an existing certificate to renew it',
    body: z.strictObject({
      name: NameSchema,
      commonName: z
        .string()
        .min(1, 'Give the common name, usually the host name clients use.')
        .max(64, 'Use at most 64 characters.')
        // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
        .regex(/^[^\u0000-\u001f]+$/, 'Use printable characters.'),
      organization: z.string().max(64).optional(),
      organizationalUnit: z.string().max(64).optional(),
      locality: z.string().max(128).optional(),
      country: z
        .string()
        .regex(/^[A-Z]{2}$/, 'Use the two-letter country code, such as GB.')
        .optional(),
      altNames: z
        .array(z.string().regex(/^(DNS:[A-Za-z0-9*][A-Za-z0-9.*-]*|IP:[0-9A-Fa-f.:]+)$/, 'Write each as DNS:name or IP:address.'))
        .max(100)
        .default([]),
      keyType: z.enum(KEY_TYPES).default('ec-p256'),
    }),
    async handler(ctx) {
      if (await db().certificateRequest.findUnique({ where: { name: ctx.body.name } })) {
        throw new ApiError(
          'API_DUPLICATE',
          { what: 'a certificate request', field: 'name' },
          { fields: [{ path: 'name', message: 'A request with this name waits for its certificate; complete or discard it first.' }] },
        );
      }
      const r = await generateRequest(ctx.body);
      const row = await mutate(
        (tx) =>
          tx.certificateRequest.create({
            data: {
              name: ctx.body.name,
              subject: `CN=${ctx.body.commonName}`,
              altNames: JSON.stringify(r.altNames),
              keyType: ctx.body.keyType,
              csrPem: r.csrPem,
              privateKeyPem: sealPrivateKey(ctx.body.name, r.privateKeyPem),
              createdBy: ctx.actor.name,
            },
          }),
        (row) =>
          ctx.audit({
            action: 'certificate-request.create',
            objectType: 'certificate-request',
            objectId: row.id,
            after: { name: row.name, subject: row.subject, altNames: r.altNames, keyType: row.keyType },
            outcome: 'success',
          }),
        { isCandidateChange: false },
      );
      const isRenewal = !!(await db().certificate.findUnique({ where: { name: row.name } }));
      return { status: 201, body: requestView(row, isRenewal) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/certificate-requests/:id/complete',
    response: CertificateView,
    permission: 'config:write',
    tag: 'certificates',
    action: 'certificate-request.complete',
    objectType: 'certificate-request',
    summary: "Give the CA's certificate for a request: it becomes a certificate, or replaces the one of its name in place (staged)",
    body: z.strictObject({ certificatePem: CertificateSchema.shape.certificatePem }),
    async handler(ctx) {
      const req = await db().certificateRequest.findUnique({ where: { id: ctx.params.id } });
      if (!req) throw new ApiError('API_NOT_FOUND', { what: `Certificate request ${ctx.params.id}` });
      const privateKeyPem = openPrivateKey(req.name, req.privateKeyPem);
      let isMatch = false;
      try {
        isMatch = certificateMatchesKey(ctx.body.certificatePem, privateKeyPem);
      } catch {
        throw new ApiError(
          'API_VALIDATION',
          { summary: 'certificatePem: this is not a readable PEM certificate.' },
          { fields: [{ path: 'certificatePem', message: 'This is not a readable PEM certificate.' }] },
        );
      }
      if (!isMatch)
        throw new ApiError(
          'API_VALIDATION',
          { summary: `certificatePem: this certificate is not for the key of request "${req.name}".` },
          {
            fields: [
              { path: 'certificatePem', message: `This certificate was not issued for the key of request "${req.name}"; check you pasted the right one.` },
            ],
          },
        );
      const existing = await db().certificate.findUnique({ where: { name: req.name } });
      const body = existing
        ? await replaceCertificate(ctx, existing.id, req.name, ctx.body.certificatePem, privateKeyPem, req.id)
        : await storeCertificate(ctx, { name: req.name, certificatePem: ctx.body.certificatePem, privateKeyPem }, req.id);
      return { status: existing ? 200 : 201, body };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/certificate-requests/:id',
    permission: 'config:write',
    tag: 'certificates',
    action: 'certificate-request.delete',
    objectType: 'certificate-request',
    summary: 'Discard a certificate request and its key',
    async handler(ctx) {
      await mutate(
        async (tx) => {
          const r = await tx.certificateRequest.findUnique({ where: { id: ctx.params.id } });
          if (!r) throw new ApiError('API_NOT_FOUND', { what: `Certificate request ${ctx.params.id}` });
          await tx.certificateRequest.delete({ where: { id: r.id } });
          return r;
        },
        (r) =>
          ctx.audit({
            action: 'certificate-request.delete',
            objectType: 'certificate-request',
            objectId: r.id,
            before: { name: r.name, subject: r.subject },
            outcome: 'success',
          }),
        { isCandidateChange: false },
      );
      return { status: 204 };
    },
  }),
];
