/**
 * Certificates as an engineer reads them: subject, issuer, subject alternative names, the chain the PEM carries and
 * whether each link is signed by the next, expiry, and which services use each (lib/api/routes/certificates.ts).
 * Keys and signing requests generated on the appliance (generateRequest). Refusals name the field.
 *
 * Reading uses node:crypto's X509Certificate. Node has no API for a certificate signing request, so requests are made
 * with @peculiar/x509 over WebCrypto: in-process (the private key never crosses a pipe or a temporary file, as it
 * would with the openssl CLI), with the subject given as structured attributes rather than an escaped "/CN=…" string,
 * and typed. The tests check every request it makes with the openssl CLI (`openssl req -verify`), a real peer.
 */
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API: its README says to import this first.
import 'reflect-metadata';
import { X509Certificate, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { ApiError } from './errors.ts';

const fieldError = (path: string, message: string) => new ApiError('API_VALIDATION', { summary: `${path}: ${message}` }, { fields: [{ path, message }] });

export function inspectCertificate(certificatePem: string, privateKeyPem: string) {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch (e) {
    throw new ApiError(
      'API_VALIDATION',
      { summary: `certificatePem: ${(e as Error).message}` },
      { fields: [{ path: 'certificatePem', message: 'This is not a readable PEM certificate.' }] },
    );
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(privateKeyPem))) throw new Error('mismatch');
  } catch {
    throw new ApiError(
      'API_VALIDATION',
      { summary: 'privateKeyPem: The private key does not belong to this certificate.' },
      { fields: [{ path: 'privateKeyPem', message: 'The private key does not belong to this certificate (or is encrypted).' }] },
    );
  }
  return { subject: cert.subject.replace(/\n/g, ', '), fingerprint: cert.fingerprint256, notAfter: new Date(cert.validTo) };
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface ChainLink {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  isCa: boolean;
  /** Whether the next certificate in the PEM issued and signed this one (null for the last). */
  isSignedByNext: boolean | null;
}

export interface CertificateDetails {
  subject: string;
  issuer: string;
  altNames: string[];
  serialNumber: string;
  keyType: string;
  notBefore: string;
  chain: ChainLink[];
  /** In words: what a client needs besides what the PEM carries. */
  chainStatus: string;
}

/** Everything the certificates page shows about one stored PEM (leaf first, then intermediates). */
export function describeCertificate(pem: string): CertificateDetails {
  const certs = (pem.match(PEM_BLOCK) ?? []).map((b) => new X509Certificate(b));
  if (!certs.length) throw fieldError('certificatePem', 'There is no certificate in this PEM.');
  const oneLine = (s: string) => s.replace(/\n/g, ', ');
  const chain = certs.map((c, i) => {
    const next = certs[i + 1];
    return {
      subject: oneLine(c.subject),
      issuer: oneLine(c.issuer),
      notBefore: new Date(c.validFrom).toISOString(),
      notAfter: new Date(c.validTo).toISOString(),
      isCa: c.ca,
      isSignedByNext: next ? c.checkIssued(next) && c.verify(next.publicKey) : null,
    };
  });
  const last = certs.at(-1)!;
  const isSelfSigned = last.checkIssued(last) && last.verify(last.publicKey);
  const broken = chain.findIndex((l) => l.isSignedByNext === false);
  const chainStatus =
    broken >= 0
      ? `Certificate ${broken + 1} is not issued by certificate ${broken + 2}: put the leaf first, then each issuer in order.`
      : isSelfSigned
        ? certs.length === 1
          ? 'Self-signed: clients trust it only if they were given it.'
          : 'Complete up to a self-signed root.'
        : `Ends at "${oneLine(last.issuer)}", which clients must already trust (a root they hold).`;
  const leaf = certs[0];
  const key = leaf.publicKey;
  const details = key.asymmetricKeyDetails;
  const keyType =
    key.asymmetricKeyType === 'ec'
      ? `EC ${details?.namedCurve ?? ''}`.trim()
      : `${(key.asymmetricKeyType ?? 'unknown').toUpperCase()} ${details?.modulusLength ?? ''}`.trim();
  return {
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    altNames: leaf.subjectAltName ? leaf.subjectAltName.split(', ') : [],
    serialNumber: leaf.serialNumber,
    keyType,
    notBefore: new Date(leaf.validFrom).toISOString(),
    chain,
    chainStatus,
  };
}

/** Whether the certificate (its leaf) carries the public key of this private key. */
export function certificateMatchesKey(certificatePem: string, privateKeyPem: string): boolean {
  const leaf = new X509Certificate((certificatePem.match(PEM_BLOCK) ?? [certificatePem])[0]);
  const a = leaf.publicKey.export({ type: 'spki', format: 'der' });
  const b = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'der' });
  return a.equals(b);
}

export const KEY_TYPES = ['ec-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

function algorithm(keyType: KeyType) {
  if (keyType === 'ec-p256') return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: Number(keyType.slice(4)) };
}

/**
 * A new private key and a PKCS#10 request for it: subject CN (and O, OU, L, C when given), subject alternative names
 * ("DNS:name" or "IP:address"; the common name is added as a DNS name when it is one and not listed), key usage for a
 * TLS server. Returns PEM text; the caller seals the key.
 */
export async function generateRequest(input: {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  locality?: string;
  country?: string;
  altNames: string[];
  keyType: KeyType;
}) {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const alg = algorithm(input.keyType);
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const name: Record<string, string[]>[] = [{ CN: [input.commonName] }];
  if (input.organization) name.push({ O: [input.organization] });
  if (input.organizationalUnit) name.push({ OU: [input.organizationalUnit] });
  if (input.locality) name.push({ L: [input.locality] });
  if (input.country) name.push({ C: [input.country] });
  const alt = [...input.altNames];
  if (
    /^[a-z0-9*.-]+$/i.test(input.commonName) &&
    input.commonName.includes('.') &&
    !alt.some((a) => a.toLowerCase() === `dns:${input.commonName.toLowerCase()}`)
  )
    alt.unshift(`DNS:${input.commonName}`);
  const generalNames = alt.map((a) => {
    const [kind, ...rest] = a.split(':');
    return { type: kind.toUpperCase() === 'IP' ? ('ip' as const) : ('dns' as const), value: rest.join(':') };
  });
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name,
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension(generalNames),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey));
  const privateKeyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { csrPem: csr.toString('pem'), privateKeyPem, altNames: alt };
}
