/** The engine's configuration contract. The console imports from here; nothing here imports outside zod. */
export * from './schema.ts';
export * from './ports.ts';
