'use client';
/** TLS (layer 7): termination with a certificate and policy, the HTTPS redirect, HSTS, and re-encryption to real servers. */
import { AreaControl, BlockToggle, CheckControl, FieldShell, Grid, INPUT, NumberControl, SelectControl, TextControl, useForm } from './controls';
import { blockDefaults, getIn, toDraft } from './model';

export function TlsFields({ certificates }: { certificates: string[] }) {
  const { draft } = useForm();
  const l7 = draft.layer7 ?? {};
  const isHttp = draft.mode === 'http';
  const cert = getIn(draft, 'layer7.tls.certificate') ?? '';
  const certOptions = [...new Set([...certificates, ...(cert ? [cert] : [])])];
  return (
    <div className="space-y-5">
      <div className="space-y-3">
        <BlockToggle
          path="layer7.tls"
          label="Terminate TLS on this service"
          hint="Fulcrum holds the certificate and speaks HTTPS to clients."
          make={() => toDraft(blockDefaults.tls(), 'layer7.tls')}
        />
        {l7.tls && (
          <Grid>
            <SelectControl
              path="layer7.tls.certificate"
              label="TLS certificate"
              name="certificate"
              hint={certOptions.length === 0 ? 'No certificate uploaded yet: add one on the Certificates page.' : 'Sent to clients that ask for no other name.'}
              options={[['', 'Choose a certificate…'], ...certOptions.map((c) => [c, c] as const)]}
            />
            <TextControl
              path="layer7.tls.sniCertificates"
              label="Further certificates, chosen by SNI"
              hint={`Names of uploaded certificates, comma-separated${certificates.length ? `: ${certificates.join(', ')}` : ''}.`}
            />
            <SelectControl
              path="layer7.tls.minVersion"
              label="Lowest TLS version"
              options={[
                ['TLSv1.2', 'TLS 1.2'],
                ['TLSv1.3', 'TLS 1.3'],
              ]}
            />
            <SelectControl
              path="layer7.tls.cipherProfile"
              label="Cipher policy"
              options={[
                ['intermediate', 'Intermediate (Mozilla; broad client support)'],
                ['modern', 'Modern (TLS 1.3 ciphers only)'],
              ]}
            />
            <AlpnControl isHttp={isHttp} />
          </Grid>
        )}
      </div>
      {isHttp && (
        <div className="space-y-3 border-t border-slate-200 pt-4">
          <BlockToggle
            path="layer7.httpsRedirect"
            label="Redirect plain HTTP to HTTPS"
            make={() => toDraft(blockDefaults.httpsRedirect(), 'layer7.httpsRedirect')}
          />
          {l7.httpsRedirect && (
            <Grid>
              <RedirectStatus path="layer7.httpsRedirect.status" label="Redirect status" />
              <NumberControl
                path="layer7.httpsRedirect.port"
                label="HTTPS port clients are sent to"
                placeholder="443"
                hint="Leave empty for 443; give the port of this service's HTTPS listener when it is another."
              />
            </Grid>
          )}
          <BlockToggle
            path="layer7.hsts"
            label="Send HSTS (Strict-Transport-Security)"
            hint="Browsers then use HTTPS only for this name; needs TLS on this service."
            make={() => toDraft(blockDefaults.hsts(), 'layer7.hsts')}
          />
          {l7.hsts && (
            <Grid>
              <NumberControl path="layer7.hsts.maxAgeSeconds" label="HSTS max-age (s)" hint="31536000 is a year; 0 tells browsers to forget." />
              <CheckControl path="layer7.hsts.includeSubDomains" label="Include subdomains" />
            </Grid>
          )}
        </div>
      )}
      <div className="space-y-3 border-t border-slate-200 pt-4">
        <BlockToggle
          path="layer7.reencrypt"
          label="Configure TLS to the real servers (re-encryption)"
          make={() => toDraft({ ...blockDefaults.reencrypt(), isEnabled: true }, 'layer7.reencrypt')}
        />
        {l7.reencrypt && (
          <Grid>
            <CheckControl path="layer7.reencrypt.isEnabled" label="Re-encrypt: speak TLS to the real servers" />
            <CheckControl path="layer7.reencrypt.verify" label="Verify the real servers’ certificates" />
            <TextControl
              path="layer7.reencrypt.serverName"
              label="Server name (SNI) sent to real servers"
              hint="Optional; also the name their certificate must carry."
            />
            <AreaControl
              path="layer7.reencrypt.ca"
              label="CA bundle the real servers’ certificates chain to"
              rows={4}
              placeholder="-----BEGIN CERTIFICATE-----"
              hint="Optional PEM; empty: the system’s CAs."
            />
          </Grid>
        )}
      </div>
    </div>
  );
}

export function RedirectStatus({ path, label }: { path: string; label: string }) {
  return (
    <SelectControl
      path={path}
      label={label}
      options={[
        ['301', '301 Moved Permanently'],
        ['302', '302 Found'],
        ['303', '303 See Other'],
        ['307', '307 Temporary Redirect'],
        ['308', '308 Permanent Redirect'],
      ]}
    />
  );
}

/** ALPN, in the proxy's order of preference; unset lets the schema choose by mode (h2 then http/1.1 for http). */
function AlpnControl({ isHttp }: { isHttp: boolean }) {
  const { draft, set } = useForm();
  const path = 'layer7.tls.alpn';
  const now = String(getIn(draft, path) ?? '')
    .split(/[\n,]+/)
    .map((t) => t.trim())
    .filter(Boolean)
    .join(',');
  const choices: [string, string][] = [
    ['', isHttp ? 'Automatic — HTTP/2, then HTTP/1.1' : 'Automatic — HTTP/1.1'],
    ['h2,http/1.1', 'HTTP/2 preferred, HTTP/1.1 too'],
    ['http/1.1,h2', 'HTTP/1.1 preferred, HTTP/2 too'],
    ['http/1.1', 'HTTP/1.1 only'],
    ['h2', 'HTTP/2 only'],
  ];
  if (!choices.some(([v]) => v === now)) choices.push([now, now]);
  return (
    <FieldShell path={path} label="Protocols offered (ALPN)" hint={isHttp ? undefined : 'HTTP/2 needs an http service: a tcp service passes the bytes on.'}>
      {(p) => (
        <select {...p} name={path} value={now} onChange={(e) => set(path, e.target.value)} className={INPUT}>
          {choices.map(([v, text]) => (
            <option key={v} value={v}>
              {text}
            </option>
          ))}
        </select>
      )}
    </FieldShell>
  );
}
