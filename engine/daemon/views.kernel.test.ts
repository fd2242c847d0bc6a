/**
 * The live Layer 4 view (GET /v1/views/l4, issue 14 item 5) against the kernel's own account, in the IPVS test
 * kernel (User-Mode Linux, as root): the engine applies a DR service over a lab of namespaces (engine/l4/testing/
 * lab.ts), a client carries a little traffic through the VIP, and the view read over the engine's socket with the
 * typed client must agree with `ipvsadm -Ln --stats --exact` and `ipvsadm -Ln` — every service and destination, its
 * forwarding, weight, active and inactive connections and counters — both in its model and in its text (the table as
 * `fulcrumctl show` prints it), and it names the owner: Fulcrum's service by its name, a service someone else added
 * with ipvsadm as "-".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLab, sh } from '../l4/testing/lab.ts';
import { createL4DataPlane } from '../l4/dataplane.ts';
import { createEngineClient } from '../client/index.ts';
import type { L4TableView } from '../api-types.ts';
import { Engine } from './engine.ts';
import { createEngineServer, listenOnSocket } from './server.ts';

/** `ipvsadm` rows keyed by "TCP 10.0.0.10:80" (a service) or "TCP 10.0.0.10:80 -> 10.0.0.2:80" (a destination). */
function ipvsadmRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  const read = (args: string[], pick: (cells: string[]) => string[]) => {
    let service = '';
    for (const line of sh('ipvsadm', ...args).split('\n')) {
      const cells = line.trim().split(/\s+/);
      if (/^(TCP|UDP|SCTP)$/.test(cells[0])) {
        service = `${cells[0]} ${cells[1]}`;
        if (args.includes('--stats')) rows.set(service, [...(rows.get(service) ?? []), ...pick(cells.slice(2))]);
      } else if (cells[0] === '->' && /^\d/.test(cells[1])) {
        const key = `${service} -> ${cells[1]}`;
        rows.set(key, [...(rows.get(key) ?? []), ...pick(cells.slice(2))]);
      }
    }
  };
  read(['-Ln'], (c) => c.slice(0, 4)); // Forward Weight ActiveConn InActConn (a service line's are its scheduler)
  read(['-Ln', '--stats', '--exact'], (c) => c.slice(0, 5)); // Conns InPkts OutPkts InBytes OutBytes
  return rows;
}

/** Outside the test kernel (a glob such as engine/daemon/*.test.ts picks this file up on the host) it skips, saying where it runs. */
const skip = process.env.FULCRUM_IN_TEST_KERNEL !== '1' && 'runs inside the test kernel: scripts/kernel/run.sh engine/daemon/views.kernel.test.ts';

test('the live Layer 4 view agrees with ipvsadm -Ln --stats after traffic, with owners', { skip }, async (t) => {
  const lab = await createLab({ topology: 'one-arm', servers: 2, realServerVip: 'lo' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-views-'));
  const engine = new Engine(dir, [createL4DataPlane({ dataDir: dir })], () => undefined);
  const server = createEngineServer(engine, () => undefined);
  const socket = path.join(dir, 'engine.sock');
  await listenOnSocket(server, socket);
  t.after(async () => {
    server.close();
    await engine.close();
    lab.cleanup();
    sh('ipvsadm', '-C');
  });
  sh('ipvsadm', '-A', '-u', '198.51.100.7:514', '-s', 'rr'); // someone else's service, by hand

  const [r1, r2] = lab.servers;
  const config = {
    virtualServices: [
      {
        name: 'symphony',
        layer: 4,
        mode: 'dr',
        address: lab.vip,
        interface: lab.vipInterface,
        ports: [80],
        scheduler: 'rr',
        healthCheck: { type: 'none' },
        realServers: [
          { name: r1.name, address: r1.address },
          { name: r2.name, address: r2.address, weight: 3 },
        ],
      },
    ],
  };
  const applied = await engine.apply(1, config);
  assert.equal(applied.ok, true, JSON.stringify(applied));

  // Six connections through the VIP, round robin: three to each server.
  const names = await lab.get(6);
  assert.deepEqual([names.filter((n) => n === r1.name).length, names.filter((n) => n === r2.name).length], [3, 3], names.join(','));

  // The kernel folds its per-CPU counters into the totals it reports every 2 s (IPVS's estimator), so the six
  // connections show there a moment later: wait for them. Then the clients' last ACKs may still be on their way, and
  // the next fold may land at any time: compare once ipvsadm reads the same twice around the view (counters only
  // grow, so equal reads on both sides mean the view saw that same table).
  const svc = `TCP ${lab.vip}:80`;
  for (let i = 0; ipvsadmRows().get(svc)?.[0] !== '6'; i++) {
    assert.ok(i < 100, `the kernel never counted six connections: ${sh('ipvsadm', '-Ln', '--stats', '--exact')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const client = createEngineClient(socket);
  let before: Map<string, string[]>;
  let view: L4TableView;
  let after: Map<string, string[]>;
  let tries = 0;
  do {
    before = ipvsadmRows();
    view = await client.view('l4');
    after = ipvsadmRows();
    assert.ok(++tries < 50, 'ipvsadm kept changing');
  } while (JSON.stringify([...before]) !== JSON.stringify([...after]));

  assert.equal(view.isAvailable, true, view.reason);
  // The kernel's own account of the traffic, first: six connections, three per server, packets in and none out (DR).
  assert.deepEqual([after.get(svc)?.[0], after.get(`${svc} -> ${r1.address}:80`)?.[4], after.get(`${svc} -> ${r2.address}:80`)?.[4]], ['6', '3', '3']);
  assert.equal(after.get(svc)?.[2], '0', 'DR replies go straight to the client');
  assert.ok(Number(after.get(svc)?.[1]) >= 6 * 3, `${after.get(svc)?.[1]} packets in for six connections`);

  // The model: every service and destination with ipvsadm's own numbers.
  const fwd: Record<string, string> = { route: 'Route', masq: 'Masq', tunnel: 'Tunnel', local: 'Local' };
  const fromView = new Map<string, string[]>();
  for (const s of view.services) {
    const key = `${(s.protocol ?? 'fwm').toUpperCase()} ${s.address}:${s.port}`;
    const st = s.stats!;
    fromView.set(key, [st.connections, st.packetsIn, st.packetsOut, st.bytesIn, st.bytesOut].map(String));
    for (const d of s.destinations) {
      const ds = d.stats!;
      fromView.set(`${key} -> ${d.address}:${d.port}`, [
        fwd[d.forward],
        String(d.weight),
        String(d.activeConnections),
        String(d.inactiveConnections),
        ...[ds.connections, ds.packetsIn, ds.packetsOut, ds.bytesIn, ds.bytesOut].map(String),
      ]);
    }
  }
  assert.deepEqual(new Map([...fromView].sort()), new Map([...after].sort()));
  assert.deepEqual(
    view.services.map((s) => [s.port, s.owner]).sort((a, b) => Number(a[0]) - Number(b[0])),
    [
      [80, 'symphony'],
      [514, null],
    ],
  );

  // The text, as an engineer reads it: the same numbers under the headings, and the owners.
  const text = view.text;
  assert.match(text[0], /^IP Virtual Server version \d+\.\d+\.\d+ \(size=\d+\) — 2 services, 1 owned by Fulcrum$/);
  assert.ok(
    text.some((l) => new RegExp(`^TCP {2}${lab.vip.replace(/\./g, '\\.')}:80 rr\\s+fulcrum symphony$`).test(l)),
    text.join('\n'),
  );
  assert.ok(
    text.some((l) => /^UDP {2}198\.51\.100\.7:514 rr\s+-$/.test(l)),
    text.join('\n'),
  );
  for (const rs of [r1, r2]) {
    const line = text.find((l) => l.startsWith(`  -> ${rs.address}:80 `));
    assert.ok(line, text.join('\n'));
    assert.deepEqual(line.trim().split(/\s+/).slice(2), after.get(`${svc} -> ${rs.address}:80`), line);
  }
  const service = text[text.findIndex((l) => l.startsWith(`TCP  ${lab.vip}:80 `)) + 1];
  assert.ok(service?.startsWith('  (service)'), text.join('\n'));
  assert.deepEqual(service.trim().split(/\s+/).slice(1), after.get(svc), service);
});
