// A tiny process that lives in a network namespace and does what the test (in the director's namespace) asks, one
// JSON line per command on stdin, one JSON line per answer on stdout. Plain JavaScript: starts fast, no tsx.
//   {"op":"serve","name":"r1","port":80}          HTTP server answering "<name> <client address>"
//   {"op":"get","url":"http://v/","n":4}           n requests, each on a new connection → ["r1 10.0.0.100", …]
//                                                  ("localPort": P sends each from that client port)
//   {"op":"open","url":"http://v/"}                 one keep-alive connection, first request → {"id", "body"}
//   {"op":"again","id":1}                           another request on that same connection → {"body","samePort"}
//   {"op":"stop","port":80}                         the HTTP server on that port stops: listener closed, connections cut
//   {"op":"steady","url":"http://v/","gapMs":20}    a client in the background: one request per new connection,
//                                                  back to back (gapMs apart), each recorded with its start time
//   {"op":"mark"}                                   → {"at"}: this process's clock now, to split the steady log
//   {"op":"steady-stop","after":T,"min":N}          → {"log":[{"at","body"|"error"}…]}: once N requests started after
//                                                  T have finished (10 s at most), stops the steady client
//   {"op":"udp-serve","name":"r1","port":53}        UDP server answering each datagram with its name
//   {"op":"udp-ask","host":"v","port":53,"n":4}     n datagrams from ONE socket, one at a time → ["r1", "r2", …]
//   {"op":"echo-serve","name":"r1","port":9000}     TCP server answering each line with "<name> <line>"
//   {"op":"stream-open","host":"v","port":9000,"gapMs":50}  one long-lived TCP connection sending a numbered line
//                                                  every gapMs → {"id"} once connected
//   {"op":"stream-check","id":1,"reset":true}       → {sent, received, servers, isOpen, error, maxGapMs}: lines sent
//                                                  and answered so far, the longest silence between answers (since
//                                                  the last check with reset)
import http from 'node:http';
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';

const held = new Map();
const servers = new Map();
let steady = null;
let nextId = 1;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

function get(url, agent, timeout = 15_000, localPort = undefined) {
  return new Promise((resolve, reject) => {
    // 15 s: every hop is in this one machine and answers in milliseconds; the margin is for a test kernel starved
    // by a busy host. No answer by then means the packet was dropped, which the test reports.
    const req = http.get(url, { agent, timeout, ...(localPort ? { localPort } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ body, localPort: res.socket?.localPort ?? req.socket?.localPort }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const cmd = JSON.parse(line);
  try {
    if (cmd.op === 'serve') {
      // remoteAddress is undefined once the client's connection is gone (reset while its request was being read, as
      // a director's failover does): answering nobody must not throw, which ended this real server in a CI run.
      const srv = http.createServer((req, res) => res.end(`${cmd.name} ${(req.socket.remoteAddress ?? 'gone').replace(/^::ffff:/, '')}`));
      srv.keepAliveTimeout = 60_000;
      servers.set(cmd.port, srv);
      srv.listen(cmd.port, '::', () => out({ ok: true }));
    } else if (cmd.op === 'stop') {
      const srv = servers.get(cmd.port);
      servers.delete(cmd.port);
      srv.close();
      srv.closeAllConnections();
      out({ ok: true });
    } else if (cmd.op === 'steady') {
      steady = { log: [], isOn: true };
      const s = steady;
      // 2 s per request: an answer inside this machine takes milliseconds; a refused one fails at once; silence
      // (a SYN into a dead destination) is cut so the loop keeps its pace.
      void (async () => {
        while (s.isOn) {
          const at = performance.now();
          try {
            s.log.push({ at, body: (await get(cmd.url, false, 2000)).body });
          } catch (e) {
            s.log.push({ at, error: String(e.message ?? e) });
          }
          await new Promise((r) => setTimeout(r, cmd.gapMs ?? 20));
        }
        s.done?.();
      })();
      out({ ok: true });
    } else if (cmd.op === 'mark') {
      out({ ok: true, at: performance.now() });
    } else if (cmd.op === 'steady-stop') {
      const s = steady;
      const deadline = performance.now() + 10_000;
      while (s.log.filter((r) => r.at > (cmd.after ?? 0)).length < (cmd.min ?? 0) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      s.isOn = false;
      await new Promise((r) => (s.done = r));
      out({ ok: true, log: s.log });
    } else if (cmd.op === 'get') {
      const bodies = [];
      for (let i = 0; i < cmd.n; i++) bodies.push((await get(cmd.url, false, undefined, cmd.localPort)).body);
      out({ ok: true, bodies });
    } else if (cmd.op === 'open') {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const r = await get(cmd.url, agent);
      const id = nextId++;
      held.set(id, { agent, url: cmd.url, localPort: r.localPort });
      out({ ok: true, id, body: r.body });
    } else if (cmd.op === 'udp-serve') {
      const sock = dgram.createSocket('udp4');
      sock.on('message', (m, rinfo) => sock.send(cmd.name, rinfo.port, rinfo.address));
      sock.bind(cmd.port, () => out({ ok: true }));
    } else if (cmd.op === 'udp-ask') {
      const sock = dgram.createSocket('udp4');
      const answers = [];
      for (let i = 0; i < cmd.n; i++) {
        answers.push(
          await new Promise((resolve, reject) => {
            // 10 s: an answer within this machine takes microseconds (margin for a starved test kernel); silence
            // means the datagram was dropped.
            const timer = setTimeout(() => reject(new Error('udp timeout')), 10_000);
            sock.once('message', (m) => {
              clearTimeout(timer);
              resolve(m.toString());
            });
            sock.send(`q${i}`, cmd.port, cmd.host);
          }),
        );
      }
      sock.close();
      out({ ok: true, answers });
    } else if (cmd.op === 'echo-serve') {
      const srv = net.createServer((sock) => {
        let buf = '';
        sock.setEncoding('utf8');
        sock.on('data', (d) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            sock.write(`${cmd.name} ${buf.slice(0, i)}\n`);
            buf = buf.slice(i + 1);
          }
        });
        sock.on('error', () => {});
      });
      srv.listen(cmd.port, '::', () => out({ ok: true }));
    } else if (cmd.op === 'stream-open') {
      const s = { sent: 0, received: 0, servers: new Set(), isOpen: false, error: null, lastAt: 0, maxGapMs: 0 };
      const id = nextId++;
      held.set(id, s);
      await new Promise((resolve, reject) => {
        const sock = net.connect({ host: cmd.host, port: cmd.port }, () => {
          s.isOpen = true;
          s.timer = setInterval(() => sock.write(`${++s.sent}\n`), cmd.gapMs ?? 50);
          resolve();
        });
        let buf = '';
        sock.setEncoding('utf8');
        sock.on('data', (d) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const now = performance.now();
            if (s.lastAt && now - s.lastAt > s.maxGapMs) s.maxGapMs = now - s.lastAt;
            s.lastAt = now;
            s.received++;
            s.servers.add(buf.slice(0, i).split(' ')[0]);
            buf = buf.slice(i + 1);
          }
        });
        sock.on('error', (e) => {
          s.error = e.code ?? e.message;
          reject(e);
        });
        sock.on('close', () => {
          s.isOpen = false;
          clearInterval(s.timer);
        });
      });
      out({ ok: true, id });
    } else if (cmd.op === 'stream-check') {
      const s = held.get(cmd.id);
      out({ ok: true, sent: s.sent, received: s.received, servers: [...s.servers], isOpen: s.isOpen, error: s.error, maxGapMs: Math.round(s.maxGapMs) });
      if (cmd.reset) s.maxGapMs = 0;
    } else if (cmd.op === 'again') {
      const h = held.get(cmd.id);
      const r = await get(h.url, h.agent);
      out({ ok: true, body: r.body, samePort: r.localPort === h.localPort });
    }
  } catch (e) {
    out({ ok: false, error: String(e.message ?? e) });
  }
});
out({ ok: true, ready: true });
