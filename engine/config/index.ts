/** The engine's configuration contract. The console imports from here; nothing here imports outside zod and ipaddr.js. */
export * from './schema.ts';
export * from './ports.ts';
export * from './address.ts';
export * from './memo-parse.ts';
