'use client';
/**
 * Every group of the service form, in the order an engineer thinks of a service: what it is, which servers, how
 * clients stick, how servers are checked, TLS, rules, timeouts and limits, and the rest. Pure: state in, changes
 * out (service-form.tsx owns loading and saving), so the coverage test can render it with any state.
 */
import { HealthCheckFields, type HealthCheckForm } from '../health-check-fields';
import { FormContext } from './controls';
import { sectionOf, type SectionId } from './errors';
import type { FormState } from './model';
import { Section } from './section';
import { BasicsFields, SCHEDULER_TEXT } from './basics-fields';
import { PersistenceFields } from './basics-fields';
import { RealServersFields, type OtherService } from './real-servers';
import { TlsFields } from './tls-fields';
import { RulesFields } from './rules-fields';
import { LimitsFields } from './limits-fields';
import { AdvancedFields } from './advanced-fields';

export interface FormBodyProps {
  state: FormState;
  set: (path: string, value: unknown) => void;
  setHc: (patch: Partial<HealthCheckForm>) => void;
  onLayer: (layer: '4' | '7') => void;
  /** Messages by control path (placed), and by the schema's own path (for the health check group). */
  errors: Record<string, string>;
  rawErrors: Record<string, string>;
  isReadOnly: boolean;
  open: Record<SectionId, boolean>;
  toggle: (s: SectionId) => void;
  certificates: string[];
  others: OtherService[];
  attempt: number;
}

export function FormBody(p: FormBodyProps) {
  const { draft } = p.state;
  const isL7 = String(draft.layer) === '7';
  const count = (s: SectionId) => Object.keys(p.rawErrors).filter((k) => sectionOf(k) === s).length;
  const sec = (id: SectionId, title: string, summary: string, children: React.ReactNode) => (
    <Section key={id} id={id} title={title} summary={summary} isOpen={p.open[id]} onToggle={() => p.toggle(id)} problems={count(id)}>
      {children}
    </Section>
  );
  const l7 = draft.layer7 ?? {};
  const rsCount = (draft.realServers ?? []).length;
  return (
    <FormContext.Provider value={{ draft, set: p.set, errors: p.errors, isReadOnly: p.isReadOnly }}>
      <div className="space-y-3">
        {sec(
          'basics',
          'Basics',
          `Layer ${draft.layer} ${draft.mode} · ${draft.scheduler} (${SCHEDULER_TEXT[draft.scheduler] ?? ''})`,
          <BasicsFields onLayer={p.onLayer} />,
        )}
        {sec(
          'realServers',
          'Real servers',
          `${rsCount} real server${rsCount === 1 ? '' : 's'}`,
          <RealServersFields isLayer7={isL7} others={p.others} attempt={p.attempt} />,
        )}
        {sec('persistence', 'Persistence', draft.persistence?.type ?? 'none', <PersistenceFields />)}
        {sec(
          'health',
          'Health check',
          p.state.hc.type,
          <HealthCheckFields value={p.state.hc} onChange={p.setHc} errors={p.rawErrors} isReadOnly={p.isReadOnly} />,
        )}
        {sec(
          'tls',
          'TLS',
          !isL7 ? 'layer 7 only' : l7.tls ? `on · ${l7.tls.certificate || 'no certificate chosen'}` : 'off',
          isL7 ? <TlsFields certificates={p.certificates} /> : <L4Note what="TLS is terminated by layer 7 services" />,
        )}
        {sec('rules', 'Rules', isL7 && draft.mode === 'http' ? `${ruleCount(l7)} rule${ruleCount(l7) === 1 ? '' : 's'}` : 'layer 7 http only', <RulesFields />)}
        {sec('limits', 'Timeouts and limits', isL7 ? 'proxy timeouts and limits' : 'layer 4: per real server', <LimitsFields />)}
        {sec('advanced', 'Advanced', draft.fallback ? `fallback ${draft.fallback.type}` : 'client address, fallback', <AdvancedFields />)}
      </div>
    </FormContext.Provider>
  );
}

function ruleCount(l7: Record<string, unknown[] | undefined>): number {
  return ['redirects', 'routes', 'urlRewrites', 'requestHeaders', 'responseHeaders'].reduce((n, k) => n + (l7[k]?.length ?? 0), 0);
}

function L4Note({ what }: { what: string }) {
  return <p className="text-sm text-slate-600">{what}; this is a layer 4 service (choose layer 7 under Basics for a full proxy).</p>;
}
