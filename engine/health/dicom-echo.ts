/**
 * DICOM Verification (PS3.4 Annex A; C-ECHO, PS3.7 §9.1.5) natively over TCP: the check a PACS administrator runs by
 * hand with `echoscu`, proving the application — not just its port — answers for the called AE title.
 *
 *   phase      │ we send                      │ we wait for             │ on time-out
 *   ───────────┼──────────────────────────────┼─────────────────────────┼──────────────────────────────────
 *   connect    │ TCP SYN                      │ SYN-ACK                 │ L4TOUT
 *   associate  │ A-ASSOCIATE-RQ               │ AC / RJ / ABORT         │ DCMTOUT "waiting for the association answer"
 *   echo       │ P-DATA-TF (C-ECHO-RQ)        │ P-DATA-TF (C-ECHO-RSP)  │ DCMTOUT "waiting for the C-ECHO answer"
 *   release    │ A-RELEASE-RQ                 │ A-RELEASE-RP (briefly)  │ the echo's verdict stands
 *
 * A refused or reset connection is L4CON at any phase before the verdict; bytes that are not the PDU the phase
 * expects are DCMRSP; an A-ABORT is DCMABRT. The codec is dicom-pdu.ts.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { errnoText, result, targetText, type CheckCode, type CheckResult } from './status.ts';
import type { Checker, CheckTarget } from './types.ts';
import {
  C_ECHO_RSP,
  DicomFormatError,
  PDU,
  PduReader,
  TAG,
  decodeAssociate,
  decodeCommand,
  decodePData,
  decodeShort,
  encodeAbort,
  encodeAssociateRq,
  encodeEchoRq,
  encodePData,
  encodeReleaseRq,
  readUs,
  type Pdu,
} from './dicom-pdu.ts';

type Phase = 'connect' | 'associate' | 'echo' | 'release';
const WAITING: Record<Phase, string> = {
  connect: 'connecting',
  associate: 'waiting for the association answer',
  echo: 'waiting for the C-ECHO answer',
  release: 'waiting for the release answer',
};
/**
 * How long a settled echo waits for A-RELEASE-RP. Releasing politely keeps "association aborted" lines out of the
 * PACS's log, but the verdict is already known, so a peer slow to release must not hold the check (or its socket).
 */
const RELEASE_WAIT_MS = 500;
/** The only presentation context we propose (encodeAssociateRq). */
const CONTEXT_ID = 1;
let lastMessageId = 0;

export const dicomEchoCheck: Checker = (target) => new Promise<CheckResult>((resolve) => new EchoSession(target, resolve).start());

class EchoSession {
  private readonly started = performance.now();
  private readonly target: string;
  private readonly reader = new PduReader();
  private socket?: net.Socket;
  private phase: Phase = 'connect';
  private command: Buffer[] = [];
  private messageId = (lastMessageId = (lastMessageId % 0xffff) + 1);
  private verdict?: CheckResult;
  private timers: NodeJS.Timeout[] = [];
  private done = false;
  /** The monitor drops a stopped check's result; the code only has to be a failure, as connect.ts reports it. */
  private readonly onAbort = () => this.finish(this.make('L4CON', { reason: 'the check was stopped' }));

  constructor(
    private readonly t: CheckTarget,
    private readonly resolve: (r: CheckResult) => void,
  ) {
    this.target = targetText(t.address, t.port);
  }

  start(): void {
    const { dicom, timeoutMs } = this.t.check;
    if (!dicom || this.t.port === undefined) return this.finish(this.make('NOCHK', { reason: 'A DICOM echo check needs a port and the called AE title' }));
    if (this.t.signal?.aborted) return this.onAbort();
    this.t.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.timers.push(setTimeout(() => this.onTimeout(), timeoutMs));
    const socket = (this.socket = net.connect({ host: this.t.address, port: this.t.port }));
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.phase = 'associate';
      socket.write(encodeAssociateRq(dicom));
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => this.finish(this.verdict ?? this.make('L4CON', { reason: errnoText(e) })));
    socket.on('close', () => this.finish(this.verdict ?? this.make('DCMRSP', { reason: `the server closed the connection while ${WAITING[this.phase]}` })));
  }

  private make(code: CheckCode, params: Record<string, unknown>): CheckResult {
    const { dicom, timeoutMs } = this.t.check;
    return result(code, { target: this.target, timeoutMs, calledAeTitle: dicom?.calledAeTitle, ...params }, performance.now() - this.started);
  }

  private onTimeout(): void {
    if (this.verdict) return this.finish(this.verdict);
    if (this.phase === 'connect') return this.finish(this.make('L4TOUT', {}));
    this.finish(this.make('DCMTOUT', { phase: WAITING[this.phase] }), true);
  }

  private onData(chunk: Buffer): void {
    try {
      for (const pdu of this.reader.push(chunk)) {
        if (this.done) return;
        this.onPdu(pdu);
      }
    } catch (e) {
      // DicomFormatError says what was wrong; anything else (a RangeError from a field we failed to bound) still means
      // the peer sent what we cannot read, and a checker must never throw.
      const reason = e instanceof DicomFormatError ? e.message : `unreadable answer (${(e as Error).message})`;
      this.finish(this.verdict ?? this.make('DCMRSP', { reason }), true);
    }
  }

  private onPdu(pdu: Pdu): void {
    if (this.phase === 'release') return this.finish(this.verdict!); // RP, or anything else: the verdict stands
    if (pdu.type === PDU.ABORT) return this.finish(this.make('DCMABRT', { reason: abortText(decodeShort(pdu.body)) }));
    if (this.phase === 'associate') return this.onAssociateAnswer(pdu);
    if (pdu.type !== PDU.P_DATA_TF) throw new DicomFormatError(`PDU type 0x${pdu.type.toString(16).padStart(2, '0')} arrived while ${WAITING.echo}`);
    for (const pdv of decodePData(pdu.body)) {
      if (pdv.contextId !== CONTEXT_ID) throw new DicomFormatError(`the answer uses presentation context ${pdv.contextId}, which was not proposed`);
      if (!pdv.isCommand) continue; // a C-ECHO-RSP has no data set; ignore one rather than fail a working peer
      this.command.push(pdv.fragment);
      if (pdv.isLast) return this.onEchoAnswer(decodeCommand(Buffer.concat(this.command)));
    }
  }

  private onAssociateAnswer(pdu: Pdu): void {
    const dicom = this.t.check.dicom!;
    if (pdu.type === PDU.ASSOCIATE_RJ) return this.finish(this.make('DCMREJ', { reason: rejectText(decodeShort(pdu.body), dicom) }));
    if (pdu.type !== PDU.ASSOCIATE_AC) throw new DicomFormatError(`PDU type 0x${pdu.type.toString(16).padStart(2, '0')} arrived while ${WAITING.associate}`);
    const pc = decodeAssociate(pdu.body).presentationContexts.find((c) => c.id === CONTEXT_ID);
    if (pc?.result === undefined) throw new DicomFormatError(`the association answer has no presentation context ${CONTEXT_ID}`);
    if (pc.result !== 0) {
      const reason = `${dicom.calledAeTitle} accepted the association but not Verification: ${CONTEXT_RESULTS[pc.result] ?? `result ${pc.result}`}`;
      return this.release(this.make('DCMREJ', { reason }));
    }
    this.phase = 'echo';
    this.socket!.write(encodePData(CONTEXT_ID, 0x03, encodeEchoRq(this.messageId)));
  }

  private onEchoAnswer(cmd: Map<number, Buffer>): void {
    const field = readUs(cmd, TAG.COMMAND_FIELD);
    if (field !== C_ECHO_RSP) throw new DicomFormatError(`the answer to C-ECHO is command 0x${(field ?? 0).toString(16).padStart(4, '0')}, not C-ECHO-RSP`);
    const respondedTo = readUs(cmd, TAG.RESPONDED_TO);
    if (respondedTo !== undefined && respondedTo !== this.messageId) {
      throw new DicomFormatError(`the C-ECHO answer is for message ${respondedTo}, not ${this.messageId}`);
    }
    const status = readUs(cmd, TAG.STATUS);
    if (status === undefined) throw new DicomFormatError('the C-ECHO answer has no status');
    this.release(status === 0 ? this.make('DCMOK', {}) : this.make('DCMSTS', { status: `0x${status.toString(16).toUpperCase().padStart(4, '0')}` }));
  }

  /** The association is up and the verdict known: ask to release, and settle on A-RELEASE-RP, close, or shortly. */
  private release(verdict: CheckResult): void {
    this.verdict = verdict;
    this.phase = 'release';
    this.socket!.write(encodeReleaseRq());
    const left = this.t.check.timeoutMs - (performance.now() - this.started);
    this.timers.push(setTimeout(() => this.finish(verdict), Math.max(0, Math.min(RELEASE_WAIT_MS, left))));
  }

  /**
   * Settles once. `isAbandoning` sends A-ABORT first when an association may be open, so the peer frees it now rather
   * than at its own time-out; best effort, as the socket is destroyed straight after.
   */
  private finish(r: CheckResult, isAbandoning = false): void {
    if (this.done) return;
    this.done = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.t.signal?.removeEventListener('abort', this.onAbort);
    if (isAbandoning && this.socket?.writable && this.phase !== 'connect') this.socket.write(encodeAbort());
    this.socket?.destroy();
    this.resolve(r);
  }
}

const REJECT_RESULTS: Record<number, string> = { 1: 'permanently', 2: 'transiently' };
const SOURCES: Record<number, string> = { 1: 'the service user', 2: 'the service provider (ACSE)', 3: 'the service provider (presentation)' };
/** PS3.8 Table 9-21, keyed `source:reason`. */
const REJECT_REASONS: Record<string, (t: { calledAeTitle: string; callingAeTitle: string }) => string> = {
  '1:1': () => 'no reason given',
  '1:2': () => 'application context name not supported',
  '1:3': (t) => `calling AE title ${t.callingAeTitle} not recognized`,
  '1:7': (t) => `called AE title ${t.calledAeTitle} unknown`,
  '2:1': () => 'no reason given',
  '2:2': () => 'protocol version not supported',
  '3:1': () => 'temporary congestion',
  '3:2': () => 'local limit exceeded',
};

/** "called AE title SYMPHONY unknown (rejected permanently by the service user)" */
export function rejectText(rj: { result: number; source: number; reason: number }, titles: { calledAeTitle: string; callingAeTitle: string }): string {
  const what = REJECT_REASONS[`${rj.source}:${rj.reason}`]?.(titles) ?? `reason ${rj.reason}`;
  return `${what} (rejected ${REJECT_RESULTS[rj.result] ?? `with result ${rj.result}`} by ${SOURCES[rj.source] ?? `source ${rj.source}`})`;
}

/** PS3.8 Table 9-18: the result of one presentation context in an A-ASSOCIATE-AC. */
const CONTEXT_RESULTS: Record<number, string> = {
  1: 'user rejection',
  2: 'no reason given (provider rejection)',
  3: 'abstract syntax not supported (provider rejection)',
  4: 'transfer syntaxes not supported (provider rejection)',
};

/** PS3.8 Table 9-26: source 0 is the peer application, 2 its DICOM stack (which then says why). */
const ABORT_REASONS: Record<number, string> = {
  0: 'reason not specified',
  1: 'unrecognized PDU',
  2: 'unexpected PDU',
  4: 'unrecognized PDU parameter',
  5: 'unexpected PDU parameter',
  6: 'invalid PDU parameter value',
};

function abortText(ab: { source: number; reason: number }): string {
  if (ab.source === 0) return 'aborted by the service user';
  if (ab.source === 2) return `aborted by the service provider: ${ABORT_REASONS[ab.reason] ?? `reason ${ab.reason}`}`;
  return `aborted by source ${ab.source}, reason ${ab.reason}`;
}
