/** fulcrumctl as an operator runs it, as a process, against the real kernel (UML test kernel, root). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ctl = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'engine/cli/main.ts', ...args], { encoding: 'utf8' });

test('fulcrumctl apply then show: the table with owners and counters; a drain written in the file is weight 0', (t) => {
  t.after(() => execFileSync('ipvsadm', ['-C']));
  execFileSync('ipvsadm', ['-A', '-u', '198.51.100.7:514', '-s', 'rr']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrumctl-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ virtualServices: [
    { name: 'web', layer: 4, mode: 'dr', address: '192.0.2.10', ports: [80], scheduler: 'wrr', realServers: [{ name: 'a', address: '10.0.0.1', weight: 5 }, { name: 'b', address: '10.0.0.2', state: 'drain' }] },
  ] }));
  const a = ctl('apply', file, '--data-dir', dir);
  assert.equal(a.status, 0, a.stderr);
  assert.match(a.stdout, /^programmed web: 1 IPVS service in the kernel; 3 operations\./m);
  assert.match(a.stdout, /^3 netlink operations \(full read\)/m);
  const again = ctl('apply', file, '--data-dir', dir);
  assert.match(again.stdout, /^0 netlink operations \(full read\)/m, 'a second process reconciles to nothing');

  const s = ctl('show', '--data-dir', dir);
  assert.equal(s.status, 0, s.stderr);
  const lines = s.stdout.split('\n');
  assert.match(lines[0], /^IP Virtual Server version 1\.2\.1 \(size=4096\) — 2 services, 1 owned by Fulcrum/);
  assert.ok(lines.some((l) => /^TCP  192\.0\.2\.10:80 wrr\s+fulcrum web$/.test(l)), s.stdout);
  assert.ok(lines.some((l) => /^UDP  198\.51\.100\.7:514 rr\s+-$/.test(l)), s.stdout);
  assert.ok(lines.some((l) => /^ {2}-> 10\.0\.0\.1:80\s+Route\s+5\s+0\s+0\s+0\s+0\s+0\s+0\s+0$/.test(l)), s.stdout);
  assert.ok(lines.some((l) => /^ {2}-> 10\.0\.0\.2:80\s+Route\s+0\s/.test(l)), s.stdout);

  const j = JSON.parse(ctl('show', '--data-dir', dir, '--json').stdout);
  assert.deepEqual(j.services.map((x: { owner: string | null; port: number }) => [x.port, x.owner]).sort((p: number[], q: number[]) => p[0] - q[0]), [[80, 'web'], [514, null]]);
});
