'use client';
import { PageTitle } from '../ui/card';
import { AlertsCard } from './alerts-card';
import { SyslogCard } from './syslog-card';

export function SettingsPage() {
  return (
    <div className="space-y-5">
      <PageTitle sub="Where the audit trail and health transitions are sent, and who is told when something breaks.">Syslog and alerts</PageTitle>
      <SyslogCard />
      <AlertsCard />
    </div>
  );
}
