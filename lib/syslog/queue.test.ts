/** The disk queue: order and acknowledgement across reloads, a line cut by a crash, compaction, the bound. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DiskQueue } from './queue.ts';
import { escapeParam, formatRfc5424, frameOctetCounted } from './format.ts';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-syslogq-'));
const items = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ src: `audit:${from + i}`, msg: `m${from + i}` }));

test('records survive a reload in order; acknowledged ones do not come back', () => {
  const d = dir();
  const q = new DiskQueue({ dir: d, maxMessages: 100 });
  q.append(items(1, 5));
  q.ack(q.peek(2)[1].seq);
  const again = new DiskQueue({ dir: d, maxMessages: 100 });
  assert.deepEqual(
    again.peek(10).map((r) => r.msg),
    ['m3', 'm4', 'm5'],
  );
  again.append(items(6, 1));
  assert.deepEqual(
    again.peek(10).map((r) => r.seq),
    [3, 4, 5, 6],
    'seq carries on after a reload',
  );
});

test('a last line cut by a crash mid-append is dropped, the rest kept', () => {
  const d = dir();
  const q = new DiskQueue({ dir: d, maxMessages: 100 });
  q.append(items(1, 2));
  fs.appendFileSync(q.file, '{"seq":3,"src":"audit:3","ms');
  const again = new DiskQueue({ dir: d, maxMessages: 100 });
  assert.deepEqual(
    again.peek(10).map((r) => r.msg),
    ['m1', 'm2'],
  );
  again.append(items(3, 1));
  assert.deepEqual(
    new DiskQueue({ dir: d, maxMessages: 100 }).peek(10).map((r) => r.msg),
    ['m1', 'm2', 'm3'],
  );
});

test('when everything is acknowledged the file shrinks to one record and the sources still name the newest', () => {
  const d = dir();
  const q = new DiskQueue({ dir: d, maxMessages: 100 });
  q.append(items(1, 50));
  q.ack(50);
  assert.equal(fs.readFileSync(q.file, 'utf8').split('\n').filter(Boolean).length, 1);
  assert.deepEqual(q.sources(), ['audit:50']);
  assert.equal(new DiskQueue({ dir: d, maxMessages: 100 }).size, 0);
});

test('bounded: beyond maxMessages the oldest are dropped and counted', () => {
  const q = new DiskQueue({ dir: dir(), maxMessages: 100 });
  q.append(items(1, 130));
  assert.equal(q.size, 100);
  assert.equal(q.dropped, 30);
  assert.equal(q.peek(1)[0].msg, 'm31');
});

test('RFC 5424: PRI, header fields, escaped structured data, BOM; RFC 6587 octet count in bytes', () => {
  const line = formatRfc5424({
    facility: 'local0',
    severity: 'warning',
    at: new Date('2026-12-01T10:00:00.000Z'),
    hostname: 'lb 1',
    procId: 7,
    kind: 'audit',
    data: { actor: 'a"b]c\\d', objectId: null },
    text: 'é',
  });
  assert.equal(line, '<132>1 2026-12-01T10:00:00.000Z lb_1 fulcrum 7 AUDIT [audit@32473 actor="a\\"b\\]c\\\\d"] \uFEFFé');
  assert.equal(escapeParam(']'), '\\]');
  const framed = frameOctetCounted('é');
  assert.equal(framed.toString('utf8'), '2 é');
});

test("access log entries: HAProxy's fields as structured data, ACCESS msgid, warning for an abnormal end", async () => {
  const { accessMessage } = await import('./format.ts');
  const e = {
    client: '10.1.2.3:51514',
    service: 'symphony-web',
    server: 'sym-app-1',
    method: 'GET',
    path: '/a"b',
    status: 503,
    bytesIn: 120,
    bytesOut: 512,
    timings: { requestMs: 1, queueMs: 0, connectMs: 2, responseMs: -1, totalMs: 9 },
    termination: 'SC',
  };
  const line = formatRfc5424(accessMessage(e, new Date('2026-12-01T10:00:00.000Z'), { facility: 'local1', hostname: 'lb1' }));
  assert.equal(
    line,
    '<140>1 2026-12-01T10:00:00.000Z lb1 fulcrum ' +
      process.pid +
      ' ACCESS [access@32473 client="10.1.2.3:51514" service="symphony-web" server="sym-app-1" status="503" bytesIn="120" bytesOut="512" Tq="1" Tw="0" Tc="2" Tr="-1" Tt="9" termination="SC"] \uFEFF10.1.2.3:51514 symphony-web/sym-app-1 1/0/2/-1/9 503 512 SC "GET /a"b"',
  );
});
