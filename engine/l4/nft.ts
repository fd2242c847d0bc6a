/**
 * nftables for Layer 4: source NAT for SNAT-mode services and packet marks for firewall-mark services, in one table
 * the engine owns, `inet fulcrum_l4`. The whole table is replaced in one `nft -f` transaction (add, delete, re-create
 * in a single batch), so rules are never half-applied: either the old set or the new one is live.
 *
 *   chain mark_fwmark  (prerouting, mangle priority): daddr VIP, protocol, dport in the service's ports → meta mark = fwmark
 *   chain source_nat   (postrouting, srcnat priority): daddr RIP and conntrack's original daddr VIP → masquerade
 *
 * The SNAT rule matches the connection's original destination (the VIP) rather than the real server alone, so the
 * director's own traffic to a real server is left alone. It needs net.ipv4.vs.conntrack=1 (IPVS keeps conntrack
 * entries for its connections), which desired.ts asks for.
 */
import { spawn } from 'node:child_process';
import type { MarkRule, SnatRule } from './desired.ts';

const NFT_TABLE = 'fulcrum_l4';

export function renderRuleset(marks: readonly MarkRule[], snat: readonly SnatRule[]): string {
  const ip = (f: 4 | 6) => (f === 6 ? 'ip6' : 'ip');
  const lines = [`table inet ${NFT_TABLE} {`];
  if (marks.length) {
    lines.push('  chain mark_fwmark {', '    type filter hook prerouting priority mangle; policy accept;');
    for (const m of marks) {
      const ports = m.ports.map(String).join(', ');
      lines.push(
        `    ${ip(m.family)} daddr ${m.vip} meta l4proto { ${m.protocols.join(', ')} } th dport { ${ports} } meta mark set 0x${m.mark.toString(16).padStart(8, '0')} comment "${m.virtualService}"`,
      );
    }
    lines.push('  }');
  }
  if (snat.length) {
    lines.push('  chain source_nat {', '    type nat hook postrouting priority srcnat; policy accept;');
    for (const r of snat)
      lines.push(`    ${ip(r.family)} daddr ${r.realServer} ct original ${ip(r.family)} daddr ${r.vip} masquerade comment "${r.virtualService}"`);
    lines.push('  }');
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** The batch that replaces our table atomically (the leading add makes the delete safe when it is absent). */
export function replaceScript(ruleset: string | undefined): string {
  const head = `add table inet ${NFT_TABLE}\ndelete table inet ${NFT_TABLE}\n`;
  return ruleset ? head + ruleset : head;
}

/** Runs `nft -f -` with the script on stdin. */
export function runNft(script: string, nftPath = 'nft'): Promise<{ ok: boolean; stderr: string }> {
  return runNftArgs(['-f', '-'], script, nftPath);
}

/**
 * Whether this kernel's nftables can hold the engine's table (SNAT and marking need the inet family): undefined when
 * it can, else the reason. `nft -c` validates the batch in the kernel and discards it, so nothing is created.
 */
export async function nftUnavailable(nftPath = 'nft'): Promise<string | undefined> {
  const r = await runNftArgs(['-c', '-f', '-'], `add table inet ${NFT_TABLE}_probe\n`, nftPath);
  if (r.ok) return undefined;
  return `nftables cannot create an inet table here (${
    r.stderr
      .split('\n')
      .find((l) => /Error/.test(l))
      ?.replace(/^.*Error: /, '') ?? r.stderr
  })`;
}

function runNftArgs(args: string[], input: string, nftPath: string): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(nftPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    // 10 s: nft answers in milliseconds; longer means it is stuck on a lock.
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, stderr: e.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, stderr: stderr.trim() });
    });
    child.stdin.end(input);
  });
}
