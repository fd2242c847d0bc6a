/**
 * keepalived.conf from the configuration's `ha` block: a pure function, checked against golden files
 * (fixtures/*.conf) and against keepalived's own parser (`keepalived -t`, render.test.ts).
 *
 *   global_defs        router_id = this node; VRRPv3; notify_fifo (the engine reads every state change there);
 *                      scripts run as root with script security on; real-time priority, so a busy machine still
 *                      sends its adverts on time (a 0.5 s interval leaves 1.5 s before the peer takes over).
 *                      root is named for the FIFO, globally and on the script: keepalived 2.2.7 left to find a
 *                      default user fails on reload ("Unable to set default user for vrrp script … removing") and
 *                      silently drops the track script (seen in the test kernel; render.test.ts reloads twice)
 *   vrrp_script        the track script: asks the engine's socket whether its data planes are healthy (curl: no
 *                      Node start-up every second); fails when the engine does not answer, too, so a dead engine
 *                      hands the addresses to the peer
 *   vrrp_sync_group    when more than one instance: they change state together (a NAT VIP without its floating
 *                      gateway on the other interface is no use)
 *   vrrp_instance × N  one per interface group (config/schema.ts haInterfaceGroups), named fulcrum_<interface>,
 *                      router IDs from ha.virtualRouterId upwards; adverts on the HA interface, unicast to the other
 *                      nodes (check_unicast_src drops adverts from anyone else: VRRPv3 has no authentication);
 *                      `state BACKUP` on every node, so a starting node never claims MASTER before it has heard the
 *                      others, and `nopreempt` / `preempt_delay` work (keepalived requires a BACKUP start for both);
 *                      a group on another interface tracks that interface's link; addresses of the advert's family
 *                      go in virtual_ipaddress, the other family in virtual_ipaddress_excluded (keepalived allows one
 *                      family per advert); IPv6 addresses deprecated (preferred_lft 0), so the node never picks one
 *                      as its own source, as l4/host.ts does for the VIPs the engine adds itself.
 *
 * The file carries no version or time: it changes only when what keepalived must do changes, and only then is
 * keepalived reloaded.
 */
import { addressFamily, type Ha, type HaAddress, type HaNode } from '../config/index.ts';
import { EngineError } from '../errors.ts';

export const TRACK_SCRIPT = 'fulcrum_data_planes';
export const SYNC_GROUP = 'fulcrum';

export interface RenderInput {
  ha: Ha;
  /** This node (one of ha.nodes). */
  node: HaNode;
  groups: readonly { interface: string; addresses: readonly HaAddress[] }[];
  fifoPath: string;
  /** The track script's argv. */
  checkCommand: readonly string[];
}

export const instanceName = (iface: string): string => `fulcrum_${iface}`;

/** Refuses a path keepalived would split or cut: it splits script lines on blanks and treats # and ! as comments. */
export function assertSafePath(p: string): void {
  if (/[\s"'#!\\]/.test(p)) throw new EngineError('HA_PATH_UNSAFE', { path: JSON.stringify(p) });
}

/** The advert interval as keepalived writes it: seconds, to the hundredth (500 → "0.5"). */
export const advertSeconds = (ms: number): string => String(Math.round(ms / 10) / 100);

function block(name: string, lines: readonly string[], indent = '  '): string[] {
  return [`${indent}${name} {`, ...lines.map((l) => `${indent}  ${l}`), `${indent}}`];
}

function addressLine(a: HaAddress): string {
  return `${a.address}/${a.prefix} dev ${a.interface}${addressFamily(a.address) === 6 ? ' preferred_lft 0' : ''}`;
}

function instance(input: RenderInput, group: RenderInput['groups'][number], index: number): string[] {
  const { ha, node } = input;
  const family = addressFamily(node.address);
  const peers = ha.nodes.filter((n) => n.name !== node.name).map((n) => n.address);
  const own = group.addresses.filter((a) => addressFamily(a.address) === family);
  const other = group.addresses.filter((a) => addressFamily(a.address) !== family);
  const lines = [
    'state BACKUP',
    `interface ${ha.interface}`,
    `virtual_router_id ${ha.virtualRouterId + index}`,
    `priority ${node.priority}`,
    `advert_int ${advertSeconds(ha.advertIntervalMs)}`,
    ...(!ha.preempt ? ['nopreempt'] : ha.preemptDelaySeconds !== undefined ? [`preempt_delay ${ha.preemptDelaySeconds}`] : []),
    `unicast_src_ip ${node.address}`,
  ];
  const body = [
    ...lines.map((l) => `  ${l}`),
    ...block('unicast_peer', peers),
    '  check_unicast_src',
    ...(group.interface !== ha.interface ? block('track_interface', [group.interface]) : []),
    ...block('track_script', [TRACK_SCRIPT]),
    ...(own.length > 0 ? block('virtual_ipaddress', own.map(addressLine)) : []),
    ...(other.length > 0 ? block('virtual_ipaddress_excluded', other.map(addressLine)) : []),
  ];
  return [`vrrp_instance ${instanceName(group.interface)} {`, ...body, '}'];
}

export function renderKeepalivedConf(input: RenderInput): string {
  assertSafePath(input.fifoPath);
  input.checkCommand.forEach(assertSafePath);
  const global = [
    `router_id ${input.node.name}`,
    'vrrp_version 3',
    `notify_fifo ${input.fifoPath} root`,
    'script_user root',
    'enable_script_security',
    'max_auto_priority',
  ];
  // interval 1 s, fall 3: a dead engine (refused at its socket) faults this node within about 3 s, a stuck one (the
  // request times out after 3 s) within about 10 s; rise 2: one good answer after a fault is not yet health.
  // The margins leave room for a busy machine: keepalived decides its first result after every start from a single
  // run (the script starts one success short of good), and on a loaded single-CPU test kernel one run (fork and
  // exec of curl included) took over 3 s; two slow runs in a row no longer move the service for nothing.
  // timeout 4 only kills a check that outlives its own 3 s.
  const script = [`script "${input.checkCommand.join(' ')}"`, 'user root', 'interval 1', 'timeout 4', 'fall 3', 'rise 2'];
  const out = [
    '# Rendered by the Fulcrum engine from the configuration; every apply rewrites it. Edit the configuration instead.',
    ...block('global_defs', global, ''),
    '',
    ...block(`vrrp_script ${TRACK_SCRIPT}`, script, ''),
    '',
  ];
  if (input.groups.length > 1)
    out.push(
      ...block(
        `vrrp_sync_group ${SYNC_GROUP}`,
        block(
          'group',
          input.groups.map((g) => instanceName(g.interface)),
        ).map((l) => l.slice(2)),
        '',
      ),
      '',
    );
  input.groups.forEach((g, i) => {
    out.push(...instance(input, g, i), '');
  });
  return out.join('\n');
}
