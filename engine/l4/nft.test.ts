import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderRuleset, replaceScript } from './nft.ts';

test('nft: marks and SNAT rules render into one table the engine owns', () => {
  const text = renderRuleset(
    [{ virtualService: 'mp', family: 4, vip: '192.0.2.10', protocols: ['tcp', 'udp'], ports: [80, '8000-8010'], mark: 12 }],
    [
      { virtualService: 's', family: 4, vip: '192.0.2.11', realServer: '10.0.0.1' },
      { virtualService: 's6', family: 6, vip: '2001:db8::10', realServer: '2001:db8:1::5' },
    ],
  );
  assert.equal(
    text,
    [
      'table inet fulcrum_l4 {',
      '  chain mark_fwmark {',
      '    type filter hook prerouting priority mangle; policy accept;',
      '    ip daddr 192.0.2.10 meta l4proto { tcp, udp } th dport { 80, 8000-8010 } meta mark set 0x0000000c comment "mp"',
      '  }',
      '  chain source_nat {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      '    ip daddr 10.0.0.1 ct original ip daddr 192.0.2.11 masquerade comment "s"',
      '    ip6 daddr 2001:db8:1::5 ct original ip6 daddr 2001:db8::10 masquerade comment "s6"',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
});

test('nft: replacing is one batch that adds, deletes and re-creates the table (or only removes it)', () => {
  assert.equal(replaceScript(undefined), 'add table inet fulcrum_l4\ndelete table inet fulcrum_l4\n');
  assert.match(replaceScript('table inet fulcrum_l4 {\n}\n'), /^add table inet fulcrum_l4\ndelete table inet fulcrum_l4\ntable inet fulcrum_l4 \{/);
});

import { execFileSync } from 'node:child_process';

test("nft: the rendered ruleset passes `nft -c` (nft's own parser and the kernel's check)", (t) => {
  try {
    execFileSync('nft', ['-c', '-f', '-'], { input: 'add table inet fulcrum_probe\n', stdio: ['pipe', 'ignore', 'ignore'] });
  } catch {
    t.skip('nft -c does not run here (no nft binary or no permission)');
    return;
  }
  const text = renderRuleset(
    [{ virtualService: 'mp', family: 6, vip: '2001:db8::10', protocols: ['tcp'], ports: [80, 443, '8000-8010'], mark: 0xfffffffe }],
    [{ virtualService: 's', family: 4, vip: '192.0.2.11', realServer: '10.0.0.1' }],
  );
  execFileSync('nft', ['-c', '-f', '-'], { input: replaceScript(text) });
});
