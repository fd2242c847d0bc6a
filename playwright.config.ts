import { defineConfig } from '@playwright/test';

// Browser tests run Debian's Chromium (never a downloaded browser) against the real console over HTTPS, with its
// own fresh data directory and engine.
const port = Number(process.env.E2E_PORT ?? 9543);
export const E2E_DATA_DIR = '.tmp/e2e-data';

export default defineConfig({
  testDir: 'e2e',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: '.tmp/e2e-results',
  // console-flow.spec.ts starts from a fresh appliance, and files run in name order; the accessibility and accounts
  // walks run after every other spec, on what those left behind (services, versions, users, a tampered audit trail).
  projects: [
    { name: 'flows', testIgnore: /(a11y|accounts)\.spec\.ts$/ },
    { name: 'after-flows', testMatch: /(a11y|accounts)\.spec\.ts$/, dependencies: ['flows'] },
  ],
  use: {
    baseURL: `https://localhost:${port}`,
    ignoreHTTPSErrors: true,
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `rm -rf ${E2E_DATA_DIR} && mkdir -p ${E2E_DATA_DIR} && node scripts/ensure-build.mjs && node --import tsx server.ts`,
    url: `https://localhost:${port}/api/v1/setup`,
    ignoreHTTPSErrors: true,
    reuseExistingServer: false,
    timeout: 180_000,
    env: {
      FULCRUM_DATA_DIR: E2E_DATA_DIR,
      FULCRUM_PORT: String(port),
      FULCRUM_HOST: '127.0.0.1',
      FULCRUM_STOP_ENGINE_ON_EXIT: '1',
      NEXT_TELEMETRY_DISABLED: '1',
      // Health checks in browser tests probe loopback only: no test's check ever leaves this machine.
      FULCRUM_HEALTH_ALLOWED_NETWORKS: '127.0.0.0/8,::1/128',
      // Scheduled backups on (lib/backup/schedule.ts), inside the data directory so each run starts with none.
      FULCRUM_BACKUP_DIR: `${E2E_DATA_DIR}/backups`,
    },
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
