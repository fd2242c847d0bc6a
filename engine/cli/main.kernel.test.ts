/** fulcrumctl as an operator runs it, as a process, against the real kernel (UML test kernel, root). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The CLI beside this file: main.js when scripts/kernel/run.sh runs the compiled tests (as npm run fulcrumctl runs
// build/engine/cli/main.js), the source through tsx otherwise.
const IS_SOURCE = import.meta.url.endsWith('.ts');
const CLI = [...(IS_SOURCE ? ['--import', 'tsx'] : []), fileURLToPath(new URL(IS_SOURCE ? './main.ts' : './main.js', import.meta.url))];
const ctl = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });

test('fulcrumctl apply then show: the table with owners and counters; a drain written in the file is weight 0', (t) => {
  t.after(() => execFileSync('ipvsadm', ['-C']));
  execFileSync('ipvsadm', ['-A', '-u', '198.51.100.7:514', '-s', 'rr']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrumctl-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      virtualServices: [
        {
          name: 'web',
          layer: 4,
          mode: 'dr',
          address: '192.0.2.10',
          ports: [80],
          scheduler: 'wrr',
          realServers: [
            { name: 'a', address: '10.0.0.1', weight: 5 },
            { name: 'b', address: '10.0.0.2', state: 'drain' },
          ],
        },
      ],
    }),
  );
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
  assert.ok(
    lines.some((l) => /^TCP {2}192\.0\.2\.10:80 wrr\s+fulcrum web$/.test(l)),
    s.stdout,
  );
  assert.ok(
    lines.some((l) => /^UDP {2}198\.51\.100\.7:514 rr\s+-$/.test(l)),
    s.stdout,
  );
  assert.ok(
    lines.some((l) => /^ {2}-> 10\.0\.0\.1:80\s+Route\s+5\s+0\s+0\s+0\s+0\s+0\s+0\s+0$/.test(l)),
    s.stdout,
  );
  assert.ok(
    lines.some((l) => /^ {2}-> 10\.0\.0\.2:80\s+Route\s+0\s/.test(l)),
    s.stdout,
  );

  const j = JSON.parse(ctl('show', '--data-dir', dir, '--json').stdout);
  assert.deepEqual(
    j.services.map((x: { owner: string | null; port: number }) => [x.port, x.owner]).sort((p: number[], q: number[]) => p[0] - q[0]),
    [
      [80, 'web'],
      [514, null],
    ],
  );
});

const ipvs = (...a: string[]) => execFileSync('ipvsadm', a, { encoding: 'utf8' });
const configFile = (dir: string, cfg: unknown) => {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(cfg));
  return file;
};

test('fulcrumctl apply: a "both" service whose UDP half is held by another program leaves neither half; removing it from the file reports it removed', (t) => {
  t.after(() => execFileSync('ipvsadm', ['-C']));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrumctl-'));
  ipvs('-A', '-u', '192.0.2.53:53', '-s', 'rr');
  const dns = { name: 'dns', layer: 4, mode: 'dr', protocol: 'both', address: '192.0.2.53', ports: [53], realServers: [{ name: 'a', address: '10.0.0.1' }] };
  const file = configFile(dir, { virtualServices: [dns] });
  const a = ctl('apply', file, '--data-dir', dir);
  assert.equal(a.status, 1, a.stdout + a.stderr);
  assert.match(
    a.stdout,
    /^failed {4}dns: IPVS service UDP 192\.0\.2\.53:53 already exists in the kernel and is not owned by Fulcrum; remove it or choose another address or port\. Nothing of it was left half-programmed: the IPVS service this apply had created for it was removed again\. \[IPVS_EXISTS\]$/m,
  );
  assert.equal(ipvs('-Sn'), '-A -u 192.0.2.53:53 -s rr\n', "the TCP half is not left in the kernel; the other program's UDP service is untouched");

  ipvs('-D', '-u', '192.0.2.53:53');
  const b = ctl('apply', file, '--data-dir', dir);
  assert.equal(b.status, 0, b.stdout + b.stderr);
  assert.match(b.stdout, /^programmed dns: 2 IPVS services in the kernel/m);
  assert.equal(
    ipvs('-Sn')
      .split('\n')
      .filter((l) => l.startsWith('-A')).length,
    2,
  );

  // A fresh process that never saw the old file names what it took out.
  const c = ctl('apply', configFile(dir, { virtualServices: [] }), '--data-dir', dir);
  assert.equal(c.status, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /^removed {3}dns: Removed from the kernel: 2 IPVS services\.$/m);
  assert.equal(ipvs('-Sn'), '');
});

test('fulcrumctl apply: a firewall mark held by another program is refused in words of the mark', (t) => {
  t.after(() => execFileSync('ipvsadm', ['-C']));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrumctl-'));
  ipvs('-A', '-f', '7', '-s', 'rr');
  const a = ctl(
    'apply',
    configFile(dir, {
      virtualServices: [{ name: 'multi', layer: 4, mode: 'dr', address: '192.0.2.20', firewallMark: 7, realServers: [{ name: 'a', address: '10.0.0.1' }] }],
    }),
    '--data-dir',
    dir,
  );
  assert.equal(a.status, 1);
  assert.match(
    a.stdout,
    /^failed {4}multi: An IPVS firewall-mark service for mark 7 already exists in the kernel and is not owned by Fulcrum; remove it or choose another firewall mark\. \[IPVS_EXISTS\]$/m,
  );
});

test('fulcrumctl apply: a firewall-mark service without an address takes its family from its real servers', (t) => {
  t.after(() => execFileSync('ipvsadm', ['-C']));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrumctl-'));
  const file = configFile(dir, {
    virtualServices: [
      {
        name: 'pacs6',
        layer: 4,
        mode: 'dr',
        firewallMark: 9,
        persistence: { type: 'source-ip', timeoutSeconds: 600 },
        realServers: [
          { name: 'a', address: '2001:db8::1' },
          { name: 'b', address: '2001:db8::2' },
        ],
      },
      { name: 'pacs4', layer: 4, mode: 'nat', firewallMark: 10, realServers: [{ name: 'a', address: '10.0.0.1', port: 104 }] },
    ],
  });
  const c = ctl('check', file);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /^ {2}pacs6 \[dr\]: FWM 9 IPv6 wlc \(2 real servers\)$/m);
  const a = ctl('apply', file, '--data-dir', dir);
  assert.equal(a.status, 0, a.stdout + a.stderr);
  const saved = ipvs('-Sn');
  assert.match(saved, /^-A -f 9 -6 -s wlc -p 600( -M 128)?$/m);
  assert.match(saved, /^-a -f 9 -6 -r \[2001:db8::1\]:0 -g -w 100$/m);
  assert.match(saved, /^-A -f 10 -s wlc$/m);
  assert.match(saved, /^-a -f 10 -r 10\.0\.0\.1:104 -m -w 100$/m);
});

test('fulcrumctl apply: sh fallback and port flags reach the kernel as ipvsadm -b shows them; IPVS timeouts are set', (t) => {
  t.after(() => {
    execFileSync('ipvsadm', ['-C']);
    execFileSync('ipvsadm', ['--set', '900', '120', '300']);
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrumctl-'));
  const file = configFile(dir, {
    layer4: { timeouts: { tcpSeconds: 7200, tcpFinSeconds: 60, udpSeconds: 30 } },
    virtualServices: [
      {
        name: 'pacs',
        layer: 4,
        mode: 'dr',
        address: '192.0.2.30',
        ports: [104],
        scheduler: 'sh',
        layer4: { schedulerFallback: true, schedulerPort: true },
        realServers: [{ name: 'a', address: '10.0.0.1' }],
      },
      {
        name: 'ris',
        layer: 4,
        mode: 'dr',
        address: '192.0.2.31',
        ports: [80],
        scheduler: 'mh',
        layer4: { schedulerFallback: true },
        realServers: [{ name: 'a', address: '10.0.0.1' }],
      },
    ],
  });
  const a = ctl('apply', file, '--data-dir', dir);
  assert.equal(a.status, 0, a.stdout + a.stderr);
  assert.match(a.stdout, /^IPVS timeouts set: tcp 7200 s, tcpfin 60 s, udp 30 s\.$/m);
  const saved = ipvs('-Sn');
  assert.match(saved, /^-A -t 192\.0\.2\.30:104 -s sh -b sh-fallback,sh-port$/m);
  assert.match(saved, /^-A -t 192\.0\.2\.31:80 -s mh -b mh-fallback$/m);
  assert.match(ipvs('-L', '--timeout'), /^Timeout \(tcp tcpfin udp\): 7200 60 30$/m);
  const again = ctl('apply', file, '--data-dir', dir);
  assert.doesNotMatch(again.stdout, /IPVS timeouts set/, 'the kernel already has them: nothing set');
  assert.match(again.stdout, /^0 netlink operations/m);
  const s = ctl('show', '--data-dir', dir);
  assert.match(s.stdout, /^TCP {2}192\.0\.2\.30:104 sh \(sh-fallback,sh-port\)\s+fulcrum pacs$/m);
  // Flag changed in the file: one SET_SERVICE, and the kernel follows.
  const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  cfg.virtualServices[0].layer4.schedulerPort = false;
  fs.writeFileSync(file, JSON.stringify(cfg));
  assert.match(ctl('apply', file, '--data-dir', dir).stdout, /^programmed pacs: 1 IPVS service in the kernel; 1 operation\./m);
  assert.match(ipvs('-Sn'), /^-A -t 192\.0\.2\.30:104 -s sh -b sh-fallback$/m);
});

test("fulcrumctl show: columns stand under their headings (IPv6 too), destinations in the kernel's order; a missing data directory is a warning", (t) => {
  t.after(() => execFileSync('ipvsadm', ['-C']));
  ipvs('-A', '-t', '[2001:db8::10]:443', '-s', 'rr');
  for (const rs of ['2001:db8::abcd:1', '2001:db8::2', '2001:db8::abcd:ef01:3'])
    ipvs('-a', '-t', '[2001:db8::10]:443', '-r', `[${rs}]:8443`, '-m', '-w', '12345');
  ipvs('-A', '-t', '192.0.2.9:80', '-s', 'wlc');
  ipvs('-a', '-t', '192.0.2.9:80', '-r', '10.0.0.9:80', '-g', '-w', '7');
  const s = ctl('show', '--data-dir', '/nonexistent/fulcrum-data');
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stderr, /^warning: data directory \/nonexistent\/fulcrum-data does not exist, so which services are Fulcrum's is unknown/);
  const lines = s.stdout.split('\n');
  assert.match(lines[0], /2 services, owners unknown \(no data dir \/nonexistent\/fulcrum-data\)$/);
  const head = lines[2];
  const endOf = (line: string, word: string) => line.indexOf(word) + word.length;
  const dests = lines.filter((l) => l.startsWith('  -> ') && l !== head);
  assert.equal(dests.length, 4);
  for (const d of dests) {
    const cells = d.trim().split(/\s+/); // "->", address, forward, weight, active, inactive, 5 counters
    assert.equal(d.indexOf(cells[2]), head.indexOf('Forward'), `Forward under its heading:\n${head}\n${d}`);
    assert.equal(d.indexOf(` ${cells[3]} `) + 1 + cells[3].length, endOf(head, 'Weight'), `Weight under its heading:\n${head}\n${d}`);
    assert.equal(d.length, head.length, `the last counter ends under OutBytes:\n${head}\n${d}`);
  }
  assert.equal(lines[1].indexOf('Owner'), lines.find((l) => l.startsWith('TCP  [2001'))!.lastIndexOf('-'), 'Owner column under its heading');
  const kernelOrder = ipvs('-Ln')
    .split('\n')
    .filter((l) => l.includes('2001:db8::') && l.includes('->'))
    .map((l) => l.trim().split(/\s+/)[1]);
  const shown = dests.filter((l) => l.includes('2001:db8')).map((l) => l.trim().split(/\s+/)[1]);
  assert.deepEqual(shown, kernelOrder);
  assert.deepEqual(shown, ['[2001:db8::abcd:1]:8443', '[2001:db8::2]:8443', '[2001:db8::abcd:ef01:3]:8443'], 'the order they were added');
});
