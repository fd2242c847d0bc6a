/**
 * GET /changes over the real API (a real SQLite file, the real engine daemon): one page of objects at a time, each
 * field in words, with the whole list's count and summary; pages put together are the whole list, in order.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setupAdmin, startHarness, type Client, type Harness } from '../testing/harness.ts';
import { changeSummary, type ObjectChange } from '../config/diff.ts';

let h: Harness;
let admin: Client;

type Page = {
  count: number;
  offset: number;
  limit: number;
  summary: string[];
  candidateHash: string;
  changes: { kind: string; objectType: string; name: string; headline: string; id?: string; fields: { path: string; text: string }[] }[];
};

const service = (i: number) => ({
  name: `svc-${i}`,
  layer: 7,
  mode: 'http',
  address: '127.0.0.1',
  ports: [21000 + i],
  healthCheck: { type: 'none' },
  realServers: [1, 2].map((k) => ({ name: `app-${k}`, address: '127.0.0.1', port: 41000 + i * 2 + k })),
});

before(async () => {
  h = await startHarness();
  admin = await setupAdmin(h);
  for (let i = 0; i < 3; i++) assert.equal((await admin.req('POST', '/virtual-services', service(i))).status, 201);
});
after(async () => {
  await h.close();
});

const get = async (query = '') => {
  const r = await admin.req('GET', `/changes${query}`);
  assert.equal(r.status, 200, r.text);
  return r.body as Page;
};

test('pages of objects put together are the whole list, each object with its fields in words and its id', async () => {
  const whole = await get('?limit=200');
  assert.equal(whole.count, 9, '3 services and their 6 real servers');
  assert.equal(whole.changes.length, 9);
  const paged: Page['changes'] = [];
  for (let offset = 0; offset < whole.count; offset += 4) {
    const p = await get(`?offset=${offset}&limit=4`);
    assert.equal(p.count, 9);
    assert.equal(p.offset, offset);
    assert.equal(p.changes.length, Math.min(4, 9 - offset));
    assert.equal(p.candidateHash, whole.candidateHash);
    paged.push(...p.changes);
  }
  assert.deepEqual(paged, whole.changes);
  const rs = whole.changes.find((c) => c.name === 'svc-1/app-2');
  assert.equal(rs?.headline, 'Real server app-2 added to svc-1');
  assert.ok(
    rs?.fields.some((f) => f.text === 'port of app-2 in svc-1 set to 41004'),
    JSON.stringify(rs?.fields),
  );
  const listed = (await admin.req('GET', '/virtual-services')).body.items as { id: string; name: string; realServers: { id: string; name: string }[] }[];
  const svc1 = listed.find((v) => v.name === 'svc-1');
  assert.equal(whole.changes.find((c) => c.name === 'svc-1')?.id, svc1?.id);
  assert.equal(rs?.id, svc1?.realServers.find((r) => r.name === 'app-2')?.id);
  assert.deepEqual(whole.summary, ['3 virtual services added', '6 real servers added']);
});

test('by default one page of 50; limit 0 answers the count and summary alone; past the end, an empty page', async () => {
  const first = await get();
  assert.equal(first.limit, 50);
  assert.equal(first.changes.length, 9);
  const counted = await get('?limit=0');
  assert.deepEqual([counted.count, counted.changes.length, counted.summary], [9, 0, first.summary]);
  const past = await get('?offset=20');
  assert.deepEqual([past.count, past.changes.length], [9, 0]);
});

test('a limit or offset out of range is refused at its field, saying what is accepted', async () => {
  for (const [query, field] of [
    ['?limit=201', 'limit'],
    ['?limit=ten', 'limit'],
    ['?offset=-1', 'offset'],
    ['?offset=1.5', 'offset'],
    ['?page=2', 'page'],
  ]) {
    const r = await admin.req('GET', `/changes${query}`);
    assert.equal(r.status, 422, `${query}: ${r.text}`);
    assert.equal(r.body.error.code, 'API_VALIDATION');
    assert.ok(
      r.body.error.details.fields.some((f: { path: string }) => f.path === field),
      `${query}: ${r.text}`,
    );
  }
  const r = await admin.req('GET', '/changes?limit=500');
  assert.match(r.body.error.message, /from 0 to 200/);
});

test('the summary counts each kind of change of each type of object, in words', () => {
  const c = (kind: ObjectChange['kind'], objectType: ObjectChange['objectType']): ObjectChange => ({
    kind,
    objectType,
    name: 'x',
    headline: '',
    before: null,
    after: null,
  });
  const list = [
    ...Array.from({ length: 1200 }, () => c('added', 'real-server')),
    c('added', 'virtual-service'),
    c('removed', 'floating-ip'),
    c('changed', 'ha'),
    c('changed', 'real-server'),
  ];
  assert.deepEqual(changeSummary(list), [
    '1 virtual service added',
    '1,200 real servers added',
    '1 real server changed',
    'settings of the HA pair changed',
    '1 floating IP removed',
  ]);
});
