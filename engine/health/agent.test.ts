/** Agent check: the reply parser as a table (HAProxy's configuration manual, "agent-check"), then real sockets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { agentCheck, parseAgentReply } from './agent.ts';
import type { AgentReport } from './types.ts';

const PARSE: [line: string, expected: AgentReport | null][] = [
  ['75%', { weightPercent: 75, message: '75%' }],
  ['75%\n', { weightPercent: 75, message: '75%' }],
  ['0%\r\nignored second line', { weightPercent: 0, message: '0%' }],
  ['100%,drain', { weightPercent: 100, admin: 'drain', message: '100%,drain' }],
  ['READY  up\t80%', { weightPercent: 80, admin: 'ready', health: 'up', message: 'READY  up\t80%' }],
  ['maint', { admin: 'maint', message: 'maint' }],
  ['down#disk full', { health: 'down', message: 'disk full' }],
  ['stopped # planned work ', { health: 'down', message: 'planned work' }],
  ['fail', { health: 'down', message: 'fail' }],
  ['failed', { health: 'down', message: 'failed' }],
  ['up down', { health: 'down', message: 'up down' }], // the last word of a kind wins
  ['drain ready', { admin: 'ready', message: 'drain ready' }],
  ['75%,maxconn:30,maint,down', { weightPercent: 75, admin: 'maint', health: 'down', message: '75%,maxconn:30,maint,down' }],
  ['300%', { weightPercent: 300, message: '300%' }], // HAProxy takes more than 100 % of the initial weight
  ['99999%', { weightPercent: 25600, message: '99999%' }], // … clamped as HAProxy clamps it
  ['hello 50%', { weightPercent: 50, message: 'hello 50%' }], // unknown words ignored
  ['50%x 7 -5%', null], // not a weight: trailing garbage, no %, no sign allowed
  ['maxconn:30', null],
  ['#only a comment, down', null], // words after '#' are description, not commands
  ['', null],
  ['\n', null],
];

test('parseAgentReply: table', () => {
  for (const [line, expected] of PARSE) assert.deepEqual(parseAgentReply(line), expected, JSON.stringify(line));
});

/** An agent that answers each connection by `reply`; `received` collects what the checker sent. */
async function agent(t: { after: (fn: () => void) => void }, reply: (s: net.Socket) => void) {
  const sockets = new Set<net.Socket>();
  const received: string[] = [];
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('data', (d) => received.push(d.toString()));
    reply(s);
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { port: (server.address() as net.AddressInfo).port, received };
}
const ask = (port: number, timeoutMs = 2000, send?: string, signal?: AbortSignal) => agentCheck({ address: '127.0.0.1', port, timeoutMs, send, signal });

test('agent replies "75%\\n" and keeps the connection open → weight 75 %', { timeout: 10_000 }, async (t) => {
  const { port } = await agent(t, (s) => s.write('75%\n'));
  assert.deepEqual(await ask(port), { weightPercent: 75, message: '75%' });
});

test('agent writes "drain" and closes without a newline → drain', { timeout: 10_000 }, async (t) => {
  const { port } = await agent(t, (s) => s.end('drain'));
  assert.deepEqual(await ask(port), { admin: 'drain', message: 'drain' });
});

test('agent says "down#disk full" in two writes after reading our text', { timeout: 10_000 }, async (t) => {
  const { port, received } = await agent(t, (s) =>
    s.once('data', () => {
      s.write('down#disk');
      setImmediate(() => s.write(' full\n'));
    }),
  );
  assert.deepEqual(await ask(port, 2000, 'symphony-pool\n'), { health: 'down', message: 'disk full' });
  assert.equal(received.join(''), 'symphony-pool\n');
});

test('refused port, reset, silent agent (within its timeout), closed without a word, stopped → null', { timeout: 10_000 }, async (t) => {
  const resets = await agent(t, (s) => s.resetAndDestroy());
  const silent = await agent(t, () => {});
  const closes = await agent(t, (s) => s.end());
  const half = await agent(t, (s) => s.write('75')); // half a line, then silence: not trusted at the timeout
  const free = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => free.once('listening', r));
  const freePort = (free.address() as net.AddressInfo).port;
  await new Promise((r) => free.close(r));
  assert.equal(await ask(freePort), null);
  assert.equal(await ask(resets.port), null);
  assert.equal(await ask(silent.port, 200), null);
  assert.equal(await ask(closes.port), null);
  assert.equal(await ask(half.port, 200), null);
  const ac = new AbortController();
  const pending = ask(silent.port, 60_000, undefined, ac.signal);
  ac.abort();
  assert.equal(await pending, null);
});
