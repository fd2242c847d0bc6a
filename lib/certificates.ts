/**
 * What the console records about an uploaded certificate (subject, SHA-256 fingerprint, expiry), after checking
 * that the private key belongs to it. Refusals name the field, as every API refusal does.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { ApiError } from './errors.ts';

export function inspectCertificate(certificatePem: string, privateKeyPem: string) {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch (e) {
    throw new ApiError('API_VALIDATION', { summary: `certificatePem: ${(e as Error).message}` }, { fields: [{ path: 'certificatePem', message: 'This is not a readable PEM certificate.' }] });
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(privateKeyPem))) throw new Error('mismatch');
  } catch {
    throw new ApiError('API_VALIDATION', { summary: 'privateKeyPem: The private key does not belong to this certificate.' }, { fields: [{ path: 'privateKeyPem', message: 'The private key does not belong to this certificate (or is encrypted).' }] });
  }
  return { subject: cert.subject.replace(/\n/g, ', '), fingerprint: cert.fingerprint256, notAfter: new Date(cert.validTo) };
}
