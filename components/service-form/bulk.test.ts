/** Bulk real servers: lines and CSV parsed and checked line by line with the shared schema, before anything is added. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloneServers, parseBulk, splitLine } from './bulk.ts';

test('CSV, tab-separated and space-separated lines; header, blanks and comments skipped', () => {
  const lines = parseBulk(
    'name,address,port,weight\nsym-app-1,192.168.10.61,8080,50\n\n# spare\nsym-app-2\t192.168.10.62\t\t\nsym-app-3 2001:db8::63 443\n"sym-app-4","192.168.10.64",,200',
    [],
  );
  assert.deepEqual(
    lines.map((l) => [l.line, l.problems, l.server]),
    [
      [2, [], { name: 'sym-app-1', address: '192.168.10.61', port: 8080, weight: 50 }],
      [5, [], { name: 'sym-app-2', address: '192.168.10.62' }],
      [6, [], { name: 'sym-app-3', address: '2001:db8::63', port: 443 }],
      [7, [], { name: 'sym-app-4', address: '192.168.10.64', weight: 200 }],
    ],
  );
  assert.deepEqual(splitLine(' a , b ,, 3 '), ['a', 'b', '', '3']);
});

test("each bad line is named with the schema's sentence, the good ones carry their server", () => {
  const text = Array.from({ length: 300 }, (_, i) => `sym-app-${i + 1},10.0.${Math.floor(i / 250)}.${(i % 250) + 1},8080,100`);
  text[149] = 'sym-app-150,10.0.0.999,8080,100';
  text[200] = 'sym-app-201,10.0.0.201,eighty,100';
  text[250] = 'sym-app-251,10.0.1.1,8080,100,extra';
  const lines = parseBulk(text.join('\n'), []);
  assert.equal(lines.length, 300);
  const bad = lines.filter((l) => l.problems.length > 0);
  assert.deepEqual(
    bad.map((l) => l.line),
    [150, 201, 251],
  );
  assert.match(bad[0].problems[0], /^address: Give an IPv4 address/);
  assert.equal(bad[1].problems[0], 'port: Give a port number from 1 to 65535.');
  assert.match(bad[2].problems[0], /at most 4 values/);
  assert.ok(lines.filter((l) => l.problems.length === 0).every((l) => l.server));
  assert.ok(bad.every((l) => l.server === undefined));
});

test('names and address:port used twice, in the paste or already in the service, are refused by line', () => {
  const lines = parseBulk('a,10.0.0.1,80\nb,10.0.0.1,80\na,10.0.0.2\nc,10.0.0.9', [{ name: 'c', address: '10.0.0.3' }]);
  assert.deepEqual(
    lines.map((l) => l.problems),
    [
      [],
      ['10.0.0.1:80 is already listed (line 1).'],
      ['The name "a" is already used by line 1.'],
      ['The name "c" is already used by a real server already in this service.'],
    ],
  );
});

test("a clone keeps each server's settings, drops stamps, and drops groups for a layer 4 service", () => {
  const other = [
    { id: 'x', version: 3, createdAt: 'then', updatedAt: 'now', name: 'a', address: '10.0.0.1', weight: 5, group: 'api', isBackup: true, state: 'online' },
  ];
  const [l7] = cloneServers(other, [], true);
  assert.deepEqual(l7.server, { name: 'a', address: '10.0.0.1', weight: 5, group: 'api', isBackup: true, state: 'online' });
  const [l4] = cloneServers(other, [], false);
  assert.equal((l4.server as Record<string, unknown>).group, undefined);
  assert.deepEqual(cloneServers(other, [{ name: 'a', address: '10.0.0.7' }], true)[0].problems, [
    'The name "a" is already used by a real server already in this service.',
  ]);
});
