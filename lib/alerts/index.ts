/** The console's one alert service (started by server.ts, reconfigured by the API); on globalThis as lib/bus.ts. */
import { AlertService } from './service.ts';
import { readAlertSettings } from './settings.ts';

const g = globalThis as unknown as { __fulcrumAlerts?: AlertService };

export function startAlerts(dataDir: string): AlertService {
  g.__fulcrumAlerts ??= new AlertService({ settings: readAlertSettings(dataDir) });
  return g.__fulcrumAlerts;
}

export const runningAlerts = (): AlertService | undefined => g.__fulcrumAlerts;

export function stopAlerts(): void {
  g.__fulcrumAlerts?.close();
  g.__fulcrumAlerts = undefined;
}
