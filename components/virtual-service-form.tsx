'use client';
/**
 * Create or edit a virtual service with its real servers. The form parses with the same schema as the API and the
 * engine (engine/config), so most mistakes are shown at the field before anything is sent; rules that need the rest
 * of the configuration (a VIP:port already used, an L4 SNAT / L7 clash) come back from the API and land at the
 * same fields.
 */
import { useRouter } from 'next/navigation';
import { useEffect, useState, type FormEvent } from 'react';
import { VirtualServiceSchema, LAYER4_MODES, LAYER7_MODES, LAYER4_SCHEDULERS, LAYER7_SCHEDULERS } from '@/engine/config/schema.ts';
import { api, ApiCallError } from './api-client';
import { Button } from './ui/button';
import { Field, Input, Select } from './ui/field';
import { Card, ErrorBox, PageTitle } from './ui/card';
import { DEFAULT_HEALTH_CHECK, HealthCheckFields, healthCheckForm, healthFieldOf, toHealthCheck, type HealthCheckForm } from './health-check-fields';

type RsForm = { id?: string; name: string; address: string; port: string; weight: string; isBackup: boolean; state?: string };
type Form = {
  name: string; description: string; layer: '4' | '7'; mode: string; protocol: string; address: string; ports: string; scheduler: string;
  persistence: string; persistenceTimeout: string; hc: HealthCheckForm;
  xForwardedFor: boolean; certificate: string; realServers: RsForm[];
};

const SCHEDULER_TEXT: Record<string, string> = {
  rr: 'round robin', wrr: 'weighted round robin', lc: 'least connections', wlc: 'weighted least connections', sh: 'source hash', dh: 'destination hash',
  mh: 'maglev hash', sed: 'shortest expected delay', nq: 'never queue', lblc: 'locality-based least connections', lblcr: 'LBLC with replication',
  fo: 'first available (failover)', ovf: 'overflow', uri: 'URI hash', p2c: 'random, two choices',
};
const MODE_TEXT: Record<string, string> = { dr: 'DR — direct routing (fastest, transparent)', nat: 'NAT — real servers route back via Fulcrum', snat: 'SNAT — no change on real servers', tun: 'TUN — IP-in-IP tunnel', http: 'HTTP — full proxy', tcp: 'TCP — full proxy' };

const emptyRs = (): RsForm => ({ name: '', address: '', port: '', weight: '100', isBackup: false });
const empty: Form = {
  name: '', description: '', layer: '4', mode: 'dr', protocol: 'tcp', address: '', ports: '80', scheduler: 'wlc', persistence: 'none', persistenceTimeout: '3600',
  hc: DEFAULT_HEALTH_CHECK, xForwardedFor: true, certificate: '', realServers: [emptyRs()],
};

function parsePorts(text: string): (number | string)[] {
  return text.split(/[\s,]+/).filter(Boolean).map((t) => (/^\d+$/.test(t) ? Number(t) : t));
}

function toInput(f: Form, existing?: Record<string, any>) {
  const layer = Number(f.layer) as 4 | 7;
  const persistence = f.persistence === 'none' ? { type: 'none' }
    : f.persistence === 'source-ip' ? { type: 'source-ip', timeoutSeconds: Number(f.persistenceTimeout) }
    : f.persistence === 'http-cookie' ? { type: 'http-cookie' }
    : f.persistence === 'app-cookie' ? { type: 'app-cookie', cookieName: 'JSESSIONID', timeoutSeconds: Number(f.persistenceTimeout) }
    : { type: 'rdp-cookie', timeoutSeconds: Number(f.persistenceTimeout) };
  const healthCheck = toHealthCheck(f.hc);
  const layer7 = layer === 7 ? { ...(existing?.layer7 ?? {}), xForwardedFor: f.xForwardedFor, ...(f.certificate ? { tls: { ...(existing?.layer7?.tls ?? {}), certificate: f.certificate } } : {}) } : undefined;
  if (layer7 && !f.certificate) delete (layer7 as Record<string, unknown>).tls;
  const keep = existing ? Object.fromEntries(Object.entries(existing).filter(([k]) => !['id', 'version', 'createdAt', 'updatedAt', 'realServers', 'layer4', 'layer7'].includes(k))) : {};
  return {
    ...keep,
    ...(layer === 4 && existing?.layer4 ? { layer4: existing.layer4 } : {}),
    name: f.name, ...(f.description ? { description: f.description } : { description: undefined }), layer, mode: f.mode, protocol: f.protocol, address: f.address.trim(),
    ports: parsePorts(f.ports), scheduler: f.scheduler, persistence, healthCheck, ...(layer7 ? { layer7 } : {}),
    realServers: f.realServers.map((r) => {
      const prev = existing?.realServers?.find((x: { name: string }) => x.name === r.name) ?? {};
      const { id: _i, version: _v, createdAt: _c, updatedAt: _u, ...prevSpec } = prev;
      return { ...prevSpec, name: r.name.trim(), address: r.address.trim(), ...(r.port ? { port: Number(r.port) } : { port: undefined }), weight: Number(r.weight), isBackup: r.isBackup, ...(r.state ? { state: r.state } : {}) };
    }),
  };
}

function fromExisting(vs: any): Form {
  const p = vs.persistence ?? { type: 'none' };
  return {
    name: vs.name, description: vs.description ?? '', layer: String(vs.layer) as '4' | '7', mode: vs.mode, protocol: vs.protocol, address: vs.address, ports: (vs.ports ?? []).join(', '),
    scheduler: vs.scheduler, persistence: p.type, persistenceTimeout: String(p.timeoutSeconds ?? 3600), hc: healthCheckForm(vs.healthCheck),
    xForwardedFor: vs.layer7?.xForwardedFor ?? true,
    certificate: vs.layer7?.tls?.certificate ?? '',
    realServers: vs.realServers.map((r: any) => ({ id: r.id, name: r.name, address: r.address, port: r.port ? String(r.port) : '', weight: String(r.weight), isBackup: r.isBackup, state: r.state })),
  };
}

export function VirtualServiceForm({ id }: { id?: string }) {
  const router = useRouter();
  const [form, setForm] = useState<Form>(empty);
  const [existing, setExisting] = useState<any>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [apiError, setApiError] = useState<ApiCallError | null>(null);
  const [certificates, setCertificates] = useState<{ name: string }[]>([]);
  const [isBusy, setBusy] = useState(false);

  useEffect(() => {
    api<{ items: { name: string }[] }>('GET', '/certificates').then((r) => setCertificates(r.items)).catch(() => undefined);
    if (id) api('GET', `/virtual-services/${id}`).then((vs) => { setExisting(vs); setForm(fromExisting(vs)); }).catch((e) => setApiError(e));
  }, [id]);

  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));
  const setRs = (i: number, patch: Partial<RsForm>) => setForm((f) => ({ ...f, realServers: f.realServers.map((r, j) => (j === i ? { ...r, ...patch } : r)) }));
  const changeLayer = (layer: '4' | '7') => setForm((f) => ({ ...f, layer, mode: layer === '4' ? 'dr' : 'http', scheduler: layer === '4' ? 'wlc' : 'wrr', protocol: 'tcp', persistence: 'none' }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setApiError(null);
    const input = toInput(form, existing ?? undefined);
    const local = VirtualServiceSchema.safeParse(input);
    if (!local.success) {
      const errs: Record<string, string> = {};
      for (const i of local.error.issues) errs[i.path.join('.')] ??= i.message;
      setErrors(errs);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      if (id) await api('PUT', `/virtual-services/${id}`, input, { ifMatch: existing.version });
      else await api('POST', '/virtual-services', input);
      router.push('/');
      router.refresh();
    } catch (err) {
      const ae = err as ApiCallError;
      setErrors(ae.fields ?? {});
      setApiError(ae);
      setBusy(false);
    }
  }

  if (id && !existing) return apiError ? <ErrorBox error={apiError.body} /> : <p className="text-sm text-slate-600" role="status">Loading the virtual service…</p>;
  const isL4 = form.layer === '4';
  const err = (p: string) => errors[p];
  const orphanErrors = Object.entries(errors).filter(([p]) => !KNOWN_PATHS.test(p) && !healthFieldOf(p));
  const setHc = (patch: Partial<HealthCheckForm>) => setForm((f) => ({ ...f, hc: { ...f.hc, ...patch } }));
  return (
    <form method="post" onSubmit={submit} noValidate className="space-y-5">
      <PageTitle sub="Changes are staged: nothing reaches the engine until you review and apply them.">{id ? `Edit ${existing?.name ?? ''}` : 'New virtual service'}</PageTitle>
      {apiError && <ErrorBox error={apiError.body} />}
      {orphanErrors.length > 0 && <ul className="list-disc pl-5 text-sm text-red-800" role="alert">{orphanErrors.map(([p, m]) => <li key={p}><code>{p}</code>: {m}</li>)}</ul>}
      <Card title="Service">
        <div className="grid gap-4 md:grid-cols-2">
          <Field label="Name" error={err('name')} hint="For example symphony-web.">{(p) => <Input {...p} name="name" value={form.name} onChange={(e) => set('name', e.target.value)} />}</Field>
          <Field label="Description" error={err('description')}>{(p) => <Input {...p} name="description" value={form.description} onChange={(e) => set('description', e.target.value)} />}</Field>
          <Field label="Layer" error={err('layer')}>{(p) => (
            <Select {...p} name="layer" value={form.layer} onChange={(e) => changeLayer(e.target.value as '4' | '7')}>
              <option value="4">Layer 4 (kernel IPVS)</option><option value="7">Layer 7 (proxy)</option>
            </Select>)}</Field>
          <Field label="Mode" error={err('mode')}>{(p) => (
            <Select {...p} name="mode" value={form.mode} onChange={(e) => set('mode', e.target.value)}>
              {(isL4 ? LAYER4_MODES : LAYER7_MODES).map((m) => <option key={m} value={m}>{MODE_TEXT[m]}</option>)}
            </Select>)}</Field>
          <Field label="Virtual IP (VIP)" error={err('address')} hint="IPv4 or IPv6.">{(p) => <Input {...p} name="address" value={form.address} onChange={(e) => set('address', e.target.value)} placeholder="192.168.10.50" />}</Field>
          <Field label="Ports" error={err('ports') ?? Object.entries(errors).find(([k]) => k.startsWith('ports.'))?.[1]} hint="Comma-separated; ranges like 8000-8010 at layer 4.">{(p) => <Input {...p} name="ports" value={form.ports} onChange={(e) => set('ports', e.target.value)} />}</Field>
          <Field label="Protocol" error={err('protocol')}>{(p) => (
            <Select {...p} name="protocol" value={form.protocol} onChange={(e) => set('protocol', e.target.value)} disabled={!isL4}>
              <option value="tcp">TCP</option>{isL4 && <><option value="udp">UDP</option><option value="both">TCP and UDP</option></>}
            </Select>)}</Field>
          <Field label="Scheduler" error={err('scheduler')}>{(p) => (
            <Select {...p} name="scheduler" value={form.scheduler} onChange={(e) => set('scheduler', e.target.value)}>
              {(isL4 ? LAYER4_SCHEDULERS : LAYER7_SCHEDULERS).map((s) => <option key={s} value={s}>{s} — {SCHEDULER_TEXT[s]}</option>)}
            </Select>)}</Field>
          <Field label="Persistence" error={err('persistence.type') ?? err('persistence')}>{(p) => (
            <Select {...p} name="persistence" value={form.persistence} onChange={(e) => set('persistence', e.target.value)}>
              <option value="none">None</option><option value="source-ip">Source IP</option>
              {!isL4 && form.mode === 'http' && <><option value="http-cookie">HTTP cookie (inserted)</option><option value="app-cookie">Application cookie (JSESSIONID)</option></>}
              {!isL4 && form.mode === 'tcp' && <option value="rdp-cookie">RDP cookie</option>}
            </Select>)}</Field>
          {form.persistence !== 'none' && form.persistence !== 'http-cookie' && (
            <Field label="Persistence timeout (s)" error={err('persistence.timeoutSeconds')}>{(p) => <Input {...p} name="persistenceTimeout" inputMode="numeric" value={form.persistenceTimeout} onChange={(e) => set('persistenceTimeout', e.target.value)} />}</Field>
          )}
          {!isL4 && (
            <>
              <Field label="TLS certificate" error={err('layer7.tls.certificate')} hint="Terminate TLS with an uploaded certificate.">{(p) => (
                <Select {...p} name="certificate" value={form.certificate} onChange={(e) => set('certificate', e.target.value)}>
                  <option value="">No TLS</option>{certificates.map((c) => <option key={c.name} value={c.name}>{c.name}</option>)}
                </Select>)}</Field>
              <label className="flex items-center gap-2 self-end text-sm"><input type="checkbox" checked={form.xForwardedFor} onChange={(e) => set('xForwardedFor', e.target.checked)} /> Add X-Forwarded-For (client address to real servers)</label>
            </>
          )}
        </div>
        {isL4 && form.mode === 'dr' && <p className="mt-3 text-xs text-slate-600">DR: each real server must hold the VIP on a non-ARPing interface (&quot;solving the ARP problem&quot;), be on a subnet Fulcrum has an interface in, and listen on the VIP&apos;s port — DR cannot translate ports.</p>}
      </Card>
      <Card title="Health check"><HealthCheckFields value={form.hc} onChange={setHc} errors={errors} /></Card>
      <Card title="Real servers" actions={<Button variant="secondary" onClick={() => set('realServers', [...form.realServers, emptyRs()])}>Add real server</Button>}>
        <div className="space-y-3">
          {form.realServers.map((r, i) => (
            <fieldset key={i} className="grid items-start gap-3 rounded-md border border-slate-200 p-3 md:grid-cols-[1fr_1fr_10rem_6rem_auto_auto]" aria-label={`Real server ${i + 1}`}>
              <Field label="Name" error={err(`realServers.${i}.name`)}>{(p) => <Input {...p} name={`rs-${i}-name`} value={r.name} onChange={(e) => setRs(i, { name: e.target.value })} />}</Field>
              <Field label="Address" error={err(`realServers.${i}.address`)}>{(p) => <Input {...p} name={`rs-${i}-address`} value={r.address} onChange={(e) => setRs(i, { address: e.target.value })} />}</Field>
              <Field label="Port" error={err(`realServers.${i}.port`)} hint="Empty: same as VIP">{(p) => <Input {...p} name={`rs-${i}-port`} inputMode="numeric" value={r.port} onChange={(e) => setRs(i, { port: e.target.value })} />}</Field>
              <Field label="Weight" error={err(`realServers.${i}.weight`)}>{(p) => <Input {...p} name={`rs-${i}-weight`} inputMode="numeric" value={r.weight} onChange={(e) => setRs(i, { weight: e.target.value })} />}</Field>
              <label className="mt-7 flex items-center gap-2 text-sm"><input type="checkbox" checked={r.isBackup} onChange={(e) => setRs(i, { isBackup: e.target.checked })} /> Backup</label>
              <Button variant="ghost" className="mt-6" aria-label={`Remove real server ${i + 1}`} onClick={() => set('realServers', form.realServers.filter((_, j) => j !== i))}>Remove</Button>
            </fieldset>
          ))}
          {err('realServers') && <p className="text-xs text-red-700" role="alert">{err('realServers')}</p>}
        </div>
      </Card>
      <div className="flex gap-2">
        <Button type="submit" disabled={isBusy}>{isBusy ? 'Saving…' : id ? 'Save (staged)' : 'Create (staged)'}</Button>
        <Button variant="secondary" onClick={() => router.push('/')}>Cancel</Button>
      </div>
    </form>
  );
}

/** Paths shown at a field of this form (healthCheck.* paths land in the health check group: healthFieldOf). */
const KNOWN_PATHS = /^(name|description|layer|mode|address|ports(\.\d+)?|protocol|scheduler|persistence(\.type|\.timeoutSeconds)?|layer7\.tls\.certificate|realServers(\.\d+\.(name|address|port|weight))?)$/;
