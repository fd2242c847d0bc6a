/**
 * The IPVS client against the real kernel, with ipvsadm as the oracle. Runs inside the UML test kernel as root
 * (scripts/kernel/run.sh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { IpvsClient } from './client.ts';
import type { Service } from './model.ts';

// The client beside this file: client.js when scripts/kernel/run.sh runs the compiled tests, the source through tsx
// otherwise.
const IS_SOURCE = import.meta.url.endsWith('.ts');
const CLIENT = new URL(IS_SOURCE ? './client.ts' : './client.js', import.meta.url).href;

const ipvsadm = (...args: string[]) => execFileSync('ipvsadm', args, { encoding: 'utf8' });
const saved = () => ipvsadm('-Sn').trim().split('\n').filter(Boolean).sort();

test('client: info, timeouts and the table agree with ipvsadm', async (t) => {
  const c = await IpvsClient.open();
  t.after(() => {
    c.close();
    ipvsadm('-C');
  });
  const info = await c.info();
  assert.match(ipvsadm('-Ln').split('\n')[0], new RegExp(`version ${info.version.replace(/\./g, '\\.')} \\(size=${info.connectionTableSize}\\)`));

  const svc: Service = { family: 4, protocol: 'tcp', address: '192.0.2.10', port: 80, scheduler: 'wrr', flags: 1, timeout: 600, netmaskPrefix: 24, peName: '' };
  const r = await c.exec([
    { cmd: 'new-service', service: svc },
    { cmd: 'new-dest', service: svc, destination: { address: '198.51.100.1', port: 8080, forward: 'masq', weight: 3, upperThreshold: 50, lowerThreshold: 5 } },
    { cmd: 'new-dest', service: svc, destination: { address: '198.51.100.2', port: 8080, forward: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0 } },
    {
      cmd: 'new-service',
      service: { family: 6, protocol: 'udp', address: '2001:db8::53', port: 53, scheduler: 'sh', flags: 4, timeout: 0, netmaskPrefix: 128, peName: '' },
    },
    { cmd: 'new-service', service: { family: 4, fwmark: 42, scheduler: 'mh', flags: 0, timeout: 0, netmaskPrefix: 32, peName: '' } },
  ]);
  assert.deepEqual(
    r.map((x) => x.ok),
    [true, true, true, true, true],
  );
  assert.equal(c.mutations, 5);
  assert.deepEqual(
    saved(),
    [
      '-A -f 42 -s mh',
      '-A -t 192.0.2.10:80 -s wrr -p 600 -M 255.255.255.0',
      '-A -u [2001:db8::53]:53 -s sh -o',
      '-a -t 192.0.2.10:80 -r 198.51.100.1:8080 -m -w 3',
      '-a -t 192.0.2.10:80 -r 198.51.100.2:8080 -m -w 1',
    ].sort(),
  );
  // ipvsadm -S leaves thresholds out; -L --thresholds shows them.
  assert.match(ipvsadm('-Ln', '--thresholds'), /198\.51\.100\.1:8080\s+50\s+5\s/);

  const table = await c.table();
  const tcp = table.find((s) => s.protocol === 'tcp')!;
  assert.equal(tcp.scheduler, 'wrr');
  assert.equal(tcp.netmaskPrefix, 24);
  assert.deepEqual(tcp.destinations.map((d) => [d.address, d.port, d.weight]).sort(), [
    ['198.51.100.1', 8080, 3],
    ['198.51.100.2', 8080, 1],
  ]);
  assert.equal(table.find((s) => s.fwmark === 42)!.scheduler, 'mh');

  await c.setTimeouts({ tcp: 901, tcpFin: 121, udp: 301 });
  assert.deepEqual(await c.timeouts(), { tcp: 901, tcpFin: 121, udp: 301 });
  assert.match(ipvsadm('-L', '--timeout'), /Timeout \(tcp tcpfin udp\): 901 121 301/);
});

test('client: EEXIST on add and ESRCH/ENOENT on delete are success; refusals carry coded sentences', async (t) => {
  const c = await IpvsClient.open();
  t.after(() => {
    c.close();
    ipvsadm('-C');
  });
  const svc: Service = { family: 4, protocol: 'tcp', address: '192.0.2.20', port: 443, scheduler: 'rr', flags: 0, timeout: 0, netmaskPrefix: 32, peName: '' };
  const dest = { address: '198.51.100.9', port: 443, forward: 'route' as const, weight: 1, upperThreshold: 0, lowerThreshold: 0 };
  const r = await c.exec([
    { cmd: 'new-service', service: svc },
    { cmd: 'new-service', service: svc },
    { cmd: 'new-dest', service: svc, destination: dest },
    { cmd: 'new-dest', service: svc, destination: dest },
    { cmd: 'del-dest', service: svc, destination: { address: '198.51.100.99', port: 443 } },
    { cmd: 'del-service', service: { ...svc, port: 444 } },
    { cmd: 'new-service', service: { ...svc, port: 8443, scheduler: 'nosuch' } },
    { cmd: 'set-dest', service: { ...svc, port: 445 }, destination: dest },
  ]);
  assert.deepEqual(
    r.map((x) => [x.ok, x.errno]),
    [
      [true, undefined],
      [true, 'EEXIST'],
      [true, undefined],
      [true, 'EEXIST'],
      [true, 'ENOENT'],
      [true, 'ESRCH'],
      [false, 'ENOENT'],
      [false, 'ESRCH'],
    ],
  );
  assert.equal(r[6].error!.code, 'IPVS_SCHEDULER_MISSING');
  assert.equal(r[6].error!.message, 'Scheduler nosuch is not available in this kernel (module ip_vs_nosuch missing); choose another scheduler.');
  assert.equal(r[7].error!.code, 'IPVS_KERNEL');
  assert.match(r[7].error!.message, /changing real server 198\.51\.100\.9:443 of TCP 192\.0\.2\.20:445/);
});

test('client: the sync daemon starts, lists and stops', async (t) => {
  const c = await IpvsClient.open();
  t.after(() => c.close());
  assert.equal((await c.startDaemon({ state: 'master', interface: 'lo', syncId: 7 })).ok, true);
  const ds = await c.daemons();
  assert.deepEqual(
    ds.map((d) => [d.state, d.interface, d.syncId]),
    [['master', 'lo', 7]],
  );
  assert.match(ipvsadm('-L', '--daemon'), /master sync daemon \(mcast=lo, syncid=7/);
  assert.equal((await c.stopDaemon('master')).ok, true);
  assert.deepEqual(await c.daemons(), []);
});

test('client: without CAP_NET_ADMIN the error says so', () => {
  // setpriv drops to nobody with no capabilities; the child reports the coded error it got.
  const out = execFileSync(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--inh-caps=-all',
      process.execPath,
      ...(IS_SOURCE ? ['--import', 'tsx'] : []),
      '-e',
      `import(${JSON.stringify(CLIENT)}).then(async (m) => { try { const c = await m.IpvsClient.open(); const r = await c.exec([{ cmd: 'new-service', service: { family: 4, protocol: 'tcp', address: '192.0.2.30', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmaskPrefix: 32, peName: '' } }]); console.log(JSON.stringify({ code: r[0].error?.code, message: r[0].error?.message })); c.close(); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); } })`,
    ],
    { encoding: 'utf8', env: { ...process.env, HOME: '/tmp' } },
  );
  const got = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(got.code, 'IPVS_PERMISSION');
  assert.equal(got.message, 'Permission denied: the engine needs CAP_NET_ADMIN (run it as root) to program IPVS.');
});
