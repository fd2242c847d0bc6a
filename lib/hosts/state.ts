/**
 * Drain, halt or bring back a host everywhere it appears: every real server at the address, in every service.
 *
 * The same two steps as one server's state (PUT /real-servers/:id/state), for many servers:
 *
 *   1. One transaction stores the new state of every server at the address that differs, and writes ONE audit
 *      event for the host operation listing each server (service, name, state before and after). One entry,
 *      because it is one decision by one person; the entry names every server and service it touched, so the
 *      trail still answers "who drained sym-app-1 in symphony-web". Servers already in that state are not touched
 *      and not listed; when none differ nothing is written.
 *   2. After the commit (never inside it: a paused engine must not hold every other write), the engine is told,
 *      one server at a time. Each server's outcome is reported on its own: taken at once, taken but its service is
 *      not programmed on this machine, not running yet (goes with the next apply), or not taken now (the settler,
 *      lib/config/settle.ts, sends it again when the engine answers, with its own audit row).
 *
 * A refusal by the engine for one service therefore never undoes or hides the others: the answer lists which
 * servers the engine changed and which it did not, and why, with status 200 (the stored state is the truth and
 * persists; the engine catches up).
 */
import type { OperatorState } from '../../engine/config/index.ts';
import type { EngineError } from '../../engine/errors.ts';
import { ApiError } from '../errors.ts';
import type { AuditInput } from '../audit.ts';
import { mutate } from '../api/mutate.ts';
import { engine } from '../engine.ts';
import { settler } from '../config/settle.ts';
import { log } from '../log.ts';
import { serversAt, type HostServer } from './find.ts';

/** An engine sentence inside brackets of ours, without its own closing full stop. */
const bare = (m: string) => m.replace(/\.\s*$/, '');

/** taken: the engine runs the new state; not-programmed: the engine has it, but the service carries no traffic here. */
export type ServerOutcome = 'taken' | 'not-programmed' | 'not-running' | 'not-taken';

export interface HostServerResult extends HostServer {
  before: OperatorState;
  outcome: ServerOutcome;
  message: string;
}

export interface HostStateResult {
  address: string;
  state: OperatorState;
  /** The servers whose stored state changed, each with what the engine did with it. */
  changed: HostServerResult[];
  /** Servers at the address that already had this state: untouched. */
  unchanged: HostServer[];
  /** Every changed server's state is running in the engine (taken or not-programmed). */
  isComplete: boolean;
  /** One sentence for the whole operation. */
  summary: string;
}

type AuditFor = (input: Omit<AuditInput, 'actor' | 'actorRole' | 'sourceAddress' | 'requestId'>) => AuditInput;

const entry = (s: HostServer, state: OperatorState) => ({ virtualService: s.virtualService, realServer: s.realServer, layer: s.layer, port: s.port, state });

/** Step 1: store and audit in one transaction. Throws API_NOT_FOUND when no real server has the address. */
async function store(address: string, state: OperatorState, audit: AuditFor): Promise<{ address: string; changed: HostServer[]; unchanged: HostServer[] }> {
  return mutate(
    async (tx) => {
      const servers = await serversAt(address, tx);
      if (servers.length === 0) throw new ApiError('API_NOT_FOUND', { what: `A real server at ${address}` });
      const changed = servers.filter((s) => s.state !== state);
      if (changed.length) await tx.realServer.updateMany({ where: { id: { in: changed.map((s) => s.id) } }, data: { state } });
      return { address: servers[0].address, changed, unchanged: servers.filter((s) => s.state === state) };
    },
    (r) =>
      r.changed.length === 0
        ? null
        : audit({
            action: 'host.state',
            objectType: 'host',
            objectId: r.address,
            outcome: 'success',
            before: { address: r.address, realServers: r.changed.map((s) => entry(s, s.state)) },
            after: { address: r.address, state, realServers: r.changed.map((s) => entry(s, state)) },
          }),
    { isCandidateChange: false },
  );
}

/** Step 2 for one server: what the engine did with it, in words. */
async function tell(s: HostServer, state: OperatorState): Promise<Pick<HostServerResult, 'outcome' | 'message'> & { isUnreachable?: boolean }> {
  try {
    const { results } = await engine().setServerState(s.virtualService, s.realServer, state);
    const r = results.find((x) => x.name === s.virtualService);
    if (r?.status === 'not-programmed')
      return {
        outcome: 'not-programmed',
        message: `${s.virtualService} is not programmed on this machine (${bare(r.message)}): the engine has the state, but no traffic here changes.`,
      };
    if (r?.status === 'failed')
      return {
        outcome: 'not-programmed',
        message: `${s.virtualService} failed on this machine (${bare(r.message)}): the engine has the state, but no traffic here changes.`,
      };
    return { outcome: 'taken', message: 'Applied at once.' };
  } catch (e) {
    const err = e as EngineError;
    if (err.code === 'ENGINE_NOT_FOUND')
      return {
        outcome: 'not-running',
        message: `The engine does not run ${s.realServer} in ${s.virtualService} yet: the state is stored and goes with the next apply.`,
      };
    log('warn', 'host state not taken by the engine', { virtualService: s.virtualService, realServer: s.realServer, error: err.message });
    return {
      outcome: 'not-taken',
      message: `Stored; the engine did not take it now (${err.message}). It is sent again when the engine answers.`,
      isUnreachable: err.code === 'ENGINE_UNREACHABLE',
    };
  }
}

export async function setHostState(address: string, state: OperatorState, audit: AuditFor): Promise<HostStateResult> {
  const stored = await store(address, state, audit);
  const changed: HostServerResult[] = [];
  // An engine that did not answer one server is not asked again for the next (each would wait the whole timeout).
  let away: string | null = null;
  for (const s of stored.changed) {
    const told =
      away !== null
        ? {
            outcome: 'not-taken' as const,
            message: `Stored; the engine was not asked after it did not answer for ${away}. It is sent again when the engine answers.`,
          }
        : await tell(s, state);
    if (told.isUnreachable) away = `${s.realServer} in ${s.virtualService}`;
    changed.push({ ...s, before: s.state, state, outcome: told.outcome, message: told.message });
  }
  if (changed.some((c) => c.outcome === 'not-taken')) settler().kick();
  const isComplete = changed.every((c) => c.outcome === 'taken' || c.outcome === 'not-programmed');
  return {
    address: stored.address,
    state,
    changed,
    unchanged: stored.unchanged,
    isComplete,
    summary: summarise(stored.address, state, changed, stored.unchanged.length),
  };
}

const VERB: Record<OperatorState, string> = { online: 'brought online', drain: 'draining', halt: 'halted' };

export function summarise(address: string, state: OperatorState, changed: HostServerResult[], unchanged: number): string {
  if (changed.length === 0) return `Every real server at ${address} was already ${VERB[state]}: nothing changed.`;
  const count = (o: ServerOutcome) => changed.filter((c) => c.outcome === o).length;
  const parts = [`${count('taken')} of ${changed.length} ${changed.length === 1 ? 'server' : 'servers'} at ${address} ${VERB[state]} at once`];
  if (count('not-programmed')) parts.push(`${count('not-programmed')} in a service not programmed on this machine`);
  if (count('not-running')) parts.push(`${count('not-running')} not running yet (goes with the next apply)`);
  if (count('not-taken')) parts.push(`${count('not-taken')} not taken by the engine now (sent again when it answers)`);
  if (unchanged) parts.push(`${unchanged} already ${VERB[state]}`);
  return `${parts.join('; ')}.`;
}
