/**
 * The access policy, written for the route × role test (roles.test.ts) and for people: what each role may do, in
 * words, and which of those things each API route is. It is deliberately NOT derived from lib/auth/roles.ts (the
 * table the code enforces): the test compares what the running API lets each role do against this, so a grant
 * added to the enforced table that the policy does not make fails the test, and so does a route nobody placed here.
 *
 * Changing who may do what is a policy decision: change it here (with the reason in the commit), then in roles.ts.
 */
import type { Role } from '../auth/roles.ts';

/** Things a person does through the API. Every route is exactly one of these. */
export const ACTIVITIES = {
  'use without logging in': 'first-run setup, logging in, the API description',
  'manage own account': 'who am I, log out, own password, own sessions and own API keys',
  'read configuration':
    'services, real servers, certificates, floating IPs, staged changes, versions and diffs, status, metrics, health history, traffic samples, the HA pair and its settings, hosts (a real server address across every service) and the preview of a host action',
  'stage changes':
    'create, edit, delete and discard services, real servers, certificates, floating IPs, HA settings and pairing; stage a wizard run; export, preview and restore backups, and see the scheduled ones',
  'drain servers': 'set a real server online, draining or halted, at once; or a host: every real server at one address, in every service, Layer 4 and Layer 7',
  apply: 'apply the staged configuration, roll back, sync with or hand over to the HA peer',
  'use the wizard':
    'read templates, answer steps, review, probe real servers, send test requests, download ARP scripts (staging the result is "stage changes")',
  'manage notifications': 'read and change syslog-out and alert settings, send test messages',
  'read audit': 'the audit trail, its export and chain verification; the access and engine logs (they name clients and paths)',
  'read users': "users, every user's sessions, API keys (never secrets)",
  'manage users': 'create, change and delete users; create and revoke API keys for anyone',
} as const;
export type Activity = keyof typeof ACTIVITIES;

/** What each role may and may not do. Both lists together name every activity once (the test checks). */
export const POLICY: Record<Role, { may: Activity[]; mayNot: Activity[] }> = {
  admin: {
    may: [
      'use without logging in',
      'manage own account',
      'read configuration',
      'stage changes',
      'drain servers',
      'apply',
      'use the wizard',
      'manage notifications',
      'read audit',
      'read users',
      'manage users',
    ],
    mayNot: [],
  },
  operator: {
    may: ['use without logging in', 'manage own account', 'read configuration', 'drain servers', 'apply', 'use the wizard'],
    mayNot: ['stage changes', 'manage notifications', 'read audit', 'read users', 'manage users'],
  },
  auditor: {
    may: ['use without logging in', 'manage own account', 'read configuration', 'read audit', 'read users'],
    mayNot: ['stage changes', 'drain servers', 'apply', 'use the wizard', 'manage notifications', 'manage users'],
  },
  viewer: {
    may: ['use without logging in', 'manage own account', 'read configuration'],
    mayNot: ['stage changes', 'drain servers', 'apply', 'use the wizard', 'manage notifications', 'read audit', 'read users', 'manage users'],
  },
};

/** Which activity each route is, by `METHOD path` as the route table spells it. */
export const ROUTE_ACTIVITY: Record<string, Activity> = {
  'GET /setup': 'use without logging in',
  'POST /setup': 'use without logging in',
  'POST /session': 'use without logging in',
  'GET /openapi.json': 'use without logging in',

  'GET /session': 'manage own account',
  'DELETE /session': 'manage own account',
  'POST /account/password': 'manage own account',
  'GET /account/sessions': 'manage own account',
  'DELETE /sessions/:id': 'manage own account',
  'GET /account/api-keys': 'manage own account',
  'POST /account/api-keys': 'manage own account',
  'DELETE /account/api-keys/:id': 'manage own account',

  'GET /virtual-services': 'read configuration',
  'GET /virtual-services/:id': 'read configuration',
  'GET /changes': 'read configuration',
  'GET /config-versions': 'read configuration',
  'GET /config-versions/:id': 'read configuration',
  'GET /config-versions/:id/diff': 'read configuration',
  'GET /status': 'read configuration',
  'GET /overview': 'read configuration',
  'GET /certificates': 'read configuration',
  'GET /certificate-requests': 'read configuration',
  'GET /floating-ips': 'read configuration',
  'GET /real-servers/:id/health-history': 'read configuration',
  'GET /metrics': 'read configuration',
  'GET /virtual-services/:id/samples': 'read configuration',
  'GET /ha': 'read configuration',
  'GET /ha/history': 'read configuration',
  'GET /ha/settings': 'read configuration',
  'GET /running/config': 'read configuration',
  'GET /running/l4': 'read configuration',
  'GET /running/l7': 'read configuration',
  'GET /hosts': 'read configuration',
  'GET /hosts/:address': 'read configuration',

  'POST /virtual-services': 'stage changes',
  'PUT /virtual-services/:id': 'stage changes',
  'DELETE /virtual-services/:id': 'stage changes',
  'POST /virtual-services/:id/real-servers': 'stage changes',
  'PUT /virtual-services/:id/real-servers/:rsId': 'stage changes',
  'DELETE /virtual-services/:id/real-servers/:rsId': 'stage changes',
  'POST /changes/discard': 'stage changes',
  'POST /certificates': 'stage changes',
  'POST /certificates/import-pfx': 'stage changes',
  'DELETE /certificates/:id': 'stage changes',
  'PUT /certificates/:id': 'stage changes',
  'POST /certificate-requests': 'stage changes',
  'POST /certificate-requests/:id/complete': 'stage changes',
  'DELETE /certificate-requests/:id': 'stage changes',
  'POST /floating-ips': 'stage changes',
  'DELETE /floating-ips/:id': 'stage changes',
  'POST /wizard/runs/:id/stage': 'stage changes',
  'POST /backup/export': 'stage changes',
  'POST /backup/preview': 'stage changes',
  'POST /backup/restore': 'stage changes',
  'GET /backup/scheduled': 'stage changes',
  'GET /backup/scheduled/:name': 'stage changes',
  'POST /ha/pairing-code': 'stage changes',
  'POST /ha/pair': 'stage changes',
  'POST /ha/unpair': 'stage changes',
  'PUT /ha/settings': 'stage changes',
  'DELETE /ha/settings': 'stage changes',

  'PUT /real-servers/:id/state': 'drain servers',
  'PUT /hosts/:address/state': 'drain servers',

  'POST /apply': 'apply',
  'POST /config-versions/:id/rollback': 'apply',
  'POST /ha/sync': 'apply',
  'POST /ha/handover': 'apply',
  'POST /ha/handover/end': 'apply',

  'GET /wizard/templates': 'use the wizard',
  'GET /wizard/runs': 'use the wizard',
  'POST /wizard/runs': 'use the wizard',
  'GET /wizard/runs/:id': 'use the wizard',
  'PUT /wizard/runs/:id/steps/:step': 'use the wizard',
  'GET /wizard/runs/:id/review': 'use the wizard',
  'DELETE /wizard/runs/:id': 'use the wizard',
  'POST /wizard/probe': 'use the wizard',
  'POST /wizard/runs/:id/test-request': 'use the wizard',
  'GET /wizard/runs/:id/arp/:realServer': 'use the wizard',
  'POST /wizard/runs/:id/arp-check': 'use the wizard',

  'GET /syslog': 'manage notifications',
  'PUT /syslog': 'manage notifications',
  'POST /syslog/test': 'manage notifications',
  'GET /alerts': 'manage notifications',
  'PUT /alerts': 'manage notifications',
  'POST /alerts/test': 'manage notifications',

  'GET /audit': 'read audit',
  'GET /logs': 'read audit',
  'GET /audit/export': 'read audit',
  'GET /audit/verify': 'read audit',
  'POST /audit/verify': 'read audit',

  'GET /users': 'read users',
  'GET /api-keys': 'read users',
  'GET /sessions': 'read users',

  'POST /users': 'manage users',
  'PATCH /users/:id': 'manage users',
  'DELETE /users/:id': 'manage users',
  'POST /api-keys': 'manage users',
  'DELETE /api-keys/:id': 'manage users',
};
