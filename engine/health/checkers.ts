/** The checker of each kind (one file each) and the feedback agent, as the engine runs them. */
import type { CheckKind } from './monitor.ts';
import type { AgentChecker, Checker } from './types.ts';
import { connectCheck } from './connect.ts';
import { httpCheck, httpsCheck } from './http.ts';
import { externalCheck } from './external.ts';
import { pingCheck } from './ping.ts';
import { dicomEchoCheck } from './dicom-echo.ts';
import { agentCheck } from './agent.ts';

export const defaultCheckers: Record<CheckKind, Checker> = {
  connect: connectCheck,
  'send-expect': connectCheck,
  http: httpCheck,
  https: httpsCheck,
  external: externalCheck,
  ping: pingCheck,
  'dicom-echo': dicomEchoCheck,
};

export const defaultAgentChecker: AgentChecker = agentCheck;
