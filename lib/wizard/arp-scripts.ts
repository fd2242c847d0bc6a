/**
 * Solving the ARP problem, per real server: in DR mode each real server must accept traffic for the VIP (own it on a
 * non-ARPing interface) and must not answer ARP requests for it — only the load balancer does. These functions write
 * the instructions and a script for the two systems hospitals run Symphony and PACS on:
 *
 *   Windows Server  a Microsoft KM-TEST Loopback Adapter holding the VIP (/32), weak host receive on the LAN
 *                   interface, weak host receive and send on the loopback; netsh, with the interface names the
 *                   engineer gives (they differ per server and per language of Windows).
 *   Linux           the VIP on `lo` (/32), net.ipv4.conf.{all,<lan>}.arp_ignore=1 and arp_announce=2, made persistent
 *                   by /etc/sysctl.d and by a systemd-networkd or ifupdown snippet (whichever the server uses).
 *
 * Pure text; the interface names are checked here (they go into quoted script arguments), everything else comes from
 * a VirtualService the config schema has parsed.
 */
import { z } from 'zod';

export const InterfaceNamesSchema = z.strictObject({
  /** Windows: the adapter that carries the real server's own address (often "Ethernet" or "Ethernet0"). */
  windowsLan: z
    .string()
    .min(1, 'Give the name of the network adapter, as ncpa.cpl shows it.')
    .max(64)
    .regex(/^[^"'`$%\r\n\\]+$/, 'An adapter name here cannot contain quotes, $, %, backslashes or line breaks.')
    .default('Ethernet'),
  /** Windows: the name to give the loopback adapter. */
  windowsLoopback: z
    .string()
    .min(1, 'Give a name for the loopback adapter.')
    .max(64)
    .regex(/^[^"'`$%\r\n\\]+$/, 'An adapter name here cannot contain quotes, $, %, backslashes or line breaks.')
    .default('loopback'),
  /** Linux: the interface with the real server's own address. */
  linuxLan: z
    .string()
    .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'Give an interface name such as eth0 or ens192.')
    .default('eth0'),
});
export type InterfaceNames = z.infer<typeof InterfaceNamesSchema>;

export interface ArpTarget {
  service: string;
  vip: string;
  ports: (number | string)[];
  realServer: { name: string; address: string };
}

const SCRIPT_NOTE = (t: ArpTarget) =>
  `Fulcrum: solve the ARP problem on ${t.realServer.name} (${t.realServer.address}) for VIP ${t.vip}, service "${t.service}" (DR)`;

export function linuxScript(t: ArpTarget, names: InterfaceNames): string {
  const lan = names.linuxLan;
  return `#!/usr/bin/env bash
# ${SCRIPT_NOTE(t)}
# Run as root on ${t.realServer.name}. Safe to run again: each step checks first.
# 1. The server must not answer ARP for the VIP (arp_ignore=1) nor use it as the source of its own ARP (arp_announce=2).
# 2. The server owns the VIP on lo, so it accepts the packets the load balancer forwards to it (DR keeps the VIP as
#    the destination address), and answers from the VIP.
# 3. Both persist across reboots: /etc/sysctl.d, and the address on lo by systemd-networkd or ifupdown.
set -euo pipefail

VIP='${t.vip}'
LAN='${lan}'

if [ "$(id -u)" -ne 0 ]; then echo "run as root (sudo $0)" >&2; exit 1; fi
if ! ip link show "$LAN" >/dev/null 2>&1; then echo "no interface $LAN here: give the interface that has ${t.realServer.address}" >&2; exit 1; fi

cat > /etc/sysctl.d/90-fulcrum-arp.conf <<EOF
# ${SCRIPT_NOTE(t)}
net.ipv4.conf.all.arp_ignore = 1
net.ipv4.conf.all.arp_announce = 2
net.ipv4.conf.$LAN.arp_ignore = 1
net.ipv4.conf.$LAN.arp_announce = 2
EOF
sysctl -q -p /etc/sysctl.d/90-fulcrum-arp.conf

if ! ip -4 addr show dev lo | grep -qw "inet $VIP/32"; then
  ip addr add "$VIP/32" dev lo label lo:fulcrum
fi

if systemctl is-enabled --quiet systemd-networkd 2>/dev/null; then
  mkdir -p /etc/systemd/network
  cat > /etc/systemd/network/10-fulcrum-lo.network <<EOF
# ${SCRIPT_NOTE(t)}
[Match]
Name=lo

[Network]
Address=127.0.0.1/8
Address=::1/128
Address=$VIP/32
EOF
  echo "persistent: /etc/systemd/network/10-fulcrum-lo.network (systemd-networkd)"
elif [ -f /etc/network/interfaces ]; then
  mkdir -p /etc/network/interfaces.d
  grep -q 'interfaces.d' /etc/network/interfaces || echo 'source /etc/network/interfaces.d/*' >> /etc/network/interfaces
  cat > /etc/network/interfaces.d/fulcrum-vip <<EOF
# ${SCRIPT_NOTE(t)}
auto lo:fulcrum
iface lo:fulcrum inet static
    address $VIP
    netmask 255.255.255.255
EOF
  echo "persistent: /etc/network/interfaces.d/fulcrum-vip (ifupdown)"
else
  echo "neither systemd-networkd nor ifupdown manages this server's network: add $VIP/32 to lo in its own network configuration (NetworkManager: nmcli connection modify lo +ipv4.addresses $VIP/32)" >&2
fi

echo "done: arp_ignore=$(sysctl -n net.ipv4.conf.all.arp_ignore) arp_announce=$(sysctl -n net.ipv4.conf.all.arp_announce); $VIP on lo"
`;
}

export function windowsScript(t: ArpTarget, names: InterfaceNames): string {
  const lan = names.windowsLan;
  const lo = names.windowsLoopback;
  return `# ${SCRIPT_NOTE(t)}
# Run in an elevated PowerShell on ${t.realServer.name} (Windows Server 2012 or later), after adding the loopback adapter
# (see the instructions). The names are the ones you gave: LAN adapter "${lan}", loopback adapter "${lo}".
$ErrorActionPreference = 'Stop'
$Vip = '${t.vip}'
$Lan = '${lan}'
$Loopback = '${lo}'

function Invoke-Netsh([string[]]$Arguments) {
  & netsh.exe @Arguments
  if ($LASTEXITCODE -ne 0) { throw "netsh $($Arguments -join ' ') failed ($LASTEXITCODE)" }
}

if (-not (Get-NetAdapter -Name $Lan -ErrorAction SilentlyContinue)) { throw "There is no adapter named '$Lan': give the adapter that has ${t.realServer.address}." }
if (-not (Get-NetAdapter -Name $Loopback -ErrorAction SilentlyContinue)) { throw "There is no adapter named '$Loopback': add the Microsoft KM-TEST Loopback Adapter and rename it first." }

# The VIP on the loopback adapter, with a /32 mask so it routes nothing, and a high metric so it is never preferred.
if (-not (Get-NetIPAddress -InterfaceAlias $Loopback -IPAddress $Vip -ErrorAction SilentlyContinue)) {
  Invoke-Netsh @('interface', 'ipv4', 'add', 'address', "name=$Loopback", "address=$Vip", 'mask=255.255.255.255')
}
Invoke-Netsh @('interface', 'ipv4', 'set', 'interface', $Loopback, 'metric=254')
# Not registered in DNS: the VIP's name must point at the load balancer.
Set-DnsClient -InterfaceAlias $Loopback -RegisterThisConnectionsAddress $false

# Weak host model: packets for the VIP arrive on the LAN adapter and are answered from the loopback's address.
Invoke-Netsh @('interface', 'ipv4', 'set', 'interface', $Lan, 'weakhostreceive=enabled')
Invoke-Netsh @('interface', 'ipv4', 'set', 'interface', $Loopback, 'weakhostreceive=enabled')
Invoke-Netsh @('interface', 'ipv4', 'set', 'interface', $Loopback, 'weakhostsend=enabled')

Write-Host "done: $Vip on '$Loopback'; weak host receive on '$Lan' and '$Loopback', weak host send on '$Loopback'. These settings persist across reboots."
`;
}

export function windowsInstructions(t: ArpTarget, names: InterfaceNames): string {
  return `${SCRIPT_NOTE(t)} — Windows Server

1. Add a loopback adapter: Device Manager → Action → Add legacy hardware → Install the hardware that I manually
   select → Network adapters → Microsoft → Microsoft KM-TEST Loopback Adapter.
2. In Network Connections (ncpa.cpl) rename the new adapter to "${names.windowsLoopback}". Its IPv4 settings are set
   by the script; leave IPv6 unbound on it unless the VIP is IPv6.
3. Check that the adapter with ${t.realServer.address} is called "${names.windowsLan}" (or download the script again
   with the right name).
4. Run fulcrum-arp-${t.realServer.name}.ps1 in an elevated PowerShell. It gives the loopback ${t.vip}/32, metric 254,
   no DNS registration, and enables the weak host model:
     netsh interface ipv4 set interface "${names.windowsLan}" weakhostreceive=enabled
     netsh interface ipv4 set interface "${names.windowsLoopback}" weakhostreceive=enabled
     netsh interface ipv4 set interface "${names.windowsLoopback}" weakhostsend=enabled
5. Make the application (IIS, the Symphony services) listen on ${t.vip} as well as on ${t.realServer.address}, on
   port ${t.ports.join(', ')}: DR keeps the destination address and port (no port translation).
6. Windows Firewall: allow the application's ports on the loopback adapter's profile too.
`;
}

export function linuxInstructions(t: ArpTarget, names: InterfaceNames): string {
  return `${SCRIPT_NOTE(t)} — Linux

1. Copy fulcrum-arp-${t.realServer.name}.sh to the server and run it as root: bash fulcrum-arp-${t.realServer.name}.sh
2. It sets, in /etc/sysctl.d/90-fulcrum-arp.conf (so they return after a reboot):
     net.ipv4.conf.all.arp_ignore = 1     answer ARP only for addresses on the interface asked
     net.ipv4.conf.all.arp_announce = 2   never announce the VIP as the source of its own ARP requests
   and the same for ${names.linuxLan}.
3. It puts ${t.vip}/32 on lo (ip addr add ${t.vip}/32 dev lo), and keeps it there after a reboot with
   /etc/systemd/network/10-fulcrum-lo.network (systemd-networkd) or /etc/network/interfaces.d/fulcrum-vip (ifupdown).
4. Make the application listen on ${t.vip} (or on every address) on port ${t.ports.join(', ')}: DR keeps the
   destination address and port.
`;
}
