/** What GET /api/v1/overview answers (lib/api/routes/overview.ts), as the overview's components read it. */
import type { CheckStatus } from './real-server-health';

export type OperatorState = 'online' | 'drain' | 'halt';
export type RealServer = {
  id: string;
  name: string;
  address: string;
  port?: number;
  weight: number;
  state: OperatorState;
  isBackup: boolean;
  version: number;
};
export type ServerStatus = {
  name: string;
  operator: string;
  health: string;
  decision: { disposition: string; weight: number };
  counters?: { activeConnections: number; totalConnections: number; bytesIn: number; bytesOut: number; requests?: number };
  check?: CheckStatus;
};
export type ServiceStatus = {
  name: string;
  layer: number;
  status: string;
  message: string;
  counters?: { activeConnections: number; totalConnections: number };
  realServers: ServerStatus[];
};
export type VirtualService = {
  id: string;
  name: string;
  layer: 4 | 7;
  mode: string;
  protocol: string;
  address: string;
  ports: (number | string)[];
  scheduler: string;
  persistence: { type: string };
  healthCheck?: { type: string };
  realServers: RealServer[];
  version: number;
  description?: string;
};
/** engine/api-types.ts HealthTransitionEvent. */
export type HealthEvent = {
  type: 'health';
  at: string;
  virtualService: string;
  realServer: string;
  previous: string;
  health: string;
  code: string;
  message: string;
  durationMs: number;
  check: string;
  target: string;
};
/** What the console's engine supervisor concluded (lib/engine-supervisor.ts). */
export type Supervisor = { kind: 'running' | 'starting' | 'not-answering' | 'unreachable'; pid?: number; since?: string; reason?: string };
export type OverviewPage = {
  total: number;
  matching: number;
  offset: number;
  limit: number;
  items: (VirtualService & { status: ServiceStatus | null })[];
  engine: {
    isReachable: boolean;
    error: { code: string; message: string } | null;
    supervisor: Supervisor | null;
    running: { version: number; hash: string; appliedAt: string } | null;
    capabilities: { dataPlane: string; isAvailable: boolean; reason?: string }[];
  };
  isInSync: boolean | null;
  lastApply: { id: number; status: string; author: string; createdAt: string; error: string | null } | null;
  ha: { role: string; peerName: string } | null;
};
