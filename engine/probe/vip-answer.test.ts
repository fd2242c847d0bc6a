/** The VIP probe's reading of nping and the frames it asks for, with a recorded nping (the kernel test sends real ones). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VipAnswerRequestSchema, parseReplies, probeVipAnswer, type Nping } from './vip-answer.ts';

const req = { vip: '10.0.0.10', port: 80, mac: '02:00:0a:00:00:02', interface: 'br-lab', source: '10.0.0.1' };
const local = () => true;

/** An nping that answers the SYN with `flags` (from VIP:port to the probe's own source port), recording each call. */
function fakeNping(flags: string | null, calls: string[][] = []): Nping {
  return async (args) => {
    calls.push(args);
    const g = args[args.indexOf('-g') + 1];
    const sent = `SENT (1.67s) TCP 10.0.0.1:${g} > 10.0.0.10:80 S ttl=64 id=1 iplen=40 seq=1 win=1480\n`;
    // Traffic on the same ports to another source port is not this probe's answer.
    const other = 'RCVD (1.67s) TCP 10.0.0.10:80 > 10.0.0.1:1234 SA ttl=64 id=0 iplen=44 seq=9 win=64240\n';
    return sent + other + (flags ? `RCVD (1.67s) TCP 10.0.0.10:80 > 10.0.0.1:${g} ${flags} ttl=64 id=0 iplen=44 seq=9 win=64240 <mss 1460>\n` : '');
  };
}

test('parseReplies: only TCP from vip:port to the probe source port counts', () => {
  const text = [
    'SENT (1.6743s) TCP 10.0.0.1:41000 > 10.0.0.10:80 S ttl=64 id=30174 iplen=40  seq=3641965853 win=1480 ',
    'RCVD (1.6744s) TCP 10.0.0.10:80 > 10.0.0.1:41000 RA ttl=64 id=0 iplen=40  seq=0 win=0 ',
    'RCVD (1.6744s) TCP 10.0.0.10:80 > 10.0.0.1:41001 SA ttl=64 id=0 iplen=40  seq=0 win=0 ',
    'RCVD (1.6744s) TCP 10.0.0.10:8080 > 10.0.0.1:41000 SA ttl=64 id=0 iplen=40  seq=0 win=0 ',
    'RCVD (1.6744s) ICMP [10.0.0.2 > 10.0.0.1 Port unreachable (type=3/code=3) ] IP [ttl=64 id=1 iplen=68 ]',
  ].join('\n');
  assert.deepEqual(parseReplies(text, '10.0.0.10', 80, '10.0.0.1', 41000), ['RA']);
  assert.deepEqual(parseReplies(text, '10.0.0.10', 80, '10.0.0.1', 41002), []);
});

test('a SYN-ACK: accepts, and an RST with the acknowledged sequence number ends the half-open connection', async () => {
  const calls: string[][] = [];
  assert.deepEqual(await probeVipAnswer(req, fakeNping('SA', calls), local), { outcome: 'accepts', reply: 'syn-ack', isReset: true });
  assert.equal(calls.length, 2);
  const [syn, rst] = calls;
  const at = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
  assert.equal(at(syn, '--flags'), 'syn');
  assert.equal(at(syn, '--dest-mac'), req.mac);
  assert.equal(at(syn, '-e'), 'br-lab');
  assert.equal(at(syn, '-S'), '10.0.0.1');
  assert.equal(syn.at(-1), '10.0.0.10');
  assert.equal(at(rst, '--flags'), 'rst');
  assert.equal(at(rst, '-g'), at(syn, '-g'));
  assert.equal(Number(at(rst, '--seq')), Number(at(syn, '--seq')) + 1);
});

test('the frames carry the interface’s own MAC as their source, when it has one', async () => {
  const calls: string[][] = [];
  const macs: string[] = [];
  const macOf = (iface: string) => {
    macs.push(iface);
    return '02:00:0a:00:00:01';
  };
  await probeVipAnswer(req, fakeNping('SA', calls), local, macOf);
  assert.deepEqual(macs, ['br-lab']);
  for (const args of calls) assert.equal(args[args.indexOf('--source-mac') + 1], '02:00:0a:00:00:01');
  const without: string[][] = [];
  await probeVipAnswer(req, fakeNping('SA', without), local, () => undefined);
  assert.ok(
    without.every((args) => !args.includes('--source-mac')),
    'nping finds it itself when the interface has none',
  );
});

test('an RST: accepts, nothing listens, no RST after it; no reply: asked again more slowly, then no-answer; nping failing: error in words', async () => {
  const calls: string[][] = [];
  const at = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
  assert.deepEqual(await probeVipAnswer(req, fakeNping('RA', calls), local), { outcome: 'accepts', reply: 'rst', isReset: false });
  assert.equal(calls.length, 1);
  assert.deepEqual(await probeVipAnswer(req, fakeNping(null, calls), local), { outcome: 'no-answer', reply: 'none', isReset: false });
  assert.deepEqual(
    calls.slice(1).map((a) => [at(a, '--flags'), at(a, '--delay')]),
    [
      ['syn', '500ms'],
      ['syn', '1s'],
    ],
  );
  assert.equal(at(calls[1], '-g'), at(calls[2], '-g'), 'the second ask is the same segment again, as a retransmission');
  // A reply only to the second ask is an answer.
  let n = 0;
  const late: Nping = (args) => (n++ === 0 ? fakeNping(null)(args) : fakeNping('SA')(args));
  assert.deepEqual(await probeVipAnswer(req, late, local), { outcome: 'accepts', reply: 'syn-ack', isReset: true });
  assert.equal(n, 3);
  const failing: Nping = async () => {
    throw new Error('nping: command not found');
  };
  const r = await probeVipAnswer(req, failing, local);
  assert.equal(r.outcome, 'error');
  assert.match(r.error ?? '', /nping could not send the probe: nping: command not found/);
});

test('the engine sends only from its own address on that interface, to a unicast MAC', async () => {
  await assert.rejects(
    probeVipAnswer(req, fakeNping('SA'), () => false),
    (e: Error & { code?: string }) => e.code === 'ENGINE_BAD_REQUEST' && /10\.0\.0\.1 is not an address of this appliance's interface br-lab/.test(e.message),
  );
  assert.equal(VipAnswerRequestSchema.safeParse({ ...req, mac: '01:00:5e:00:00:01' }).success, false);
  assert.equal(VipAnswerRequestSchema.safeParse({ ...req, interface: 'eth0; rm -rf /' }).success, false);
  assert.equal(VipAnswerRequestSchema.safeParse({ ...req, vip: 'fd00::10' }).success, false);
  assert.equal(VipAnswerRequestSchema.safeParse(req).success, true);
});
