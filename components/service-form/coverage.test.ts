/**
 * Every field of the shared VirtualServiceSchema has a control in the form. The form is rendered (React's server
 * renderer, the real components) in enough states to show every conditional group: each layer and mode, each
 * persistence and fallback kind, each health check kind, every optional block switched on and one item in every
 * list. The schema paths marked on the rendered controls (data-schema-path) are compared with the schema's own
 * leaves (schema-fields.ts): a new schema field without a control fails here, by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { z } from 'zod';
import { HEALTH_CHECK_TYPES, VirtualServiceSchema } from '../../engine/config/schema.ts';
import { DEFAULT_HEALTH_CHECK, type HealthCheckForm } from '../health-check-fields.tsx';
import { FormBody, type FormBodyProps } from './form-body.tsx';
import { SECTIONS } from './errors.ts';
import { blockDefaults, stateFromService, type FormState } from './model.ts';
import { normalPath, schemaLeaves, schemaNodes } from './schema-fields.ts';

const l7Service = {
  name: 'symphony-web',
  layer: 7,
  mode: 'http',
  address: '192.168.10.50',
  ports: [443],
  scheduler: 'wrr',
  persistence: { type: 'http-cookie' },
  fallback: { type: 'server', address: '192.168.10.90' },
  layer7: {
    tls: { certificate: 'symphony' },
    httpsRedirect: {},
    hsts: { maxAgeSeconds: 31536000 },
    reencrypt: { isEnabled: true },
    redirects: [{ match: {}, location: '/' }],
    routes: [{ name: 'api', match: {}, group: 'api' }],
    urlRewrites: [{ pattern: '^/a', replacement: '/b' }],
    requestHeaders: [{ action: 'set', name: 'X-A', value: '1' }],
    responseHeaders: [{ action: 'set', name: 'X-B', value: '2' }],
  },
  realServers: [{ name: 'sym-app-1', address: '192.168.10.61', group: 'api' }],
};
const l4Service = {
  name: 'symphony-dns',
  layer: 4,
  mode: 'nat',
  protocol: 'udp',
  address: '192.168.10.51',
  ports: [53],
  firewallMark: 7,
  scheduler: 'sh',
  persistence: { type: 'source-ip' },
  layer4: { onePacketScheduling: true, schedulerFallback: true, schedulerPort: true },
  realServers: [{ name: 'dns-1', address: '192.168.10.71' }],
};

function stateOf(service: Record<string, unknown>, patch: (s: FormState) => void = () => undefined): FormState {
  const s = stateFromService(VirtualServiceSchema.parse(service));
  s.draft.realServers[0]._open = true;
  patch(s);
  return s;
}

function render(state: FormState, isReadOnly = false): string {
  const props: FormBodyProps = {
    state,
    set: () => undefined,
    setHc: () => undefined,
    onLayer: () => undefined,
    errors: {},
    rawErrors: {},
    isReadOnly,
    open: Object.fromEntries(SECTIONS.map((s) => [s, true])) as FormBodyProps['open'],
    toggle: () => undefined,
    certificates: ['symphony'],
    others: [],
    attempt: 0,
  };
  return renderToStaticMarkup(createElement(FormBody, props));
}

const pathsIn = (html: string) => [...html.matchAll(/data-schema-path="([^"]*)"/g)].map((m) => normalPath(m[1].replace(/&quot;/g, '"')));

/** The states the form is rendered in: together they show every conditional control. */
function states(): FormState[] {
  const hcs: Partial<HealthCheckForm>[] = [
    ...HEALTH_CHECK_TYPES.map((type) => ({ type, hasAgent: true })),
    { type: 'https', bodyMatch: 'text' },
    { type: 'https', bodyMatch: 'regex' },
  ];
  const withHc = (hc: Partial<HealthCheckForm>) => (s: FormState) => {
    s.hc = { ...DEFAULT_HEALTH_CHECK, ...hc };
  };
  const persistence = (type: string) => (s: FormState) => {
    s.draft.persistence = blockDefaults.persistence(type);
  };
  return [
    ...hcs.map((hc) => stateOf(l7Service, withHc(hc))),
    stateOf(l7Service, persistence('app-cookie')),
    stateOf({ ...l7Service, mode: 'tcp', layer7: {}, persistence: { type: 'rdp-cookie' } }),
    stateOf({ ...l7Service, fallback: { type: 'maintenance-page' } }),
    stateOf(l4Service),
  ];
}

/** Schema leaves no rendered control is marked with. */
export function uncovered(leaves: string[], rendered: Iterable<string>): string[] {
  const seen = new Set(rendered);
  return leaves.filter((l) => !seen.has(l));
}

test('every field of VirtualServiceSchema has a control in the form', () => {
  const rendered = new Set(states().flatMap((s) => pathsIn(render(s))));
  const leaves = schemaLeaves(VirtualServiceSchema).map((l) => l.path);
  assert.ok(leaves.length > 100, `the schema walk found only ${leaves.length} fields`);
  assert.deepEqual(uncovered(leaves, rendered), [], 'these schema fields have no control in components/service-form');
});

test('every control names a real schema path (no control edits a field the schema does not have)', () => {
  const known = new Set(schemaNodes(VirtualServiceSchema).map((n) => n.path));
  const rendered = new Set(states().flatMap((s) => pathsIn(render(s))));
  assert.deepEqual(
    [...rendered].filter((p) => !known.has(p)),
    [],
  );
});

test('the comparison names a field that has no control', () => {
  const Extended = z.object({
    ...z.object({}).shape,
    name: z.string(),
    layer7: z.object({ compression: z.object({ level: z.number().default(6) }).optional() }),
  });
  const leaves = schemaLeaves(Extended).map((l) => l.path);
  assert.deepEqual(leaves, ['name', 'layer7.compression.level']);
  assert.deepEqual(uncovered(leaves, ['name']), ['layer7.compression.level']);
});

test('the health check group is covered kind by kind (send-expect and DICOM have their own fields)', () => {
  const of = (type: string) =>
    new Set(
      pathsIn(
        render(
          stateOf(l7Service, (s) => {
            s.hc = { ...DEFAULT_HEALTH_CHECK, type };
          }),
        ),
      ),
    );
  assert.ok(of('send-expect').has('healthCheck.sendExpect.expect'));
  assert.ok(!of('connect').has('healthCheck.dicom.calledAeTitle'));
  assert.ok(of('dicom-echo').has('healthCheck.dicom.calledAeTitle'));
  assert.ok(of('dicom-echo').has('healthCheck.dicom.callingAeTitle'));
});

test('for a role that may not write, every control of the schema is disabled (sections, pages and filter still work)', () => {
  for (const s of states()) {
    const html = render(s, true);
    const tags = [...html.matchAll(/<(input|select|textarea)\b[^>]*>/g)].map((m) => m[0]);
    const editing = tags.filter((t) => t.includes('data-schema-path='));
    assert.ok(editing.length > 20);
    assert.deepEqual(
      editing.filter((t) => !/\sdisabled(=""|\s|>)/.test(t)),
      [],
    );
    const bulk = [...html.matchAll(/<button\b[^>]*>(Add [^<]*)</g)].filter((m) => !/\sdisabled(=""|\s|>)/.test(m[0])).map((m) => m[1]);
    assert.deepEqual(bulk, [], 'add buttons enabled for a viewer');
  }
});
