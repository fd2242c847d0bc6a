/**
 * DICOM echo: the codec against byte fixtures written from PS3.8 / PS3.7 by hand, then the checker against DCMTK
 * (the reference DICOM implementation, Debian `dcmtk`) and against small fakes for what DCMTK will not do on demand.
 * Every peer is on 127.0.0.1; every wait has a deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { HealthCheckSchema } from '../config/index.ts';
import { startBlackhole } from '../l7/test-helpers.ts';
import { dicomEchoCheck, rejectText } from './dicom-echo.ts';
import {
  APPLICATION_CONTEXT,
  DicomFormatError,
  IMPLEMENTATION_CLASS_UID,
  IMPLICIT_VR_LITTLE_ENDIAN,
  PDU,
  PduReader,
  VERIFICATION_SOP_CLASS,
  decodeAssociate,
  decodeCommand,
  decodePData,
  decodeShort,
  encodeAssociateRq,
  encodeEchoRq,
  readUs,
} from './dicom-pdu.ts';

// DCMTK is the reference peer (scripts/install-system-deps.sh installs it): without it these tests fail, not skip.
test('DCMTK is installed', () => {
  assert.equal(spawnSync('storescp', ['--version']).status, 0, 'storescp (Debian package dcmtk) is missing');
  assert.equal(spawnSync('dcmqrscp', ['--version']).status, 0, 'dcmqrscp (Debian package dcmtk) is missing');
});
const check = (calledAeTitle: string, timeoutMs = 3000) =>
  HealthCheckSchema.parse({ type: 'dicom-echo', timeoutMs, intervalMs: Math.max(timeoutMs, 5000), dicom: { calledAeTitle } });
const echo = (port: number, calledAeTitle = 'SYMPHONY', timeoutMs = 3000, signal?: AbortSignal) =>
  dicomEchoCheck({ address: '127.0.0.1', port, vip: '10.0.0.100', vipPort: 104, check: check(calledAeTitle, timeoutMs), signal });

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Polls until something accepts on the port (a spawned DCMTK peer takes a few ms to bind), for at most 5 s. */
async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) =>
      net
        .connect(port, '127.0.0.1')
        .once('connect', function (this: net.Socket) {
          this.destroy();
          r(true);
        })
        .once('error', () => r(false)),
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nothing listens on ${port} after 5 s`);
}

// ─── codec ───

test('A-ASSOCIATE-RQ: header bytes as PS3.8 Table 9-11, and it decodes back to what was asked', () => {
  const rq = encodeAssociateRq({ calledAeTitle: 'SYMPHONY', callingAeTitle: 'FULCRUM' });
  assert.deepEqual([...rq.subarray(0, 10)], [0x01, 0x00, ...u32be(rq.length - 6), 0x00, 0x01, 0x00, 0x00]);
  assert.equal(rq.subarray(10, 42).toString('latin1'), 'SYMPHONY        FULCRUM         ');
  assert.ok(rq.subarray(42, 74).every((b) => b === 0));
  const pdus = new PduReader().push(rq);
  assert.equal(pdus.length, 1);
  assert.equal(pdus[0].type, PDU.ASSOCIATE_RQ);
  assert.deepEqual(decodeAssociate(pdus[0].body), {
    protocolVersion: 1,
    calledAeTitle: 'SYMPHONY',
    callingAeTitle: 'FULCRUM',
    applicationContext: APPLICATION_CONTEXT,
    presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION_SOP_CLASS, transferSyntaxes: [IMPLICIT_VR_LITTLE_ENDIAN] }],
    maxPduLength: 16384,
    implementationClassUid: IMPLEMENTATION_CLASS_UID,
    implementationVersionName: 'FULCRUM',
  });
  // Application context item: type 0x10, length 21, the UID unpadded (PS3.8 Annex F).
  assert.deepEqual([...rq.subarray(74, 78)], [0x10, 0x00, 0x00, 21]);
  assert.equal(rq.subarray(78, 99).toString('latin1'), APPLICATION_CONTEXT);
  assert.match(IMPLEMENTATION_CLASS_UID, /^2\.25\.(0|[1-9]\d*)$/);
  assert.ok(IMPLEMENTATION_CLASS_UID.length <= 64);
});

test('A-ASSOCIATE-RJ fixture: permanent, service user, called AE title not recognized (PS3.8 Table 9-21)', () => {
  const rj = Buffer.from([0x03, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x01, 0x07]);
  const [pdu] = new PduReader().push(rj);
  assert.equal(pdu.type, PDU.ASSOCIATE_RJ);
  assert.deepEqual(decodeShort(pdu.body), { result: 1, source: 1, reason: 7 });
  assert.equal(
    rejectText(decodeShort(pdu.body), { calledAeTitle: 'SYMPHONY', callingAeTitle: 'FULCRUM' }),
    'called AE title SYMPHONY unknown (rejected permanently by the service user)',
  );
  assert.equal(
    rejectText({ result: 2, source: 3, reason: 1 }, { calledAeTitle: 'X', callingAeTitle: 'Y' }),
    'temporary congestion (rejected transiently by the service provider (presentation))',
  );
});

test('C-ECHO-RQ command set: exact Implicit VR Little Endian bytes (PS3.7 §9.3.5)', () => {
  const expected = Buffer.concat([
    Buffer.from([0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00]), // (0000,0000) UL 56
    Buffer.from([0x00, 0x00, 0x02, 0x00, 0x12, 0x00, 0x00, 0x00]),
    Buffer.from('1.2.840.10008.1.1\0', 'latin1'), // (0000,0002) UI
    Buffer.from([0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x30, 0x00]), // (0000,0100) US 0x0030
    Buffer.from([0x00, 0x00, 0x10, 0x01, 0x02, 0x00, 0x00, 0x00, 0x07, 0x00]), // (0000,0110) US 7
    Buffer.from([0x00, 0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01]), // (0000,0800) US 0x0101
  ]);
  assert.deepEqual(encodeEchoRq(7), expected);
  const cmd = decodeCommand(expected);
  assert.equal(readUs(cmd, 0x0100), 0x0030);
  assert.equal(readUs(cmd, 0x0110), 7);
});

test('PduReader: one PDU byte by byte, two PDUs in one read, and garbage refused at once', () => {
  const rq = encodeAssociateRq({ calledAeTitle: 'A', callingAeTitle: 'B' });
  const reader = new PduReader();
  const seen = [...rq].flatMap((b) => reader.push(Buffer.from([b])));
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].body, rq.subarray(6));
  const two = new PduReader().push(Buffer.concat([releaseRp(), rq]));
  assert.deepEqual(
    two.map((p) => p.type),
    [PDU.RELEASE_RP, PDU.ASSOCIATE_RQ],
  );
  assert.throws(() => new PduReader().push(Buffer.from('HTTP/1.1 400 Bad Request\r\n')), DicomFormatError);
  assert.throws(() => decodePData(Buffer.from([0, 0, 0, 9, 1, 3, 0])), DicomFormatError);
});

// ─── DCMTK as the real peer ───

test('storescp accepts the association and answers the echo → DCMOK', { timeout: 15_000 }, async (t) => {
  const port = await freePort();
  const peer = spawn('storescp', ['-aet', 'STORE', String(port)], { stdio: 'ignore' });
  t.after(() => peer.kill('SIGKILL'));
  await waitForPort(port);
  const r = await echo(port);
  assert.equal(r.code, 'DCMOK', r.message);
  assert.equal(r.message, `C-ECHO to SYMPHONY on 127.0.0.1:${port} succeeded`);
});

test('storescp --refuse → DCMREJ, no reason given, by the service user', { timeout: 15_000 }, async (t) => {
  const port = await freePort();
  const peer = spawn('storescp', ['--refuse', String(port)], { stdio: 'ignore' });
  t.after(() => peer.kill('SIGKILL'));
  await waitForPort(port);
  const r = await echo(port);
  assert.equal(r.code, 'DCMREJ', r.message);
  assert.equal(r.message, 'C-ECHO refused: no reason given (rejected permanently by the service user)');
});

test('dcmqrscp with an AETable refuses an unknown called AE title → DCMREJ naming it', { timeout: 15_000 }, async (t) => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-dcmqrscp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'db'));
  const cfg = path.join(dir, 'dcmqrscp.cfg');
  fs.writeFileSync(
    cfg,
    [
      `NetworkTCPPort = ${port}`,
      'MaxPDUSize = 16384',
      'MaxAssociations = 16',
      'HostTable BEGIN',
      'HostTable END',
      'VendorTable BEGIN',
      'VendorTable END',
      'AETable BEGIN',
      `ARCHIVE ${path.join(dir, 'db')} RW (10, 1024mb) ANY`,
      'AETable END',
      '',
    ].join('\n'),
  );
  const peer = spawn('dcmqrscp', ['--single-process', '-c', cfg], { stdio: 'ignore' });
  t.after(() => peer.kill('SIGKILL'));
  await waitForPort(port);
  const r = await echo(port, 'SYMPHONY');
  assert.equal(r.code, 'DCMREJ', r.message);
  assert.equal(r.message, 'C-ECHO refused: called AE title SYMPHONY unknown (rejected permanently by the service user)');
  const known = await echo(port, 'ARCHIVE');
  assert.equal(known.code, 'DCMOK', known.message);
});

// ─── fakes: what DCMTK will not do on demand ───

type Behaviour = 'silent' | 'silent-after-ac' | 'split' | 'status' | 'reject-context' | 'abort' | 'garbage' | 'no-release';

/** A fake SCP: decodes our RQ with the same codec, then misbehaves as told. Resolves with its port. */
async function fakeScp(t: { after: (fn: () => void) => void }, behaviour: Behaviour): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    const reader = new PduReader();
    s.on('data', (chunk) => {
      for (const p of reader.push(chunk)) {
        if (behaviour === 'silent') return;
        if (p.type === PDU.ASSOCIATE_RQ) onRq(s, behaviour, decodeAssociate(p.body).calledAeTitle);
        if (p.type === PDU.P_DATA_TF && behaviour !== 'silent-after-ac') onEcho(s, behaviour, decodePData(p.body)[0].fragment);
        if (p.type === PDU.RELEASE_RQ && behaviour !== 'no-release') s.end(releaseRp());
      }
    });
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return (server.address() as net.AddressInfo).port;
}

function onRq(s: net.Socket, behaviour: Behaviour, called: string): void {
  if (behaviour === 'abort') return void s.write(Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, 2, 2]));
  if (behaviour === 'garbage') return void s.write('HTTP/1.1 400 Bad Request\r\n\r\n');
  const ac = associateAc(called, behaviour === 'reject-context' ? 3 : 0);
  if (behaviour !== 'split') return void s.write(ac);
  // Three bytes per write, each on its own tick, so the checker sees the AC over many reads.
  let at = 0;
  const next = () => {
    if (at < ac.length && !s.destroyed) {
      s.write(ac.subarray(at, (at += 3)));
      setImmediate(next);
    }
  };
  next();
}

function onEcho(s: net.Socket, behaviour: Behaviour, rq: Buffer): void {
  const rsp = echoRsp(readUs(decodeCommand(rq), 0x0110)!, behaviour === 'status' ? 0x0122 : 0);
  // Two P-DATA PDUs in one write: the command in two fragments, only the second marked last.
  s.write(Buffer.concat([pData(0x01, rsp.subarray(0, 20)), pData(0x03, rsp.subarray(20))]));
}

test('fake: AC split over many reads, answer in two PDUs in one read → DCMOK', { timeout: 10_000 }, async (t) => {
  assert.equal((await echo(await fakeScp(t, 'split'))).code, 'DCMOK');
});

test('fake: accepts TCP and never answers → DCMTOUT waiting for the association answer', { timeout: 10_000 }, async (t) => {
  const port = await fakeScp(t, 'silent');
  const r = await echo(port, 'SYMPHONY', 300);
  assert.equal(r.code, 'DCMTOUT');
  assert.equal(r.message, `No DICOM answer from 127.0.0.1:${port} within 300 ms (while waiting for the association answer)`);
});

test('fake: accepts the association, never answers the echo → DCMTOUT waiting for the C-ECHO answer', { timeout: 10_000 }, async (t) => {
  const r = await echo(await fakeScp(t, 'silent-after-ac'), 'SYMPHONY', 300);
  assert.equal(r.code, 'DCMTOUT');
  assert.match(r.message, /\(while waiting for the C-ECHO answer\)$/);
});

test('fake: status, rejected context, abort, garbage, missing release answer', { timeout: 10_000 }, async (t) => {
  const cases: [Behaviour, string, RegExp][] = [
    ['status', 'DCMSTS', /answered status 0x0122$/],
    ['reject-context', 'DCMREJ', /^C-ECHO refused: SYMPHONY accepted the association but not Verification: abstract syntax not supported/],
    ['abort', 'DCMABRT', /aborted: aborted by the service provider: unexpected PDU$/],
    ['garbage', 'DCMRSP', /^Not a DICOM answer from .*: first bytes 48 54 54 50/],
    ['no-release', 'DCMOK', /succeeded$/],
  ];
  for (const [behaviour, code, message] of cases) {
    const r = await echo(await fakeScp(t, behaviour));
    assert.equal(r.code, code, `${behaviour}: ${r.message}`);
    assert.match(r.message, message, behaviour);
  }
});

test('a listener that never completes the TCP handshake → L4TOUT', { timeout: 10_000 }, async (t) => {
  const hole = await startBlackhole();
  t.after(() => hole.close());
  const r = await echo(hole.port, 'SYMPHONY', 300);
  assert.equal(r.code, 'L4TOUT');
  assert.match(r.message, /within 300 ms/);
});

test('nothing listens → L4CON; an aborted check settles as a failure', { timeout: 10_000 }, async (t) => {
  const port = await freePort();
  const r = await echo(port);
  assert.equal(r.code, 'L4CON');
  assert.match(r.message, /connection refused/);
  const ac = new AbortController();
  const pending = echo(await fakeScp(t, 'silent'), 'SYMPHONY', 60_000, ac.signal);
  ac.abort();
  assert.equal((await pending).isPass, false);
});

// ─── fixture builders (by hand from PS3.8, not with the codec under test) ───

function u32be(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}
function item(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, 0, value.length >> 8, value.length & 0xff]), value]);
}
function pduOf(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, 0, ...u32be(body.length)]), body]);
}
function releaseRp(): Buffer {
  return pduOf(PDU.RELEASE_RP, Buffer.alloc(4));
}
function associateAc(called: string, contextResult: number): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0);
  fixed.write(called.padEnd(16), 4, 'latin1');
  fixed.write('FULCRUM'.padEnd(16), 20, 'latin1');
  const context = Buffer.concat([Buffer.from([1, 0, contextResult, 0]), item(0x40, Buffer.from(IMPLICIT_VR_LITTLE_ENDIAN))]);
  const user = item(0x51, Buffer.from(u32be(16384)));
  return pduOf(PDU.ASSOCIATE_AC, Buffer.concat([fixed, item(0x10, Buffer.from(APPLICATION_CONTEXT)), item(0x21, context), item(0x50, user)]));
}
function pData(control: number, fragment: Buffer): Buffer {
  return pduOf(PDU.P_DATA_TF, Buffer.concat([Buffer.from(u32be(fragment.length + 2)), Buffer.from([1, control]), fragment]));
}
function echoRsp(respondedTo: number, status: number): Buffer {
  const el = (tag: number, value: Buffer) => Buffer.concat([Buffer.from([0, 0, tag & 0xff, tag >> 8, value.length, 0, 0, 0]), value]);
  const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);
  const rest = Buffer.concat([
    el(0x0002, Buffer.from('1.2.840.10008.1.1\0')),
    el(0x0100, us(0x8030)),
    el(0x0120, us(respondedTo)),
    el(0x0800, us(0x0101)),
    el(0x0900, us(status)),
  ]);
  return Buffer.concat([el(0x0000, Buffer.from([rest.length, 0, 0, 0])), rest]);
}
