/** What an alert is: one thing that happened, in words a person on call can act on. */
export const ALERT_KINDS = [
  'server-down',
  'server-up',
  'service-down',
  'service-up',
  'apply-failed',
  'audit-chain-broken',
  'certificate-expiring',
  'test',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface Alert {
  kind: AlertKind;
  at: string;
  /** What it is about ("symphony-web/sym-app-1", a certificate's name, a version number). */
  subject: string;
  /** warning for something down or broken, info for something back. */
  severity: 'critical' | 'warning' | 'info';
  title: string;
  text: string;
  details?: Record<string, unknown>;
}

/** What a channel sends: one alert, or a summary of several held back by the rate limit. */
export interface AlertMessage {
  subject: string;
  text: string;
  alerts: Alert[];
  /** Alerts held beyond what one message lists (counted, not listed). */
  omitted: number;
}

export function messageOf(alerts: Alert[], omitted = 0): AlertMessage {
  if (alerts.length === 1 && !omitted) {
    const a = alerts[0];
    return { subject: `[Fulcrum] ${a.title}`, text: `${a.text}\n\nAt ${a.at}.`, alerts, omitted };
  }
  const total = alerts.length + omitted;
  // The newest word on each subject first: for a flapping server what matters is where it is now.
  const latest = new Map<string, Alert>();
  for (const a of alerts) latest.set(`${a.kind.replace(/-(up|down)$/, '')}:${a.subject}`, a);
  const now = [...latest.values()].map((a) => `  ${a.title}`);
  const all = alerts.map((a) => `  ${a.at}  ${a.title}`);
  return {
    subject: `[Fulcrum] ${total} alerts since ${alerts[0].at.slice(11, 16)} UTC: ${[...latest.values()]
      .map((a) => a.title)
      .slice(0, 3)
      .join('; ')}${latest.size > 3 ? '; …' : ''}`,
    text: [
      `${total} alerts were held back by the rate limit and are summarised here.`,
      '',
      'Latest state:',
      ...now,
      '',
      'In order:',
      ...all,
      ...(omitted ? [`  … and ${omitted} more`] : []),
    ].join('\n'),
    alerts,
    omitted,
  };
}
