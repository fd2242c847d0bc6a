/**
 * HAProxy's agent-check (configuration manual, "agent-check"; src/tcpcheck.c, tcpcheck_agent_expect_reply), as the
 * Loadbalancer.org feedback agent also speaks it: connect, optionally send `send`, read one line, close.
 *
 * The line is words separated by spaces, tabs or commas, in any order, case-insensitive; for each kind the last word
 * wins, and a '#' starts a free-text description that runs to the end of the line:
 *
 *   word                          │ AgentReport
 *   ──────────────────────────────┼──────────────────────────────────────────────
 *   <n>%                          │ weightPercent = n (HAProxy clamps to 25600 %)
 *   ready │ drain │ maint         │ admin
 *   up                            │ health 'up'
 *   down │ fail │ failed │ stopped │ health 'down' (`failed` is not HAProxy's; accepted because agents write it)
 *   maxconn:<n>                   │ ignored: Fulcrum has no per-server connection limit to set
 *   anything else                 │ ignored (HAProxy only logs it)
 *   #text                         │ message = text
 *
 * Unlike HAProxy, a line the agent ends by closing the connection (no CR/LF, as `printf` agents do) is read rather
 * than dropped. An agent that cannot be reached, does not answer in time, or says nothing we use gives null.
 */
import net from 'node:net';
import type { AgentChecker, AgentReport } from './types.ts';

/** A reply line is a few words; reading more would only let a confused peer (a web server on 3333) fill memory. */
const MAX_LINE = 1024;
/** HAProxy's own clamp (server_parse_weight_change_request): 256 × 100, so weight × percent cannot overflow. */
const MAX_PERCENT = 25600;

const ADMIN = new Set(['ready', 'drain', 'maint']);
const DOWN = new Set(['down', 'fail', 'failed', 'stopped']);

/**
 * Parses one agent line (anything after the first CR or LF is ignored). Returns null when the line sets nothing:
 * no weight, admin state or health word, so "maxconn:30" or "hello" leave the last report in force.
 */
export function parseAgentReply(line: string): AgentReport | null {
  const first = line.split(/[\r\n]/, 1)[0];
  const hash = first.indexOf('#');
  const words = (hash === -1 ? first : first.slice(0, hash)).split(/[ \t,]+/).filter(Boolean);
  const report: AgentReport = { message: '' };
  let isUsable = false;
  for (const raw of words) {
    const word = raw.toLowerCase();
    const percent = /^(\d+)%$/.exec(word);
    if (percent) report.weightPercent = Math.min(Number(percent[1]), MAX_PERCENT);
    else if (ADMIN.has(word)) report.admin = word as AgentReport['admin'];
    else if (word === 'up') report.health = 'up';
    else if (DOWN.has(word)) report.health = 'down';
    else continue;
    isUsable = true;
  }
  if (!isUsable) return null;
  const description = hash === -1 ? '' : first.slice(hash + 1).trim();
  report.message = description || first.trim();
  return report;
}

export const agentCheck: AgentChecker = (t) =>
  new Promise<AgentReport | null>((resolve) => {
    if (t.signal?.aborted) return resolve(null);
    let isDone = false;
    let line = '';
    const socket = net.connect({ host: t.address, port: t.port, noDelay: true });
    const finish = () => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      t.signal?.removeEventListener('abort', giveUp);
      socket.destroy();
      resolve(line ? parseAgentReply(line) : null);
    };
    // A timed-out or stopped read must not report a half line as if the agent had finished it.
    const giveUp = () => {
      line = '';
      finish();
    };
    const timer = setTimeout(giveUp, t.timeoutMs);
    t.signal?.addEventListener('abort', giveUp, { once: true });
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      if (t.send) socket.write(t.send);
    });
    socket.on('data', (chunk: string) => {
      line += chunk;
      const end = line.search(/[\r\n]/);
      if (end !== -1) line = line.slice(0, end);
      if (end !== -1 || line.length >= MAX_LINE) {
        line = line.slice(0, MAX_LINE);
        finish();
      }
    });
    // Unreachable is not a failure (the health check judges reachability, as in HAProxy). A complete line was taken
    // before any later reset; a reset in mid-line leaves nothing we trust.
    socket.on('error', giveUp);
    socket.on('end', finish);
    socket.on('close', finish);
  });
