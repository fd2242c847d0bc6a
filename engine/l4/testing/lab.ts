/**
 * A small network built from namespaces and veth pairs inside the test kernel, for data-path tests. The test process
 * itself is the director (the guest's root namespace), so the engine programs IPVS where the traffic arrives.
 *
 *   one-arm (DR, TUN): client, director and real servers share one LAN (bridge br-lab, 10.0.0.0/24). The VIP
 *     10.0.0.10 is on the director; the real servers hold it too (lo for DR, tunl0 for TUN) with arp_ignore=1 and
 *     arp_announce=2 so only the director answers ARP for it, and they answer the client directly.
 *
 *       client 10.0.0.100 ─┐
 *       director 10.0.0.1 ─┼─ br-lab ── r1 10.0.0.2, r2 10.0.0.3 …
 *
 *   routed (NAT, SNAT): the client is on its own link (172.16.0.0/24) and the VIP 172.16.0.10 is on the director's
 *     side of it. For NAT the real servers' default route is the director; for SNAT they have no route to the
 *     client at all, so only source NAT (replies to the director's 10.0.0.1) can make the answer come back.
 *
 *       client 172.16.0.2 ── v-cl ── director 172.16.0.1 / 10.0.0.1 ── br-lab ── r1, r2 …
 *
 *   family 6: the same shapes in IPv6 (addresses without duplicate detection, so they work at once).
 *     routed: client fd01::2, VIP fd01::10, director fd01::1 / fd00::1, real servers fd00::2, fd00::3 …
 *     one-arm: client fd00::100, VIP fd00::10, director fd00::1, real servers fd00::2, fd00::3 … holding the VIP on
 *     lo (DR) or ip6tnl0 (TUN: IPVS sends IPv6 in IPv6). IPv6 has no arp_ignore to set: Linux answers neighbour
 *     solicitations only for addresses on the interface they arrive on, so a VIP on lo or ip6tnl0 stays quiet.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const AGENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'agent.mjs');

export const sh = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const ns = (name: string, ...args: string[]) => sh('ip', 'netns', 'exec', name, ...args);
const sysctl = (nsName: string | undefined, key: string, value: string) =>
  nsName ? ns(nsName, 'sysctl', '-qw', `${key}=${value}`) : sh('sysctl', '-qw', `${key}=${value}`);

export class Agent {
  private readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;
  constructor(nsName: string) {
    this.child = spawn('ip', ['netns', 'exec', nsName, process.execPath, AGENT], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = readline.createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }
  async ask<T = Record<string, unknown>>(cmd: object): Promise<T> {
    if (cmd) this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    const { value } = await this.lines.next();
    const ans = JSON.parse(value);
    if (!ans.ok) throw new Error(`agent: ${ans.error}`);
    return ans as T;
  }
  async ready() {
    const { value } = await this.lines.next();
    return JSON.parse(value);
  }
  stop() {
    this.child.kill('SIGKILL');
  }
}

export interface Lab {
  topology: 'one-arm' | 'routed';
  vip: string;
  client: Agent;
  servers: { name: string; address: string }[];
  directorLan: string;
  vipInterface: string;
  /** n requests from the client to VIP:80 (or another port), each on a new connection; the answering server names. */
  get(n: number, port?: number): Promise<string[]>;
  /** One request from the given client port; the answering server's name. */
  getFrom(localPort: number): Promise<string>;
  /** http://VIP:port/ with IPv6 brackets where needed. */
  url(port?: number): string;
  /** The agent running in a real server's namespace (it already serves HTTP). */
  serverAgent(name: string): Agent;
  /** Like get, but returns "name seen-client-address" bodies. */
  bodies(n: number, port?: number): Promise<string[]>;
  cleanup(): void;
}

export async function createLab(opts: {
  topology: 'one-arm' | 'routed';
  servers: number;
  realServerVip?: 'lo' | 'tunl0';
  hasRouteToClient?: boolean;
  port?: number;
  family?: 4 | 6;
}): Promise<Lab> {
  const port = opts.port ?? 80;
  const v6 = opts.family === 6;
  const agents: Agent[] = [];
  const spaces: string[] = [];
  const cleanup = () => {
    for (const a of agents) a.stop();
    // Root-side veth ends first: a namespace whose processes have not exited yet outlives `ip netns del`, and its
    // veth pair with it, which would make the next lab's `ip link add v-r1` fail.
    for (const s of spaces)
      try {
        sh('ip', 'link', 'del', `v-${s}`);
      } catch {
        /* gone with its namespace */
      }
    for (const s of spaces)
      try {
        sh('ip', 'netns', 'del', s);
      } catch {
        /* already gone */
      }
    for (const l of ['br-lab', 'v-cl'])
      try {
        sh('ip', 'link', 'del', l);
      } catch {
        /* absent */
      }
  };
  try {
    sh('ip', 'link', 'add', 'br-lab', 'type', 'bridge');
    sh('ip', 'addr', 'add', '10.0.0.1/24', 'dev', 'br-lab');
    if (v6) sh('ip', '-6', 'addr', 'add', 'fd00::1/64', 'dev', 'br-lab', 'nodad');
    sh('ip', 'link', 'set', 'br-lab', 'up');
    const vip = v6 ? (opts.topology === 'one-arm' ? 'fd00::10' : 'fd01::10') : opts.topology === 'one-arm' ? '10.0.0.10' : '172.16.0.10';

    const addHost = (name: string, address: string, prefix: number, bridge: boolean) => {
      sh('ip', 'netns', 'add', name);
      spaces.push(name);
      ns(name, 'ip', 'link', 'set', 'lo', 'up');
      const outer = `v-${name}`;
      if (bridge) {
        sh('ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
        sh('ip', 'link', 'set', outer, 'master', 'br-lab');
        sh('ip', 'link', 'set', outer, 'up');
      }
      if (bridge) {
        ns(name, 'ip', 'addr', 'add', `${address}/${prefix}`, 'dev', 'eth0');
        ns(name, 'ip', 'link', 'set', 'eth0', 'up');
      }
    };

    // Client.
    if (opts.topology === 'one-arm') {
      addHost('lab-client', '10.0.0.100', 24, true);
      if (v6) ns('lab-client', 'ip', '-6', 'addr', 'add', 'fd00::100/64', 'dev', 'eth0', 'nodad');
    } else {
      sh('ip', 'netns', 'add', 'lab-client');
      spaces.push('lab-client');
      ns('lab-client', 'ip', 'link', 'set', 'lo', 'up');
      sh('ip', 'link', 'add', 'v-cl', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', 'lab-client');
      sh('ip', 'addr', 'add', '172.16.0.1/24', 'dev', 'v-cl');
      sh('ip', 'link', 'set', 'v-cl', 'up');
      ns('lab-client', 'ip', 'addr', 'add', '172.16.0.2/24', 'dev', 'eth0');
      ns('lab-client', 'ip', 'link', 'set', 'eth0', 'up');
      ns('lab-client', 'ip', 'route', 'add', 'default', 'via', '172.16.0.1');
      if (v6) {
        sh('ip', '-6', 'addr', 'add', 'fd01::1/64', 'dev', 'v-cl', 'nodad');
        ns('lab-client', 'ip', '-6', 'addr', 'add', 'fd01::2/64', 'dev', 'eth0', 'nodad');
        ns('lab-client', 'ip', '-6', 'route', 'add', 'default', 'via', 'fd01::1');
      }
    }

    // Real servers.
    const servers: { name: string; address: string }[] = [];
    const serverAgents = new Map<string, Agent>();
    for (let i = 1; i <= opts.servers; i++) {
      const name = `r${i}`;
      const address = v6 ? `fd00::${1 + i}` : `10.0.0.${1 + i}`;
      addHost(name, `10.0.0.${1 + i}`, 24, true);
      if (v6) ns(name, 'ip', '-6', 'addr', 'add', `${address}/64`, 'dev', 'eth0', 'nodad');
      servers.push({ name, address });
      if (opts.realServerVip) {
        // "Solving the ARP problem": never answer ARP for an address not on the asking interface, and never use the
        // VIP as the source of our own ARP requests.
        sysctl(name, 'net.ipv4.conf.all.arp_ignore', '1');
        sysctl(name, 'net.ipv4.conf.all.arp_announce', '2');
        sysctl(name, 'net.ipv4.conf.eth0.arp_ignore', '1');
        sysctl(name, 'net.ipv4.conf.eth0.arp_announce', '2');
        if (v6) {
          const dev = opts.realServerVip === 'lo' ? 'lo' : 'ip6tnl0';
          if (dev !== 'lo') ns(name, 'ip', 'link', 'set', dev, 'up');
          ns(name, 'ip', '-6', 'addr', 'add', `${vip}/128`, 'dev', dev, 'nodad');
        } else if (opts.realServerVip === 'lo') {
          ns(name, 'ip', 'addr', 'add', `${vip}/32`, 'dev', 'lo');
        } else {
          ns(name, 'ip', 'link', 'set', 'tunl0', 'up');
          ns(name, 'ip', 'addr', 'add', `${vip}/32`, 'dev', 'tunl0');
          // Decapsulated packets arrive on tunl0 from the client's address: loose reverse-path filtering.
          sysctl(name, 'net.ipv4.conf.all.rp_filter', '0');
          sysctl(name, 'net.ipv4.conf.tunl0.rp_filter', '0');
        }
      }
      if (opts.topology === 'routed' && opts.hasRouteToClient !== false) {
        ns(name, 'ip', 'route', 'add', 'default', 'via', '10.0.0.1');
        if (v6) ns(name, 'ip', '-6', 'route', 'add', 'default', 'via', 'fd00::1');
      }
      const a = new Agent(name);
      agents.push(a);
      serverAgents.set(name, a);
      await a.ready();
      await a.ask({ op: 'serve', name, port });
    }

    const client = new Agent('lab-client');
    agents.push(client);
    await client.ready();

    const url = (p = 80) => `http://${v6 ? `[${vip}]` : vip}:${p}/`;
    const bodies = async (n: number, p = 80) => (await client.ask<{ bodies: string[] }>({ op: 'get', url: url(p), n })).bodies;
    return {
      topology: opts.topology,
      vip,
      client,
      servers,
      directorLan: '10.0.0.1',
      vipInterface: opts.topology === 'one-arm' ? 'br-lab' : 'v-cl',
      bodies,
      url,
      serverAgent: (name: string) => serverAgents.get(name)!,
      get: async (n: number, p = 80) => (await bodies(n, p)).map((b) => b.split(' ')[0]),
      getFrom: async (localPort: number) => (await client.ask<{ bodies: string[] }>({ op: 'get', url: url(), n: 1, localPort })).bodies[0].split(' ')[0],
      cleanup,
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}
