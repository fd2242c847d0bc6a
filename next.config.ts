import type { NextConfig } from 'next';

const config: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // The console is served by server.ts; these run on the server only and load native or generated code.
  serverExternalPackages: ['better-sqlite3', 'ws'],
};

export default config;
