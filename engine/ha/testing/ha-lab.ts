/**
 * The HA pair's network for the kernel test, built from namespaces and veth pairs inside the test kernel. The test
 * process stays in the root namespace, which is only the switch (two bridges): both directors run the real engine
 * (director.ts) in their own namespaces, each with its own keepalived.
 *
 *   lab-client  10.0.0.100 (LAN, for DR)  172.16.0.2 (client side, for NAT)
 *      │ br-lan 10.0.0.0/24                           │ br-cl 172.16.0.0/24
 *   d1 eth0 10.0.0.11   d2 eth0 10.0.0.12          d1 eth1 172.16.0.11   d2 eth1 172.16.0.12
 *      │                                                moving: DR VIP 10.0.0.10 and the real servers' gateway
 *   r1 10.0.0.2   r2 10.0.0.3                             10.0.0.1 on eth0, NAT VIP 172.16.0.10 on eth1
 *
 * The real servers hold the DR VIP on lo (arp_ignore 1, arp_announce 2: only the active director answers ARP for
 * it) and route through the floating gateway 10.0.0.1, so NAT replies come back through whichever director is
 * active. Each serves HTTP on 80 ("<name> <client>") and a line echo on 9000 for the long-lived stream.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createEngineClient, type EngineClient } from '../../client/index.ts';
import type { EngineEvent, HaEvent } from '../../api-types.ts';
import { Agent, sh } from '../../l4/testing/lab.ts';

// director.js when scripts/kernel/run.sh runs the compiled tests, the source through tsx otherwise.
const IS_SOURCE = import.meta.url.endsWith('.ts');
const DIRECTOR = [...(IS_SOURCE ? ['--import', 'tsx'] : []), fileURLToPath(new URL(IS_SOURCE ? './director.ts' : './director.js', import.meta.url))];
const ns = (name: string, ...args: string[]) => sh('ip', 'netns', 'exec', name, ...args);

export class Director {
  readonly client: EngineClient;
  /** Every 'ha' event, with the test process's clock when it arrived. */
  readonly events: (HaEvent & { seenAt: number })[] = [];
  private readonly child: ChildProcess;
  private subscription: { stop(): void } | undefined;

  constructor(
    readonly name: string,
    readonly dataDir: string,
  ) {
    this.child = spawn('ip', ['netns', 'exec', name, process.execPath, ...DIRECTOR, dataDir], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.client = createEngineClient(path.join(dataDir, 'engine.sock'));
  }

  async ready(): Promise<void> {
    const lines = readline.createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
    const { value } = await lines.next();
    if (!value || !JSON.parse(value).ready) throw new Error(`director ${this.name} did not start: ${value}`);
    this.subscription = this.client.subscribe((e: EngineEvent) => e.type === 'ha' && this.events.push({ ...e, seenAt: performance.now() }));
  }

  /** keepalived's pids (main and VRRP child) from its pid files in the data directory. */
  keepalivedPids(): number[] {
    return ['keepalived.pid', 'keepalived-vrrp.pid'].map((f) => Number(fs.readFileSync(path.join(this.dataDir, f), 'utf8').trim()));
  }

  /** The VRRP transitions seen, "instance from→to". */
  transitions(since = 0): string[] {
    return this.events.filter((e) => e.kind === 'vrrp' && e.seenAt >= since).map((e) => `${e.instance} ${e.previous}→${e.state}`);
  }

  log(): string {
    return fs.readFileSync(path.join(this.dataDir, 'engine.log'), 'utf8');
  }

  stop(): void {
    this.subscription?.stop();
    this.child.stdin!.end();
  }
}

export interface HaLab {
  d1: Director;
  d2: Director;
  /** Agents in the client namespace: one steady client per service, one for the long-lived streams. */
  drClient: Agent;
  natClient: Agent;
  streams: Agent;
  /** Takes a director's LAN (HA) link down or up, as pulling its cable would (carrier lost on its eth0). */
  setLink(director: 'd1' | 'd2', isUp: boolean): void;
  /** The established IPVS connections a director knows to port `port` (synced ones included). */
  connections(director: 'd1' | 'd2', port: number): string[];
  cleanup(): Promise<void>;
}

const spaces = ['d1', 'd2', 'r1', 'r2', 'lab-client'];

function addLink(nsName: string, bridge: string, outer: string, inner: string, address: string): void {
  sh('ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner, 'netns', nsName);
  sh('ip', 'link', 'set', outer, 'master', bridge);
  sh('ip', 'link', 'set', outer, 'up');
  ns(nsName, 'ip', 'addr', 'add', address, 'dev', inner);
  ns(nsName, 'ip', 'link', 'set', inner, 'up');
}

export async function createHaLab(tmp: string): Promise<HaLab> {
  const agents: Agent[] = [];
  const directors: Director[] = [];
  const cleanup = async () => {
    for (const d of directors) d.stop();
    // The directors stop their keepalived on close: give them a moment before their namespaces go.
    await new Promise((r) => setTimeout(r, 500));
    for (const a of agents) a.stop();
    // The root-side ends of the veth pairs go first: a namespace whose last process has not exited yet outlives
    // `ip netns del`, and with it its veth pair, which would break the next test's lab (they reuse v-r1, v-r2).
    for (const l of ['v-d1-lan', 'v-d1-cl', 'v-d2-lan', 'v-d2-cl', 'v-cl-lan', 'v-cl-cl', 'v-r1', 'v-r2'])
      try {
        sh('ip', 'link', 'del', l);
      } catch {
        /* gone */
      }
    for (const s of spaces)
      try {
        sh('ip', 'netns', 'del', s);
      } catch {
        /* gone */
      }
    for (const b of ['br-lan', 'br-cl'])
      try {
        sh('ip', 'link', 'del', b);
      } catch {
        /* gone */
      }
  };
  try {
    for (const b of ['br-lan', 'br-cl']) {
      sh('ip', 'link', 'add', b, 'type', 'bridge');
      sh('ip', 'link', 'set', b, 'up');
    }
    for (const s of spaces) {
      sh('ip', 'netns', 'add', s);
      ns(s, 'ip', 'link', 'set', 'lo', 'up');
    }
    for (const [d, n] of [
      ['d1', 11],
      ['d2', 12],
    ] as const) {
      addLink(d, 'br-lan', `v-${d}-lan`, 'eth0', `10.0.0.${n}/24`);
      addLink(d, 'br-cl', `v-${d}-cl`, 'eth1', `172.16.0.${n}/24`);
    }
    addLink('lab-client', 'br-lan', 'v-cl-lan', 'eth0', '10.0.0.100/24');
    addLink('lab-client', 'br-cl', 'v-cl-cl', 'eth1', '172.16.0.2/24');
    for (const [r, n] of [
      ['r1', 2],
      ['r2', 3],
    ] as const) {
      addLink(r, 'br-lan', `v-${r}`, 'eth0', `10.0.0.${n}/24`);
      ns(r, 'ip', 'addr', 'add', '10.0.0.10/32', 'dev', 'lo');
      for (const k of ['all', 'eth0']) {
        ns(r, 'sysctl', '-qw', `net.ipv4.conf.${k}.arp_ignore=1`);
        ns(r, 'sysctl', '-qw', `net.ipv4.conf.${k}.arp_announce=2`);
      }
      ns(r, 'ip', 'route', 'add', 'default', 'via', '10.0.0.1');
      const a = new Agent(r);
      agents.push(a);
      await a.ready();
      await a.ask({ op: 'serve', name: r, port: 80 });
      await a.ask({ op: 'echo-serve', name: r, port: 9000 });
    }
    const client = () => {
      const a = new Agent('lab-client');
      agents.push(a);
      return a;
    };
    const [drClient, natClient, streams] = [client(), client(), client()];
    await Promise.all([drClient.ready(), natClient.ready(), streams.ready()]);
    for (const d of ['d1', 'd2']) {
      const dir = fs.mkdtempSync(path.join(tmp, `fulcrum-ha-${d}-`));
      directors.push(new Director(d, dir));
    }
    await Promise.all(directors.map((d) => d.ready()));
    return {
      d1: directors[0],
      d2: directors[1],
      drClient,
      natClient,
      streams,
      setLink: (d, isUp) => void sh('ip', 'link', 'set', `v-${d}-lan`, isUp ? 'up' : 'down'),
      connections: (d, port) =>
        ns(d, 'ipvsadm', '-Lnc')
          .split('\n')
          .filter((l) => l.includes('ESTABLISHED') && l.includes(`:${port} `)),
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
