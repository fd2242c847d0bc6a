/**
 * DICOM upper layer PDUs (PS3.8 §9.3) and the one DIMSE command the checker speaks (C-ECHO, PS3.7 §9.3.5), as bytes ⇄
 * values. No sockets here: dicom-echo.ts drives the association, so this file is tested with byte fixtures.
 *
 * Every PDU starts with the same 6 bytes; multi-byte PDU fields are big-endian (PS3.8 §9.3.1):
 *
 *    0      1      2      3      4      5      6 …
 *   ┌──────┬──────┬──────┬──────┬──────┬──────┬─────────────────────┐
 *   │ type │ 0x00 │  PDU length (uint32 BE)   │ `length` body bytes │
 *   └──────┴──────┴───────────────────────────┴─────────────────────┘
 *
 * A-ASSOCIATE-RQ (0x01) and -AC (0x02), body offsets counted from byte 6 (PS3.8 Tables 9-11, 9-17):
 *    0  protocol version (uint16 BE) = 0x0001      2  reserved (2)
 *    4  called AE title (16, space padded)         20 calling AE title (16) — an AC echoes both; they "shall not be tested"
 *   36  reserved (32)                              68 items: ┌ type(1) ┬ 0x00 ┬ length(uint16 BE) ┬ value ┐
 *       0x10 application context    UID 1.2.840.10008.3.1.1.1
 *       0x20 presentation ctx (RQ)  id, 0, 0, 0, then sub-items 0x30 abstract syntax and 0x40 transfer syntax(es)
 *       0x21 presentation ctx (AC)  id, 0, result, 0, then one 0x40 transfer syntax
 *       0x50 user information       sub-items 0x51 max PDU length (uint32 BE), 0x52 implementation class UID,
 *                                   0x55 implementation version name
 *   UIDs inside items carry no padding (PS3.8 Annex F); the peer may send items in any order.
 *
 * Short PDUs, 4-byte body:  A-ASSOCIATE-RJ (0x03)  0x00 result source reason
 *                           A-RELEASE-RQ (0x05), A-RELEASE-RP (0x06)  4 × 0x00
 *                           A-ABORT (0x07)  0x00 0x00 source reason
 *
 * P-DATA-TF (0x04) body: one or more PDV items (PS3.8 §9.3.5, Annex E):
 *   ┌ item length (uint32 BE) ┬ presentation ctx id (1) ┬ control (1) ┬ fragment (length − 2) ┐
 *   control bit 0: 1 command / 0 data set; bit 1: last fragment. 0x03 = the last (here only) fragment of a command.
 */

export const PDU = {
  ASSOCIATE_RQ: 0x01,
  ASSOCIATE_AC: 0x02,
  ASSOCIATE_RJ: 0x03,
  P_DATA_TF: 0x04,
  RELEASE_RQ: 0x05,
  RELEASE_RP: 0x06,
  ABORT: 0x07,
} as const;

export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';
export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
/** What we announce as the largest P-DATA PDU we accept; a C-ECHO answer is under 100 bytes. */
const MAX_PDU_LENGTH = 16384;
/**
 * 2.25 is the root for UIDs made from a UUID (PS3.5 §B.2, ISO/IEC 9834-8): it needs no registration, so Fulcrum names
 * its implementation without borrowing an organisation's root. The UUID (8150b742-4a21-40c7-9435-a51d78cd6bb4) was
 * drawn once, at random, for Fulcrum; it must never change, since peers log it to tell implementations apart.
 */
export const IMPLEMENTATION_CLASS_UID = '2.25.171889512137895219203870829814660033460';
const IMPLEMENTATION_VERSION_NAME = 'FULCRUM';
/** Larger answers are refused as garbage: a real AC is a few hundred bytes, and P-DATA is held to MAX_PDU_LENGTH. */
const MAX_PDU_BODY = 65536;

/** A peer's bytes that are not the PDU they claim to be; the checker reports it as DCMRSP. */
export class DicomFormatError extends Error {}

export interface Pdu {
  type: number;
  body: Buffer;
}

export interface PresentationContext {
  id: number;
  /** AC only: 0 acceptance, 1 user rejection, 2 no reason, 3 abstract syntax / 4 transfer syntaxes not supported. */
  result?: number;
  abstractSyntax?: string;
  transferSyntaxes: string[];
}

export interface Association {
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext?: string;
  presentationContexts: PresentationContext[];
  maxPduLength?: number;
  implementationClassUid?: string;
  implementationVersionName?: string;
}

const item = (type: number, value: Buffer): Buffer => {
  const head = Buffer.from([type, 0, 0, 0]);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
};
const ascii = (s: string) => Buffer.from(s, 'latin1');
const aeField = (title: string) => ascii(title.padEnd(16, ' ').slice(0, 16));

function pdu(type: number, body: Buffer): Buffer {
  const head = Buffer.from([type, 0, 0, 0, 0, 0]);
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, body]);
}

/** One presentation context, id 1: Verification (PS3.4 Annex A) in Implicit VR Little Endian, which every SCP must accept. */
export function encodeAssociateRq(titles: { calledAeTitle: string; callingAeTitle: string }): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0);
  aeField(titles.calledAeTitle).copy(fixed, 4);
  aeField(titles.callingAeTitle).copy(fixed, 20);
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(MAX_PDU_LENGTH);
  const context = Buffer.concat([Buffer.from([1, 0, 0, 0]), item(0x30, ascii(VERIFICATION_SOP_CLASS)), item(0x40, ascii(IMPLICIT_VR_LITTLE_ENDIAN))]);
  const user = Buffer.concat([item(0x51, maxLength), item(0x52, ascii(IMPLEMENTATION_CLASS_UID)), item(0x55, ascii(IMPLEMENTATION_VERSION_NAME))]);
  return pdu(PDU.ASSOCIATE_RQ, Buffer.concat([fixed, item(0x10, ascii(APPLICATION_CONTEXT)), item(0x20, context), item(0x50, user)]));
}

export const encodeReleaseRq = (): Buffer => pdu(PDU.RELEASE_RQ, Buffer.alloc(4));
/** Source 0 (service user), reason 0: what an SCU sends when it gives up on a peer that broke the protocol. */
export const encodeAbort = (): Buffer => pdu(PDU.ABORT, Buffer.alloc(4));

export function encodePData(contextId: number, control: number, fragment: Buffer): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt32BE(fragment.length + 2, 0);
  head[4] = contextId;
  head[5] = control;
  return pdu(PDU.P_DATA_TF, Buffer.concat([head, fragment]));
}

/** Splits one TCP stream into PDUs: a PDU may arrive over several reads, and one read may hold several PDUs. */
export class PduReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Returns the PDUs completed by `chunk`; throws DicomFormatError as soon as a header cannot start a PDU. */
  push(chunk: Buffer): Pdu[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Pdu[] = [];
    while (this.pending.length >= 6) {
      const type = this.pending[0];
      if (type < PDU.ASSOCIATE_RQ || type > PDU.ABORT) throw new DicomFormatError(`first bytes ${hex(this.pending.subarray(0, 8))} are not a DICOM PDU`);
      const length = this.pending.readUInt32BE(2);
      if (length > MAX_PDU_BODY) throw new DicomFormatError(`a PDU of type 0x${type.toString(16).padStart(2, '0')} claims ${length} bytes`);
      if (this.pending.length < 6 + length) break;
      out.push({ type, body: this.pending.subarray(6, 6 + length) });
      this.pending = this.pending.subarray(6 + length);
    }
    return out;
  }
}

const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

/** Walks `type, 0, length(uint16 BE), value` items; refuses one that runs past the end. */
function* items(buf: Buffer): Generator<{ type: number; value: Buffer }> {
  let at = 0;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new DicomFormatError('an item header is cut short');
    const length = buf.readUInt16BE(at + 2);
    if (at + 4 + length > buf.length) throw new DicomFormatError(`an item of type 0x${buf[at].toString(16)} runs past its PDU`);
    yield { type: buf[at], value: buf.subarray(at + 4, at + 4 + length) };
    at += 4 + length;
  }
}

const text = (b: Buffer) => b.toString('latin1').replace(/[\0 ]+$/, '');

/** Decodes the body of an A-ASSOCIATE-RQ or -AC (the two share one layout); unknown items are skipped. */
export function decodeAssociate(body: Buffer): Association {
  if (body.length < 68) throw new DicomFormatError(`an association PDU of ${body.length} bytes is too short`);
  const a: Association = {
    protocolVersion: body.readUInt16BE(0),
    calledAeTitle: text(body.subarray(4, 20)).trim(),
    callingAeTitle: text(body.subarray(20, 36)).trim(),
    presentationContexts: [],
  };
  for (const it of items(body.subarray(68))) {
    if (it.type === 0x10) a.applicationContext = text(it.value);
    else if (it.type === 0x20 || it.type === 0x21) a.presentationContexts.push(decodeContext(it.type, it.value));
    else if (it.type === 0x50) {
      for (const sub of items(it.value)) {
        if (sub.type === 0x51 && sub.value.length === 4) a.maxPduLength = sub.value.readUInt32BE(0);
        else if (sub.type === 0x52) a.implementationClassUid = text(sub.value);
        else if (sub.type === 0x55) a.implementationVersionName = text(sub.value);
      }
    }
  }
  return a;
}

function decodeContext(type: number, value: Buffer): PresentationContext {
  if (value.length < 4) throw new DicomFormatError('a presentation context item is cut short');
  const pc: PresentationContext = { id: value[0], transferSyntaxes: [] };
  if (type === 0x21) pc.result = value[2];
  for (const sub of items(value.subarray(4))) {
    if (sub.type === 0x30) pc.abstractSyntax = text(sub.value);
    else if (sub.type === 0x40) pc.transferSyntaxes.push(text(sub.value));
  }
  return pc;
}

/** The 4-byte bodies of A-ASSOCIATE-RJ and A-ABORT: `[reserved, result, source, reason]` / `[reserved, reserved, source, reason]`. */
export function decodeShort(body: Buffer): { result: number; source: number; reason: number } {
  if (body.length < 4) throw new DicomFormatError(`a ${body.length}-byte body where 4 bytes are required`);
  return { result: body[1], source: body[2], reason: body[3] };
}

export interface Pdv {
  contextId: number;
  isCommand: boolean;
  isLast: boolean;
  fragment: Buffer;
}

export function decodePData(body: Buffer): Pdv[] {
  const out: Pdv[] = [];
  for (let at = 0; at < body.length; ) {
    if (at + 6 > body.length) throw new DicomFormatError('a PDV item header is cut short');
    const length = body.readUInt32BE(at);
    if (length < 2 || at + 4 + length > body.length) throw new DicomFormatError(`a PDV item of ${length} bytes does not fit its PDU`);
    const control = body[at + 5];
    out.push({ contextId: body[at + 4], isCommand: (control & 1) === 1, isLast: (control & 2) === 2, fragment: body.subarray(at + 6, at + 4 + length) });
    at += 4 + length;
  }
  return out;
}

/**
 * The C-ECHO command set, group 0000 in Implicit VR Little Endian (PS3.7 §9.3.5, §E.1; PS3.5 §7.1.3), always so
 * whatever transfer syntax was negotiated. Each element:
 *   ┌ group (uint16 LE) ┬ element (uint16 LE) ┬ value length (uint32 LE) ┬ value ┐
 *   (0000,0000) UL CommandGroupLength         bytes of the elements after this one
 *   (0000,0002) UI AffectedSOPClassUID        "1.2.840.10008.1.1" + NUL (UI values are padded to even length)
 *   (0000,0100) US CommandField               0x0030 C-ECHO-RQ, 0x8030 C-ECHO-RSP
 *   (0000,0110) US MessageID                  (0000,0120) MessageIDBeingRespondedTo in the answer
 *   (0000,0800) US CommandDataSetType         0x0101: no data set follows
 *   (0000,0900) US Status                     answer only; 0x0000 success
 */
export const TAG = { COMMAND_FIELD: 0x0100, MESSAGE_ID: 0x0110, RESPONDED_TO: 0x0120, DATA_SET_TYPE: 0x0800, STATUS: 0x0900 } as const;
const C_ECHO_RQ = 0x0030;
export const C_ECHO_RSP = 0x8030;
const NO_DATA_SET = 0x0101;

function element(tag: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0x0000, 0);
  head.writeUInt16LE(tag, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
}
const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);

export function encodeEchoRq(messageId: number): Buffer {
  const uid = ascii(VERIFICATION_SOP_CLASS.length % 2 ? `${VERIFICATION_SOP_CLASS}\0` : VERIFICATION_SOP_CLASS);
  const rest = Buffer.concat([
    element(0x0002, uid),
    element(TAG.COMMAND_FIELD, us(C_ECHO_RQ)),
    element(TAG.MESSAGE_ID, us(messageId)),
    element(TAG.DATA_SET_TYPE, us(NO_DATA_SET)),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(rest.length);
  return Buffer.concat([element(0x0000, groupLength), rest]);
}

/** Group 0000 elements by element number; anything outside group 0000 is not a command set, so it is refused. */
export function decodeCommand(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let at = 0; at < buf.length; ) {
    if (at + 8 > buf.length) throw new DicomFormatError('a command element header is cut short');
    const length = buf.readUInt32LE(at + 4);
    if (buf.readUInt16LE(at) !== 0 || at + 8 + length > buf.length) {
      throw new DicomFormatError('the command set is not group 0000 in Implicit VR Little Endian');
    }
    out.set(buf.readUInt16LE(at + 2), buf.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  return out;
}

/** A US value, or undefined when the element is absent or not 2 bytes long. */
export function readUs(cmd: Map<number, Buffer>, tag: number): number | undefined {
  const value = cmd.get(tag);
  return value?.length === 2 ? value.readUInt16LE(0) : undefined;
}
