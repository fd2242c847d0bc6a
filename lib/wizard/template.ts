/**
 * Wizard templates are data: one JSON file per application in lib/wizard/templates/. Adding an application is adding
 * a file (the step engine in engine.ts knows no application by name). This module holds the templates' own schema
 * and reads the directory once; a file that does not match the schema stops the console with the file's name and
 * the field, rather than showing a half-working wizard.
 *
 * A template names its modes (the deployment methods the vendor recommends), each with the trade-offs in plain words,
 * the default ports (labelled, editable), scheduler, persistence, health check and, for layer 7, the proxy options.
 * The values are checked again where they belong: everything a template sets ends up in a VirtualService that the
 * one config schema (engine/config) parses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type HEALTH_CHECK_TYPES, LAYER4_MODES, LAYER7_MODES, NameSchema, SCHEDULERS } from '../../engine/config/index.ts';

export const PERSISTENCE_CHOICES = ['none', 'source-ip', 'http-cookie'] as const;
/** The health checks a wizard offers (a subset of the schema's kinds: the ones a person can set up in one step). */
export const WIZARD_CHECKS = ['http', 'https', 'connect', 'dicom-echo', 'none'] as const satisfies readonly (typeof HEALTH_CHECK_TYPES)[number][];

export const TemplatePortSchema = z.strictObject({
  port: z.number().int().min(1).max(65535),
  label: z.string().min(1).max(40),
  /** Layer 7: this port terminates TLS (needs a certificate). Layer 4 passes it through either way. */
  isTls: z.boolean().default(false),
});

export const TemplateModeSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]{1,32}$/),
  label: z.string().min(1).max(80),
  layer: z.union([z.literal(4), z.literal(7)]),
  mode: z.enum([...LAYER4_MODES, ...LAYER7_MODES]),
  summary: z.string().min(1).max(500),
  pros: z.array(z.string().min(1).max(400)).min(1),
  cons: z.array(z.string().min(1).max(400)).min(1),
  ports: z.array(TemplatePortSchema).min(1).max(8),
  scheduler: z.enum(SCHEDULERS),
  persistence: z.strictObject({
    type: z.enum(PERSISTENCE_CHOICES),
    timeoutSeconds: z.number().int().positive().optional(),
    cookieName: z.string().optional(),
  }),
  persistenceChoices: z.array(z.enum(PERSISTENCE_CHOICES)).min(1),
  healthCheck: z.strictObject({
    type: z.enum(WIZARD_CHECKS),
    path: z.string().optional(),
    expectText: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    callingAeTitle: z.string().optional(),
    calledAeTitle: z.string().optional(),
  }),
  healthCheckChoices: z.array(z.enum(WIZARD_CHECKS)).min(1),
  /** DR and TUN: the real servers must own the VIP without answering ARP for it; the wizard writes the scripts. */
  needsArpScripts: z.boolean().default(false),
  layer7: z.strictObject({ httpsRedirect: z.boolean().default(true), xForwardedFor: z.boolean().default(true) }).optional(),
});

export const TemplateSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]{1,48}$/),
  title: z.string().min(1).max(80),
  description: z.string().min(1).max(1000),
  /** The default name of the virtual service (and prefix of any second one). */
  serviceName: NameSchema,
  portsNote: z.string().max(500).optional(),
  modes: z.array(TemplateModeSchema).min(1).max(8),
});

export type Template = z.infer<typeof TemplateSchema>;
export type TemplateMode = z.infer<typeof TemplateModeSchema>;

// Read at run time from the working directory (the console runs from the project root, as for prisma/migrations).
export const TEMPLATES_DIR = path.resolve(/*turbopackIgnore: true*/ process.cwd(), 'lib', 'wizard', 'templates');

/** Every template in `dir`, by id, each checked with TemplateSchema. Throws naming the file and field that is wrong. */
export function loadTemplates(dir = TEMPLATES_DIR): Map<string, Template> {
  const out = new Map<string, Template>();
  for (const file of fs
    .readdirSync(/*turbopackIgnore: true*/ dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(/*turbopackIgnore: true*/ path.join(dir, file), 'utf8'));
    } catch (e) {
      throw new Error(`wizard template ${file} is not valid JSON: ${(e as Error).message}`);
    }
    const r = TemplateSchema.safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new Error(`wizard template ${file}: ${i.path.join('.') || '(top)'}: ${i.message}`);
    }
    if (out.has(r.data.id)) throw new Error(`wizard template ${file}: id "${r.data.id}" is already used by another template`);
    const modeIds = new Set<string>();
    for (const m of r.data.modes) {
      if (modeIds.has(m.id)) throw new Error(`wizard template ${file}: mode id "${m.id}" is used twice`);
      modeIds.add(m.id);
      if (!m.persistenceChoices.includes(m.persistence.type))
        throw new Error(`wizard template ${file}: mode ${m.id}: the default persistence is not among persistenceChoices`);
      if (!m.healthCheckChoices.includes(m.healthCheck.type))
        throw new Error(`wizard template ${file}: mode ${m.id}: the default health check is not among healthCheckChoices`);
    }
    out.set(r.data.id, r.data);
  }
  return out;
}

let cache: Map<string, Template> | undefined;
export function templates(): Map<string, Template> {
  return (cache ??= loadTemplates());
}
