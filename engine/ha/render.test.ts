/**
 * keepalived.conf rendering against golden files (fixtures/*.conf; FULCRUM_UPDATE_GOLDEN=1 rewrites them, then
 * read the diff), and against keepalived 2.2.7's own parser: `keepalived -t` must accept what we render.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigSchema, haInterfaceGroups } from '../config/index.ts';
import { advertSeconds, assertSafePath, renderKeepalivedConf } from './render.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const CHECK = ['/usr/bin/curl', '--silent', '--fail', '--max-time', '3', '--unix-socket', '/var/lib/fulcrum/engine.sock', 'http://fulcrum-engine/v1/ha/check'];

const pair = (ha: Record<string, unknown> = {}) => ({
  interface: 'eth0',
  virtualRouterId: 51,
  nodes: [
    { name: 'lb1', address: '10.0.0.11', priority: 150 },
    { name: 'lb2', address: '10.0.0.12', priority: 100 },
  ],
  ...ha,
});
const vs = (name: string, mode: string, address: string, iface?: string) => ({
  name,
  layer: 4,
  mode,
  address,
  ports: [80],
  ...(iface ? { interface: iface } : {}),
  realServers: [{ name: 'r1', address: address.includes(':') ? 'fd00::2' : '10.0.0.2' }],
});

function render(input: Record<string, unknown>, nodeName = 'lb1', fifo = '/var/lib/fulcrum/ha-notify.fifo', check = CHECK): string {
  const config = ConfigSchema.parse(input);
  const node = config.ha!.nodes.find((n) => n.name === nodeName)!;
  return renderKeepalivedConf({ ha: config.ha!, node, groups: haInterfaceGroups(config), fifoPath: fifo, checkCommand: check });
}

function golden(name: string, text: string): void {
  const file = path.join(FIXTURES, name);
  if (process.env.FULCRUM_UPDATE_GOLDEN === '1') fs.writeFileSync(file, text);
  assert.equal(text, fs.readFileSync(file, 'utf8'), `${name} differs from the golden file`);
}

const cases: { file: string; node?: string; config: Record<string, unknown> }[] = [
  {
    file: 'pair-one-interface.conf',
    config: { virtualServices: [vs('symphony', 'dr', '10.0.0.10', 'eth0')], ha: pair() },
  },
  {
    file: 'pair-one-interface-lb2.conf',
    node: 'lb2',
    config: { virtualServices: [vs('symphony', 'dr', '10.0.0.10', 'eth0')], ha: pair() },
  },
  {
    // NAT: the VIP on the client side (eth1), the real servers' floating gateway on the HA link; an IPv6 VIP in the
    // excluded list (the adverts are IPv4); preemption after 30 s; 1 s adverts.
    file: 'pair-two-interfaces.conf',
    config: {
      virtualServices: [vs('nat-web', 'nat', '172.16.0.10', 'eth1'), vs('web6', 'nat', 'fd01::10', 'eth1'), vs('no-interface', 'dr', '10.0.0.20')],
      floatingIps: [{ address: '10.0.0.1', prefixLength: 24, interface: 'eth0' }],
      ha: pair({ preempt: true, preemptDelaySeconds: 30, advertIntervalMs: 1000 }),
    },
  },
  {
    file: 'pair-nothing-moves.conf',
    config: { virtualServices: [vs('symphony', 'dr', '10.0.0.10', 'eth0')], ha: pair({ movingAddresses: [], preempt: true }) },
  },
];

for (const c of cases) {
  test(`render: ${c.file}`, () => golden(c.file, render(c.config, c.node)));
}

test('render: the file depends on nothing but what keepalived must do (service order, other fields)', () => {
  const a = render({ virtualServices: [vs('a', 'dr', '10.0.0.10', 'eth0'), vs('b', 'dr', '10.0.0.9', 'eth0')], ha: pair() });
  const b = render({ virtualServices: [vs('b', 'dr', '10.0.0.9', 'eth0'), { ...vs('a', 'dr', '10.0.0.10', 'eth0'), scheduler: 'rr' }], ha: pair() });
  assert.equal(a, b);
});

test('render: advert intervals in keepalived seconds', () => {
  assert.deepEqual([10, 500, 1000, 1230, 40950].map(advertSeconds), ['0.01', '0.5', '1', '1.23', '40.95']);
});

test('render: paths keepalived would split are refused with HA_PATH_UNSAFE', () => {
  for (const p of ['/data dir/engine.sock', '/a"b', "/a'b", '/a#b', '/a!b']) assert.throws(() => assertSafePath(p), { code: 'HA_PATH_UNSAFE' });
  assert.doesNotThrow(() => assertSafePath('/var/lib/fulcrum/ha-notify.fifo'));
  assert.throws(() => render({ virtualServices: [], ha: pair() }, 'lb1', '/tmp/my data/fifo'), { code: 'HA_PATH_UNSAFE' });
});

test('render: keepalived 2.2.7 parses what we render without a warning', () => {
  // keepalived -t checks that the interfaces exist and refuses lo for VRRP: a veth pair in a network namespace of
  // our own (unshare -n) stands in for eth0/eth1. Exit 0 means no error and no warning.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-ha-render-'));
  const fifo = path.join(dir, 'notify.fifo');
  execFileSync('mkfifo', [fifo]);
  const conf = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(
    conf,
    render(
      {
        virtualServices: [vs('v4', 'nat', '172.16.0.10', 'ha1'), vs('v6', 'nat', 'fd01::10', 'ha1')],
        floatingIps: [{ address: '10.0.0.1', prefixLength: 24, interface: 'ha0' }],
        ha: pair({ interface: 'ha0', preempt: true, preemptDelaySeconds: 5 }),
      },
      'lb1',
      fifo,
      ['/usr/bin/curl', '--silent', '--fail', '--unix-socket', path.join(dir, 'engine.sock'), 'http://fulcrum-engine/v1/ha/check'],
    ),
  );
  const r = spawnSync('unshare', ['-n', 'sh', '-c', `ip link add ha0 type veth peer name ha1 && keepalived -t -l -n -f ${conf}`], { encoding: 'utf8' });
  assert.equal(r.error, undefined, 'unshare and keepalived are installed (scripts/install-system-deps.sh)');
  assert.equal(r.status, 0, `keepalived -t: ${r.stderr}${r.stdout}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('render: keepalived keeps the track script across reloads (SIGHUP twice)', () => {
  // keepalived 2.2.7 drops a track script on reload when a user is left to default; the rendered file names root.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-ha-reload-'));
  const fifo = path.join(dir, 'notify.fifo');
  execFileSync('mkfifo', [fifo]);
  const conf = path.join(dir, 'keepalived.conf');
  fs.writeFileSync(
    conf,
    render(
      {
        virtualServices: [vs('v4', 'dr', '10.9.0.10', 'ha0')],
        ha: pair({
          interface: 'ha0',
          nodes: [
            { name: 'lb1', address: '10.9.0.1', priority: 150 },
            { name: 'lb2', address: '10.9.0.2', priority: 100 },
          ],
        }),
      },
      'lb1',
      fifo,
      ['/usr/bin/true'],
    ),
  );
  const log = path.join(dir, 'log');
  const pid = path.join(dir, 'k.pid');
  // cat holds the FIFO's read end, as the engine does. Each signal waits until keepalived has logged the end of the
  // step before (its first script result, then each reload's), up to 10 s each: a wait for a line, not a guess.
  // The log exists before keepalived starts: a background job's redirection happens in the forked shell, so a grep
  // right after `&` could find no file yet, count nothing, and end its wait at once.
  const wait = (pattern: string, n: number) => `i=0; while [ "$(grep -c '${pattern}' ${log})" -lt ${n} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`;
  const script = [
    `: > ${log}`,
    `cat ${fifo} > /dev/null &`,
    'ip link add ha0 type veth peer name ha1 && ip addr add 10.9.0.1/24 dev ha0 && ip link set ha0 up && ip link set ha1 up',
    `keepalived -n -l -D -G --vrrp -f ${conf} -p ${pid} -r ${path.join(dir, 'v.pid')} > ${log} 2>&1 &`,
    wait('VRRP_Script(fulcrum_data_planes) succeeded', 1),
    `kill -HUP $(cat ${pid})`,
    wait('considered successful on reload', 1),
    `kill -HUP $(cat ${pid})`,
    wait('considered successful on reload', 2),
    `kill -TERM $(cat ${pid})`,
    wait('Stopped', 1),
    'kill %1 2>/dev/null; true',
  ].join('\n');
  const r = spawnSync('unshare', ['-n', 'sh', '-c', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const text = fs.readFileSync(log, 'utf8');
  assert.equal(text.match(/VRRP_Script\(fulcrum_data_planes\) considered successful on reload/g)?.length, 2, text);
  assert.doesNotMatch(text, /Unable to set|Error setting|not found, ignoring|SECURITY VIOLATION/);
  fs.rmSync(dir, { recursive: true, force: true });
});
