'use client';
/** Basics (what the service is and where it listens) and persistence (which clients stick to which server). */
import { LAYER4_MODES, LAYER4_SCHEDULERS, LAYER7_MODES, LAYER7_SCHEDULERS } from '@/engine/config/schema.ts';
import { CheckControl, Grid, NumberControl, SelectControl, TextControl, useForm } from './controls';
import { blockDefaults, getIn, toDraft } from './model';

export const SCHEDULER_TEXT: Record<string, string> = {
  rr: 'round robin',
  wrr: 'weighted round robin',
  lc: 'least connections',
  wlc: 'weighted least connections',
  sh: 'source hash',
  dh: 'destination hash',
  mh: 'maglev hash',
  sed: 'shortest expected delay',
  nq: 'never queue',
  lblc: 'locality-based least connections',
  lblcr: 'LBLC with replication',
  fo: 'first available (failover)',
  ovf: 'overflow',
  uri: 'URI hash',
  p2c: 'random, two choices',
};
const MODE_TEXT: Record<string, string> = {
  dr: 'DR — direct routing (fastest, transparent)',
  nat: 'NAT — real servers route back via Fulcrum',
  snat: 'SNAT — no change on real servers',
  tun: 'TUN — IP-in-IP tunnel',
  http: 'HTTP — full proxy',
  tcp: 'TCP — full proxy',
};

export function BasicsFields({ onLayer }: { onLayer: (layer: '4' | '7') => void }) {
  const { draft } = useForm();
  const isL4 = String(draft.layer) === '4';
  return (
    <div className="space-y-4">
      <Grid>
        <TextControl path="name" label="Name" hint="For example symphony-web." />
        <TextControl path="description" label="Description" hint="Optional; up to 500 characters." />
        <SelectControl
          path="layer"
          label="Layer"
          onChoose={(v) => onLayer(v as '4' | '7')}
          options={[
            ['4', 'Layer 4 (kernel IPVS)'],
            ['7', 'Layer 7 (proxy)'],
          ]}
        />
        <SelectControl path="mode" label="Mode" options={(isL4 ? LAYER4_MODES : LAYER7_MODES).map((m) => [m, MODE_TEXT[m]] as const)} />
        <TextControl
          path="address"
          label="Virtual IP (VIP)"
          hint={isL4 ? 'IPv4 or IPv6. A service with a firewall mark may leave it empty (IPVS matches the mark alone).' : 'IPv4 or IPv6.'}
          placeholder="192.168.10.50"
        />
        <TextControl path="ports" label="Ports" hint={isL4 ? 'Comma-separated; ranges like 8000-8010 at layer 4.' : 'Comma-separated single ports.'} />
        <SelectControl
          path="protocol"
          label="Protocol"
          options={
            isL4
              ? [
                  ['tcp', 'TCP'],
                  ['udp', 'UDP'],
                  ['both', 'TCP and UDP'],
                ]
              : [['tcp', 'TCP']]
          }
        />
        <SelectControl
          path="scheduler"
          label="Scheduler"
          options={(isL4 ? LAYER4_SCHEDULERS : LAYER7_SCHEDULERS).map((s) => [s, `${s} — ${SCHEDULER_TEXT[s]}`] as const)}
        />
        <TextControl
          path="interface"
          label="Interface for the VIP"
          hint="Optional, for example eth0: Fulcrum brings the VIP up there (and HA moves it)."
          placeholder="eth0"
        />
        {isL4 && (
          <NumberControl
            path="firewallMark"
            label="Firewall mark"
            hint="Optional, layer 4 only: match packets with this mark instead of address and port (multi-port services)."
          />
        )}
        <CheckControl path="isEnabled" label="Enabled" hint="A disabled service stays in the configuration but does not run." />
      </Grid>
      {isL4 && draft.mode === 'dr' && (
        <p className="text-xs text-slate-600">
          DR: each real server must hold the VIP on a non-ARPing interface (&quot;solving the ARP problem&quot;), be on a subnet Fulcrum has an interface in,
          and listen on the VIP&apos;s port — DR cannot translate ports.
        </p>
      )}
    </div>
  );
}

const PERSISTENCE_TEXT: Record<string, string> = {
  none: 'None',
  'source-ip': 'Source IP',
  'http-cookie': 'HTTP cookie (inserted by Fulcrum)',
  'app-cookie': 'Application cookie (learned, e.g. JSESSIONID)',
  'rdp-cookie': 'RDP cookie',
};
/** Which persistence a service of this layer and mode can use (the schema refuses the others at persistence.type). */
export function persistenceChoices(layer: string, mode: string): string[] {
  if (String(layer) === '4') return ['none', 'source-ip'];
  return mode === 'http' ? ['none', 'source-ip', 'http-cookie', 'app-cookie'] : ['none', 'source-ip', 'rdp-cookie'];
}

export function PersistenceFields() {
  const { draft, set } = useForm();
  const type = getIn(draft, 'persistence.type') ?? 'none';
  const choices = persistenceChoices(draft.layer, draft.mode);
  if (!choices.includes(type)) choices.push(type);
  const choose = (t: string) => set('persistence', toDraft(blockDefaults.persistence(t), 'persistence'));
  const timeoutHint = `Default ${(blockDefaults.persistence(type) as { timeoutSeconds?: number }).timeoutSeconds}.`;
  return (
    <Grid>
      <SelectControl path="persistence.type" label="Persistence" onChoose={choose} options={choices.map((c) => [c, PERSISTENCE_TEXT[c]] as const)} />
      {type === 'source-ip' && (
        <>
          <NumberControl path="persistence.timeoutSeconds" label="Persistence timeout (s)" name="persistenceTimeout" noDefault hint={timeoutHint} />
          <NumberControl
            path="persistence.netmaskPrefix"
            label="Group clients by network prefix"
            hint="Optional: clients in the same /N stick together (IPVS netmask); empty, each address on its own."
          />
        </>
      )}
      {(type === 'http-cookie' || type === 'app-cookie') && (
        <TextControl path="persistence.cookieName" label="Cookie name" hint={type === 'app-cookie' ? 'The application’s own session cookie.' : undefined} />
      )}
      {type === 'http-cookie' && (
        <>
          <NumberControl path="persistence.maxIdleSeconds" label="Cookie idle limit (s)" hint="Optional: a cookie unused this long no longer sticks." />
          <NumberControl path="persistence.maxLifeSeconds" label="Cookie lifetime (s)" hint="Optional: the longest a cookie sticks, used or not." />
          <CheckControl path="persistence.httpOnly" label="HttpOnly (scripts cannot read the cookie)" />
          <SelectControl
            path="persistence.secure"
            label="Secure flag"
            options={[
              ['auto', 'Automatic — Secure exactly when this service terminates TLS'],
              ['true', 'Always Secure'],
              ['false', 'Never Secure'],
            ]}
          />
        </>
      )}
      {(type === 'app-cookie' || type === 'rdp-cookie') && (
        <NumberControl path="persistence.timeoutSeconds" label="Session timeout (s)" name="persistenceTimeout" noDefault hint={timeoutHint} />
      )}
    </Grid>
  );
}
