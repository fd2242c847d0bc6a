/**
 * The access log on a real directory: one JSON line per logged exchange with HAProxy's fields, rotated by size with
 * the retained count (also over files an earlier run left), sampled with an injected random source while abnormal
 * exchanges are always kept, secrets redacted by the shared list, and options refused naming the option.
 */
import { after, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { accessLine, CHUNK_BYTES, createAccessLog, type AccessEntry } from './access-log.ts';

const dirs: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-access-'));
  dirs.push(dir);
  return dir;
};
// Each test's directory goes with the file's run (they were left in /tmp, a hundred after a few runs).
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function entry(over: Partial<AccessEntry> = {}): AccessEntry {
  return {
    client: '127.0.0.1:51514',
    service: 'symphony-web',
    server: 'sym-app-1',
    method: 'GET',
    path: '/ed/triage',
    status: 200,
    bytesIn: 120,
    bytesOut: 2048,
    timings: { requestMs: 0.2, queueMs: 0, connectMs: 0.4, responseMs: 3.1, totalMs: 3.9 },
    termination: '--',
    retries: 0,
    ...over,
  };
}
/** Entries of about 1.25 chunks (the lines are some 280 bytes): enough that one chunk goes to the file without the timer. */
const CHUNK_AND_A_QUARTER = Math.ceil((1.25 * CHUNK_BYTES) / accessLine(entry({ path: '/round/0/000' })).length);
const lines = (dir: string) =>
  fs
    .readdirSync(dir)
    .sort()
    .flatMap((f) =>
      fs
        .readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );

test('paths with quotes, backslashes, control and non-ASCII characters come back as sent; a long one is cut at 512', async () => {
  const dir = tmp();
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '10m', keep: 2 });
  const odd = '/a"b\\c\u0001d\u2028é?q=<x>';
  log.record(entry({ path: odd, client: '[2001:db8::1]:443', timings: { requestMs: Number.NaN, queueMs: 0, connectMs: 0, responseMs: 0, totalMs: 1 } }));
  log.record(entry({ path: `/${'x'.repeat(600)}` }));
  await log.close();
  const [a, b] = lines(dir);
  assert.deepEqual([a.path, a.client, a.timings.requestMs], [odd, '[2001:db8::1]:443', -1]);
  // Written as ASCII (others as \u escapes), which the log copies into its buffer byte for byte.
  for (const line of fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'latin1').split('\n')) assert.match(line, /^[ -~]*$/);
  assert.equal(b.path, `/${'x'.repeat(511)}…`);
});

test('service, server, method and termination come back as sent, escaped or not, when they repeat and after more distinct values than the log remembers', async () => {
  const dir = tmp();
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '10m', keep: 1 });
  const odd = { service: 'a"b', server: 'c\\d\u0001', method: 'M\u00e9', termination: 'P"' };
  const sent: AccessEntry[] = [];
  // 1,500 distinct services pass the 1,024 the log keeps the text of, so odd values are looked up before and after the
  // table starts again, and each value is written once from the table and once freshly.
  for (let i = 0; i < 1500; i++) {
    const e = i % 100 === 7 ? entry(odd) : entry({ service: `svc-${i}`, server: i % 2 ? undefined : `srv-${i % 3}` });
    sent.push(e, e);
    log.record(e);
    log.record(e);
  }
  await log.close();
  const got = lines(dir);
  assert.equal(got.length, sent.length);
  got.forEach((g, i) => {
    const e = sent[i];
    assert.deepEqual([g.service, g.server, g.method, g.termination], [e.service, e.server ?? '-', e.method, e.termination], `line ${i + 1}`);
  });
  for (const line of fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'latin1').split('\n')) assert.match(line, /^[ -~]*$/);
});

test("timings and the time are written as JSON.stringify writes them: a fraction's trailing zeros cut, other values as they are", async () => {
  const dir = tmp();
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '10m', keep: 1 });
  const cases = [
    { requestMs: 0, queueMs: 0.1, connectMs: 0.125, responseMs: 12, totalMs: 1234.567 },
    { requestMs: -1, queueMs: 0.001, connectMs: 999.999, responseMs: 86_400_000.5, totalMs: 0.0001234 },
    { requestMs: Number.NaN, queueMs: 1e-7, connectMs: 2 ** 60, responseMs: 7.05, totalMs: 10.2 },
  ];
  for (const timings of cases) log.record(entry({ timings }));
  await log.close();
  const text = fs
    .readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'latin1')
    .split('\n')
    .filter(Boolean);
  cases.forEach((t, i) => {
    const want = JSON.stringify(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Number.isFinite(v) ? v : -1])));
    assert.ok(text[i].includes(`"timings":${want}`), `${text[i]} has ${want}`);
    assert.match(text[i], /"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/);
  });
});

test('each logged exchange is one JSON line with its fields; a key outside them (a secret, say) is never written', async () => {
  const dir = tmp();
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '10m', keep: 2, sampleRate: 1 });
  assert.equal(log.record(entry()), true);
  assert.equal(log.record({ ...entry({ status: 503, server: undefined, termination: 'SC' }), ...({ authorization: 'Bearer s3cret' } as object) }), true);
  await log.close();
  const [a, b] = lines(dir);
  assert.deepEqual({ ...a, time: undefined }, { level: 'info', time: undefined, msg: 'access', ...entry() });
  assert.match(a.time, /^\d{4}-\d\d-\d\dT/);
  assert.equal(b.server, '-', 'no server was picked');
  assert.equal(b.termination, 'SC');
  assert.equal(b.authorization, undefined);
  assert.deepEqual(Object.keys(a), [
    'level',
    'time',
    'client',
    'service',
    'server',
    'method',
    'path',
    'status',
    'bytesIn',
    'bytesOut',
    'timings',
    'termination',
    'retries',
    'msg',
  ]);
  assert.equal(fs.statSync(path.join(dir, fs.readdirSync(dir)[0])).mode & 0o777, 0o600);
});

test('sampling keeps the drawn share of normal exchanges and every abnormal one', async () => {
  const dir = tmp();
  let i = 0;
  const draws = [0.05, 0.5, 0.95, 0.09, 0.11];
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '10m', keep: 1, sampleRate: 0.1, random: () => draws[i++ % draws.length] });
  const kept = draws.map((_, n) => log.record(entry({ path: `/normal/${n}` })));
  assert.deepEqual(kept, [true, false, false, true, false]);
  assert.equal(log.record(entry({ status: 502, path: '/bad-gateway' })), true);
  assert.equal(log.record(entry({ termination: 'CD', path: '/client-left' })), true);
  assert.deepEqual(log.counts(), { written: 4, skipped: 3 });
  await log.close();
  assert.deepEqual(
    lines(dir).map((l) => l.path),
    ['/normal/0', '/normal/3', '/bad-gateway', '/client-left'],
  );
});

test('rotation by size keeps the active file and `keep` rotated ones, removing those an earlier run left too', async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'access.1.log'), '{"msg":"from an earlier run"}\n');
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '1k', keep: 2, sampleRate: 1 });
  let n = 0;
  for (let round = 0; round < 5; round++) {
    const cleaned = once(log.stream, 'cleanup-complete');
    // Past the chunk the log gathers before writing, and past the 1 kB limit, so one rotation follows.
    for (let k = 0; k < CHUNK_AND_A_QUARTER; k++) log.record(entry({ path: `/round/${round}/${n++}` }));
    await cleaned;
  }
  log.record(entry({ path: '/last' }));
  await log.close();
  const files = fs.readdirSync(dir);
  assert.equal(files.length, 3, `the active file and two rotated ones: ${files.join(', ')}`);
  const paths = lines(dir).map((l) => l.path);
  assert.ok(!paths.includes(undefined), "the earlier run's file is gone");
  assert.ok(paths.includes('/last'));
  assert.ok(!paths.includes('/round/0/0'), 'the oldest entries went with their file');
});

test('keep 0 rotates to a new file and keeps none of the old ones', async () => {
  const dir = tmp();
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '1k', keep: 0, sampleRate: 1 });
  for (let round = 0; round < 3; round++) {
    const cleaned = once(log.stream, 'cleanup-complete');
    for (let k = 0; k < CHUNK_AND_A_QUARTER; k++) log.record(entry({ path: `/round/${round}/${k}` }));
    await cleaned;
  }
  await log.close();
  assert.deepEqual(fs.readdirSync(dir), ['access.4.log'], 'the active file alone');
});

test("a few lines wait for the half-second flush, a chunk's worth goes at once, and close() writes the rest", { timeout: 10_000 }, async (t) => {
  const dir = tmp();
  t.mock.timers.enable({ apis: ['setInterval'] });
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '10m', keep: 1 });
  const writes: number[] = [];
  log.stream.on('write', (n: number) => writes.push(n));
  log.record(entry({ path: '/quiet/1' }));
  log.record(entry({ path: '/quiet/2' }));
  assert.deepEqual(writes, [], 'two lines are held, not written one by one');
  t.mock.timers.tick(500); // the write is synchronous: done when the timer's callback returns
  assert.deepEqual(
    lines(dir).map((l) => l.path),
    ['/quiet/1', '/quiet/2'],
    'the timer wrote both, in one write',
  );
  assert.equal(writes.length, 1);
  for (let k = 0; k < CHUNK_AND_A_QUARTER; k++) log.record(entry({ path: `/busy/${k}` }));
  assert.equal(writes.length, 2, 'a chunk went out without the timer');
  assert.ok(writes[1] <= CHUNK_BYTES && writes[1] > CHUNK_BYTES - 4096, `a whole chunk: ${writes[1]} bytes`);
  log.record(entry({ path: '/last' }));
  await log.close();
  const paths = lines(dir).map((l) => l.path);
  assert.equal(paths.length, 2 + CHUNK_AND_A_QUARTER + 1);
  assert.equal(paths.at(-1), '/last');
  mock.timers.reset();
});

test('options are refused naming the option', async () => {
  const dir = tmp();
  const file = path.join(dir, 'access.log');
  await assert.rejects(createAccessLog({ file, size: '10m', keep: 2, sampleRate: 1.5 }), /accessLog\.sampleRate/);
  await assert.rejects(createAccessLog({ file, size: '10m', keep: -1, sampleRate: 1 }), /accessLog\.keep/);
  await assert.rejects(createAccessLog({ file, size: 'big', keep: 1, sampleRate: 1 }), /accessLog\.size/);
});

test('the file holds the lines accessLine makes, byte for byte, in order: odd strings, numbers and times, and a line longer than a chunk', async (t) => {
  // Date alone is mocked, so accessLine and record() see the same time; it moves by odd steps across seconds.
  t.mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 11, 4, 18, 59, 59, 998) });
  const dir = tmp();
  const log = await createAccessLog({ file: path.join(dir, 'access.log'), size: '100m', keep: 1 });
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const strs = [
    '',
    'a',
    '-',
    'GET',
    'symphony-web',
    '/',
    '/ed/triage?x=1&y=~',
    ' !#$%&()*+,-./09:;<=>?@AZ[]^_`az{|}~',
    'a"b',
    'c\\d',
    'e\u0001f',
    'tab\t',
    'del\u007f',
    'é',
    '\u2028',
    '😀',
    'x'.repeat(300),
  ];
  const paths = [...strs, `/${'p'.repeat(511)}`, `/${'p'.repeat(512)}`, `/${'é'.repeat(600)}`];
  const clients = ['127.0.0.1:51514', '[2001:db8::1]:443', '10.0.0.255:0', '[::ffff:1.2.3.4]:65535'];
  const nums = [
    0,
    -0,
    1,
    9,
    10,
    99,
    100,
    200,
    999,
    1000,
    65535,
    123456789,
    2 ** 31,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 53 + 2,
    -1,
    -10,
    -(2 ** 53) + 1,
    0.5,
    -0.25,
    1e21,
    1e-7,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    0.1 + 0.2,
  ];
  const ms = () => {
    const r = rnd();
    if (r < 0.5) return Math.round(rnd() * 10 ** Math.floor(rnd() * 10)) / 1000;
    if (r < 0.6) return Math.floor(rnd() * 1e15) / 1000;
    return pick([...nums, 1e12, 999_999_999_999.999, 1e15 / 1000, 0.001, 0.01, 0.1, 0.0001234, 7.05, 86_400_000.5]);
  };
  let want = '';
  for (let i = 0; i < 3000; i++) {
    const odd = rnd() < 0.1;
    const e: AccessEntry = {
      client: pick(odd ? [...clients, ...strs] : clients),
      service: odd ? pick(strs) : 'symphony-web',
      server: rnd() < 0.2 ? undefined : odd ? pick(strs) : 'sym-app-1',
      method: odd ? pick(strs) : 'GET',
      path: pick(paths),
      status: odd ? pick(nums) : pick([200, 404, 503, -1]),
      bytesIn: odd ? pick(nums) : Math.floor(rnd() * 1e6),
      bytesOut: odd ? pick(nums) : Math.floor(rnd() * 1e9),
      timings: { requestMs: ms(), queueMs: ms(), connectMs: ms(), responseMs: ms(), totalMs: ms() },
      termination: odd ? pick(strs) : '--',
      retries: odd ? pick(nums) : 0,
    };
    want += accessLine(e);
    log.record(e);
    t.mock.timers.tick(pick([0, 1, 7, 250, 999, 1000, 1001]));
  }
  // Lines longer than the chunk the log gathers lines in, plain and escaped (each 'é' six bytes), and lines after them.
  for (const huge of [entry({ service: 's'.repeat(CHUNK_BYTES + 1000) }), entry({ server: 'é'.repeat(CHUNK_BYTES / 5) }), entry(), entry()]) {
    want += accessLine(huge);
    log.record(huge);
  }
  await log.close();
  const got = fs.readFileSync(path.join(dir, fs.readdirSync(dir)[0]), 'latin1');
  assert.equal(got.length, want.length);
  assert.ok(got === want, 'the file is the lines, byte for byte');
  assert.equal(got.split('\n').filter(Boolean).length, 3004);
  mock.timers.reset();
});
