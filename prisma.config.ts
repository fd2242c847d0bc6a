import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';

// Prisma 6.19 with its JS engine and the better-sqlite3 adapter: no binary download (see ENVIRONMENT.md).
const dataDir = path.resolve(process.env.FULCRUM_DATA_DIR ?? 'data');

export default defineConfig({
  schema: 'prisma/schema.prisma',
  engine: 'js',
  experimental: { adapter: true },
  adapter: async () => new PrismaBetterSQLite3({ url: `file:${path.join(dataDir, 'fulcrum.db')}` }),
});
