/**
 * TLS from the proxy to the real servers (re-encryption), built once per service runtime: one client context, so a
 * new upstream connection does not parse a trust store.
 *
 *   reencrypt.ca   trust                                            as HAProxy's `ca-file`
 *   absent         the system's roots, plus NODE_EXTRA_CA_CERTS     (Node's default store)
 *   given          only the bundle's certificates                   a private CA cannot be bypassed by a public one
 *
 * The schema checks the bundle's PEM shape (it imports nothing but zod); here each block must be a certificate
 * OpenSSL reads, else the service is refused with PROXY_CONFIG_INVALID naming the block — at apply, not at the first
 * connection.
 */
import crypto from 'node:crypto';
import tls from 'node:tls';
import { EngineError } from '../errors.ts';
import type { Layer7Options } from '../config/index.ts';

export interface UpstreamTls {
  servername?: string;
  verify: boolean;
  secureContext: tls.SecureContext;
}

const BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The bundle's certificates as PEM blocks; throws PROXY_CONFIG_INVALID for a block OpenSSL cannot read. */
function caCertificates(service: string, bundle: string): string[] {
  const blocks = bundle.match(BLOCK) ?? [];
  if (blocks.length === 0) throw new EngineError('PROXY_CONFIG_INVALID', { name: service, reason: 'its re-encryption CA bundle holds no PEM certificate' });
  blocks.forEach((pem, i) => {
    try {
      new crypto.X509Certificate(pem);
    } catch (err) {
      throw new EngineError('PROXY_CONFIG_INVALID', {
        name: service,
        reason: `certificate ${i + 1} of its re-encryption CA bundle cannot be read (${(err as Error).message})`,
      });
    }
  });
  return blocks;
}

/** The service's upstream TLS, or undefined when it does not re-encrypt. */
export function upstreamTlsOf(service: string, reencrypt: Layer7Options['reencrypt']): UpstreamTls | undefined {
  if (!reencrypt?.isEnabled) return undefined;
  const ca = reencrypt.ca === undefined ? undefined : caCertificates(service, reencrypt.ca);
  return { servername: reencrypt.serverName, verify: reencrypt.verify, secureContext: tls.createSecureContext(ca === undefined ? {} : { ca }) };
}
