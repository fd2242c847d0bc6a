/**
 * npm run bench:l7 — Fulcrum's layer 7 proxy against HAProxy 2.6, nginx and @fastify/http-proxy, doing the same
 * work: 2 workers/threads each, keep-alive on both sides, X-Forwarded-For added, one nginx backend shared by all.
 *
 *   modes   l7-http (HTTP proxying), l7-tcp (TCP pass-through; fastify has none), l7-tls (TLS termination, HTTP
 *           behind it); l7-h2 (HTTP/2 over TLS from h2load, HTTP/1.1 behind) and l7-p99 (fixed-rate latency for http
 *           and h2) against HAProxy and nginx, in bench/l7-h2.ts; l7-conn-memory (memory per idle keep-alive client
 *           connection, 10,000 where the descriptor limit allows) against HAProxy, in bench/l7-conn-memory.ts, run
 *           first, while the proxies have served only the warm-up
 *   load    wrk -t1 -c64, BENCH_SECONDS (5) per run, BENCH_ROUNDS (3) rounds, the order of proxies rotated each
 *           round so none always runs first or last on this shared 2-core machine; BENCH_MODES=tcp,tls runs only
 *           those modes
 *   errors  a failed or non-2xx request is counted; any for Fulcrum makes the run exit 1
 *   CPU     utime+stime from /proc of the proxy's whole process tree (Fulcrum: primary and workers; nginx: master
 *           and workers; HAProxy: its threads) over each run, divided by the requests wrk completed; for l7-tcp
 *           also split into user and system time (`bench l7-tcp: cpu-per-req user+sys µs …`)
 *   native  l7-tcp has two more peers, bench/native/tcp-relay.c compiled with cc into the temporary directory at
 *           start (rows left out where there is no cc): "native-splice" relays with splice(2) through a pipe,
 *           "native-copy" with recv/send, each one epoll loop per thread, 2 threads, and nothing else (no
 *           scheduler, counters, timeouts). They are not Fulcrum and not wired into the engine: they measure what
 *           a native data path could at best gain (`bench l7-tcp: native-splice/haproxy rps R cpu-per-req C`,
 *           `fulcrum/native-splice …`)
 *
 * Raw requests per second swing between runs here, so only ratios measured in the same round mean anything; the
 * lines printed are medians: `bench l7-http: fulcrum/haproxy rps R cpu-per-req C` (R > 1: Fulcrum served more; C < 1:
 * Fulcrum spent less CPU per request).
 *
 * Logging cost: "fulcrum" writes its access log (every request: sample rate 1, the dearest setting) as it does by
 * default; "nolog" is a second Fulcrum with the access log off, run as one more peer of l7-http, so
 * `bench l7-http: access log on/off cpu-per-req C` is the CPU a logged request costs over an unlogged one (goal
 * C <= 1.10). The two run back to back in every round (roundOrder) and C is the median of the rounds' own ratios.
 *
 * Stopping: SIGINT, SIGTERM or SIGHUP stops exactly the processes this bench started, by pid, and their workers
 * (own-processes.ts); the measuring runs are asynchronous so a signal is seen at once.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitPort } from './wait-port.ts';
import { benchH2 } from './l7-h2.ts';
import { OwnProcesses } from './own-processes.ts';
import { benchConnMemory, connMemoryCount } from './l7-conn-memory.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Math.max(3, Number(process.env.BENCH_ROUNDS ?? 3));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
/** BENCH_MODES=tcp (comma-separated) runs only those modes, for a quicker look at one of them. */
const MODES = (process.env.BENCH_MODES ?? 'conn-memory,http,tcp,tls,h2,p99').split(',').map((m) => m.trim());
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-bench-l7-'));
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const BASE = 19_000 + (process.pid % 50) * 20;
const PORT = {
  backend: BASE,
  fulcrum: { http: BASE + 1, tcp: BASE + 2, tls: BASE + 3 },
  haproxy: { http: BASE + 4, tcp: BASE + 5, tls: BASE + 6 },
  nginx: { http: BASE + 7, tcp: BASE + 8, tls: BASE + 9 },
  fastify: { http: BASE + 10, tls: BASE + 11 },
  /** Fulcrum with its access log off: the logging cost is fulcrum against this, in the same rounds. */
  nolog: { http: BASE + 12, tcp: BASE + 13, tls: BASE + 14 },
  /** bench/native/tcp-relay.c, l7-tcp only. */
  'native-splice': { tcp: BASE + 15 },
  'native-copy': { tcp: BASE + 16 },
};

/** Every process this bench starts (peers, backend, wrk): stopped by pid at the end or on SIGINT/SIGTERM/SIGHUP. */
const procs = new OwnProcesses();

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The peers are Debian packages; install them when missing (the script runs as root on the appliance's build box). */
function ensureTools(): void {
  const missing = ['haproxy', 'nginx', 'wrk', 'openssl', 'h2load'].filter((c) => !have(c));
  const streamModule = fs.existsSync('/usr/lib/nginx/modules/ngx_stream_module.so');
  if (missing.length === 0 && streamModule) return;
  console.log(`installing ${missing.join(' ')} ${streamModule ? '' : 'libnginx-mod-stream'} …`);
  execFileSync('apt-get', ['install', '-y', '-q', 'haproxy', 'nginx-light', 'libnginx-mod-stream', 'wrk', 'openssl', 'nghttp2-client'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function start(name: string, cmd: string, args: string[], opts: { cwd?: string } = {}): ChildProcess {
  const p = procs.start(cmd, args, { cwd: opts.cwd ?? ROOT });
  p.stdout!.on('data', (d) => process.env.BENCH_VERBOSE && process.stdout.write(`[${name}] ${d}`));
  p.stderr!.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  return p;
}

/** CPU ticks (user+system) of a process and all its descendants. */
function treeTicks(root: number): number {
  const t = treeCpu(root);
  return t.user + t.sys;
}

/** CPU ticks of a process and all its descendants, user and system apart. */
function treeCpu(root: number): { user: number; sys: number } {
  const parent = new Map<number, number>();
  const ticks = new Map<number, [number, number]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      ticks.set(Number(d), [Number(f[11]), Number(f[12])]);
    } catch {
      // the process ended while we looked
    }
  }
  const sum = { user: 0, sys: 0 };
  for (const [pid, [user, sys]] of ticks) {
    let p: number | undefined = pid;
    while (p !== undefined && p > 1 && p !== root) p = parent.get(p);
    if (p !== root) continue;
    sum.user += user;
    sum.sys += sys;
  }
  return sum;
}

interface Run {
  rps: number;
  cpuUsPerReq: number;
  userUsPerReq: number;
  sysUsPerReq: number;
  errors: number;
}

async function wrk(url: string, seconds: number): Promise<{ rps: number; requests: number; errors: number }> {
  const out = await procs.run('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, requests, errors };
}

async function measure(pid: number, url: string): Promise<Run> {
  const before = treeCpu(pid);
  const r = await wrk(url, SECONDS);
  const after = treeCpu(pid);
  const perReq = (ticks: number) => (r.requests > 0 ? ((ticks / CLK_TCK) * 1e6) / r.requests : NaN);
  const user = perReq(after.user - before.user);
  const sys = perReq(after.sys - before.sys);
  return { rps: r.rps, cpuUsPerReq: user + sys, userUsPerReq: user, sysUsPerReq: sys, errors: r.errors };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main(): Promise<void> {
  ensureTools();
  const cert = path.join(TMP, 'cert.pem');
  const key = path.join(TMP, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      '/CN=bench.local',
    ],
    { stdio: 'ignore' },
  );
  const both = path.join(TMP, 'both.pem');
  fs.writeFileSync(both, fs.readFileSync(cert, 'utf8') + fs.readFileSync(key, 'utf8'));
  const certPem = fs.readFileSync(cert, 'utf8');
  const keyPem = fs.readFileSync(key, 'utf8');
  const haproxyVersion = execFileSync('haproxy', ['-v']).toString().split('\n')[0];
  if (!/version 2\.6\./.test(haproxyVersion)) console.log(`# warning: the peer is meant to be HAProxy 2.6 (Debian 12's); this is ${haproxyVersion}`);
  const nginxVersion = execFileSync('nginx', ['-v'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() || 'nginx';

  // The one backend: nginx, one worker, a small fixed answer, long keep-alive.
  fs.mkdirSync(path.join(TMP, 'backend'));
  fs.writeFileSync(
    path.join(TMP, 'backend', 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${TMP}/backend/nginx.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:${PORT.backend}; location / { return 200 "hello from the nginx backend\\n"; } } }\n`,
  );
  start('backend', 'nginx', ['-c', path.join(TMP, 'backend', 'nginx.conf'), '-p', path.join(TMP, 'backend'), '-e', 'stderr']);

  // HAProxy: 2 threads, keep-alive both sides (http-reuse always), X-Forwarded-For; room for conn-memory's clients.
  fs.writeFileSync(
    path.join(TMP, 'haproxy.cfg'),
    `global
  nbthread 2
  maxconn ${MODES.includes('conn-memory') ? Math.max(4000, connMemoryCount() + 10) : 4000}
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend http
  mode http
  bind 127.0.0.1:${PORT.haproxy.http}
  bind 127.0.0.1:${PORT.haproxy.tls} ssl crt ${both} alpn h2,http/1.1
  option forwardfor
  default_backend web
backend web
  mode http
  http-reuse always
  server n 127.0.0.1:${PORT.backend}
frontend tcp
  mode tcp
  bind 127.0.0.1:${PORT.haproxy.tcp}
  default_backend raw
backend raw
  mode tcp
  server n 127.0.0.1:${PORT.backend}
`,
  );
  const haproxy = start('haproxy', 'haproxy', ['-f', path.join(TMP, 'haproxy.cfg')]);

  // nginx as a proxy: 2 workers, upstream keep-alive, X-Forwarded-For; stream module for TCP.
  fs.mkdirSync(path.join(TMP, 'proxy'));
  const loc = `location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }`;
  fs.writeFileSync(
    path.join(TMP, 'proxy', 'nginx.conf'),
    `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 2; daemon off; pid ${TMP}/proxy/nginx.pid; error_log stderr error;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; keepalive_timeout 300s;
  upstream be { server 127.0.0.1:${PORT.backend}; keepalive 128; keepalive_requests 10000000; }
  server { listen 127.0.0.1:${PORT.nginx.http}; ${loc} }
  server { listen 127.0.0.1:${PORT.nginx.tls} ssl http2; ssl_certificate ${cert}; ssl_certificate_key ${key}; ${loc} } }
stream { server { listen 127.0.0.1:${PORT.nginx.tcp}; proxy_pass 127.0.0.1:${PORT.backend}; } }\n`,
  );
  const nginx = start('nginx', 'nginx', ['-c', path.join(TMP, 'proxy', 'nginx.conf'), '-p', path.join(TMP, 'proxy'), '-e', 'stderr']);

  // Fulcrum: the same three services, 2 workers. X-Forwarded-Proto off: the peers do not add it.
  const rs = [{ name: 'nginx', address: '127.0.0.1', port: PORT.backend }];
  const l7 = { xForwardedFor: true, xForwardedProto: false };
  const fulcrumConfig = {
    virtualServices: [
      {
        name: 'http',
        layer: 7,
        mode: 'http',
        address: '127.0.0.1',
        ports: [PORT.fulcrum.http],
        scheduler: 'rr',
        healthCheck: { type: 'none' },
        layer7: l7,
        realServers: rs,
      },
      {
        name: 'tcp',
        layer: 7,
        mode: 'tcp',
        address: '127.0.0.1',
        ports: [PORT.fulcrum.tcp],
        scheduler: 'rr',
        healthCheck: { type: 'none' },
        layer7: { xForwardedFor: false, xForwardedProto: false },
        realServers: rs,
      },
      {
        name: 'tls',
        layer: 7,
        mode: 'http',
        address: '127.0.0.1',
        ports: [PORT.fulcrum.tls],
        scheduler: 'rr',
        healthCheck: { type: 'none' },
        layer7: { ...l7, tls: { certificate: 'bench' } },
        realServers: rs,
      },
    ],
    certificates: [{ name: 'bench', certificatePem: certPem, privateKeyPem: keyPem }],
  };
  const fulcrum = start('fulcrum', process.execPath, [
    '--import',
    'tsx',
    path.join(HERE, 'l7-fulcrum.ts'),
    JSON.stringify({ dataDir: path.join(TMP, 'fulcrum'), config: fulcrumConfig }),
  ]);
  const nolog = start('nolog', process.execPath, [
    '--import',
    'tsx',
    path.join(HERE, 'l7-fulcrum.ts'),
    JSON.stringify({
      dataDir: path.join(TMP, 'nolog'),
      accessLog: false,
      // The same services as "fulcrum" on ports of its own, so the two differ by the access log alone.
      config: {
        ...fulcrumConfig,
        virtualServices: fulcrumConfig.virtualServices.map((vs) => ({ ...vs, ports: [PORT.nolog[vs.name as 'http' | 'tcp' | 'tls']] })),
      },
    }),
  ]);
  const fastify = start('fastify', process.execPath, [
    '--import',
    'tsx',
    path.join(HERE, 'l7-fastify.ts'),
    JSON.stringify({ upstream: `http://127.0.0.1:${PORT.backend}`, httpPort: PORT.fastify.http, tlsPort: PORT.fastify.tls, cert: certPem, key: keyPem }),
  ]);

  // The native relays (l7-tcp only): a measuring stick, compiled here so nothing is fetched or installed.
  const natives: { 'native-splice'?: number; 'native-copy'?: number } = {};
  if (MODES.includes('tcp')) {
    const relay = compileRelay();
    if (relay === null) console.log('# no cc: the native-splice and native-copy rows are left out');
    else {
      for (const how of ['splice', 'copy'] as const) {
        const name = `native-${how}` as const;
        natives[name] = start(name, relay, [String(PORT[name].tcp), String(PORT.backend), '2', how]).pid!;
      }
    }
  }

  await waitPort(PORT.backend, 'backend nginx');
  const listening: Record<string, Record<string, number>> = {
    fulcrum: PORT.fulcrum,
    haproxy: PORT.haproxy,
    nginx: PORT.nginx,
    fastify: PORT.fastify,
    nolog: PORT.nolog,
  };
  for (const name of Object.keys(natives)) listening[name] = PORT[name as keyof typeof natives];
  for (const [name, ports] of Object.entries(listening)) {
    for (const p of Object.values(ports)) await waitPort(p, name);
  }
  console.log(
    `# ${haproxyVersion}; ${nginxVersion.trim()}; Node ${process.version}; wrk -t1 -c${CONNECTIONS} -d${SECONDS}s; ${ROUNDS} rounds; ${os.cpus().length} cores`,
  );

  const pids = { fulcrum: fulcrum.pid!, haproxy: haproxy.pid!, nginx: nginx.pid!, fastify: fastify.pid!, nolog: nolog.pid!, ...natives } as Record<
    'fulcrum' | 'haproxy' | 'nginx' | 'fastify' | 'nolog' | 'native-splice' | 'native-copy',
    number
  >;
  type Name = keyof typeof pids;
  const nativeNames = Object.keys(natives) as Name[];
  const modes: { mode: 'http' | 'tcp' | 'tls'; peers: Name[] }[] = [
    { mode: 'http', peers: ['fulcrum', 'haproxy', 'nginx', 'fastify', 'nolog'] },
    { mode: 'tcp', peers: ['fulcrum', 'haproxy', 'nginx', ...nativeNames] },
    { mode: 'tls', peers: ['fulcrum', 'haproxy', 'nginx', 'fastify'] },
  ];
  const url = (name: Name, mode: 'http' | 'tcp' | 'tls') => `${mode === 'tls' ? 'https' : 'http'}://127.0.0.1:${(PORT[name] as Record<string, number>)[mode]}/`;
  const lines: string[] = [];
  if (MODES.includes('conn-memory')) {
    for (const p of ['fulcrum', 'haproxy'] as const) await wrk(url(p, 'http'), 1); // warm: pools, JIT
    lines.push(
      ...(await benchConnMemory(
        { name: 'fulcrum', pid: pids.fulcrum, port: PORT.fulcrum.http },
        { name: 'haproxy', pid: pids.haproxy, port: PORT.haproxy.http },
      )),
    );
  }
  for (const { mode, peers } of modes.filter((m) => MODES.includes(m.mode))) {
    for (const p of peers) await wrk(url(p, mode), 1); // warm: pools, JIT, TLS sessions
    const runs: Record<string, Run[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const order = roundOrder(peers, round);
      for (const p of order) {
        const r = await measure(pids[p], url(p, mode));
        (runs[p] ??= []).push(r);
        console.log(
          `#   l7-${mode} round ${round + 1} ${p.padEnd(8)} ${r.rps.toFixed(0).padStart(7)} rps  ${r.cpuUsPerReq.toFixed(1).padStart(6)} µs CPU/req${r.errors ? `  ${r.errors} errors` : ''}`,
        );
      }
    }
    for (const p of peers) {
      const errors = runs[p].reduce((a, r) => a + r.errors, 0);
      if (errors === 0) continue;
      // An error is a failed or non-2xx request: a proxy that drops requests is not faster, it is broken.
      lines.push(`bench l7-${mode}: ${p} had ${errors} failed requests (socket errors or non-2xx answers)`);
      if (p === 'fulcrum') process.exitCode = 1;
    }
    const med = (p: string) => ({ rps: median(runs[p].map((r) => r.rps)), cpu: median(runs[p].map((r) => r.cpuUsPerReq)) });
    const f = med('fulcrum');
    console.log(`#   l7-${mode} medians: ${peers.map((p) => `${p} ${med(p).rps.toFixed(0)} rps ${med(p).cpu.toFixed(1)} µs`).join('; ')}`);
    if (peers.includes('nolog')) {
      // The median of each round's own on/off ratio: the two ran one after the other, so a slow spell of the shared
      // host falls on both or on neither, which a ratio of the two medians (taken over different rounds) does not.
      const n = med('nolog');
      const cpuRatios = runs.fulcrum.map((r, i) => r.cpuUsPerReq / runs.nolog[i].cpuUsPerReq);
      const rpsRatios = runs.fulcrum.map((r, i) => r.rps / runs.nolog[i].rps);
      lines.push(
        `bench l7-${mode}: access log on/off cpu-per-req ${median(cpuRatios).toFixed(2)} (median of rounds ${cpuRatios.map((x) => x.toFixed(2)).join(', ')}; medians ${f.cpu.toFixed(1)} vs ${n.cpu.toFixed(1)} µs; goal <= 1.10) rps ${median(rpsRatios).toFixed(2)}`,
      );
    }
    for (const peer of peers.filter((p) => p !== 'fulcrum' && p !== 'nolog')) {
      const o = med(peer);
      lines.push(`bench l7-${mode}: fulcrum/${peer} rps ${(f.rps / o.rps).toFixed(2)} cpu-per-req ${(f.cpu / o.cpu).toFixed(2)}`);
    }
    if (mode === 'tcp') {
      // What a native data path would gain: the relays against HAProxy, and where each one's CPU goes.
      const h = med('haproxy');
      for (const n of nativeNames) {
        const o = med(n);
        lines.push(`bench l7-tcp: ${n}/haproxy rps ${(o.rps / h.rps).toFixed(2)} cpu-per-req ${(o.cpu / h.cpu).toFixed(2)}`);
      }
      const split = (p: string) => `${p} ${median(runs[p].map((r) => r.userUsPerReq)).toFixed(1)}+${median(runs[p].map((r) => r.sysUsPerReq)).toFixed(1)}`;
      lines.push(`bench l7-tcp: cpu-per-req user+sys µs ${peers.map(split).join(', ')}`);
    }
  }
  // HTTP/2 (wrk speaks no ALPN, so the TLS ports above served it HTTP/1.1; h2load asks for h2 on the same ports).
  const h2Peers = (['fulcrum', 'haproxy', 'nginx'] as const).map((n) => ({ name: n, pid: pids[n], h2Url: url(n, 'tls'), httpUrl: url(n, 'http') }));
  const run = (cmd: string, args: string[]) => procs.run(cmd, args);
  lines.push(...(await benchH2(h2Peers, { seconds: SECONDS, rounds: ROUNDS, tmp: TMP, treeTicks, clkTck: CLK_TCK, median, run }, MODES)));
  for (const l of lines) console.log(l);
}

/**
 * One round's order: the peers rotated by the round, so none always runs first or last; "nolog" runs right after
 * "fulcrum" in even rounds and right before it in odd ones, so each round's on/off pair is measured back to back
 * and neither side always takes the other's wake.
 */
function roundOrder<T extends string>(peers: T[], round: number): T[] {
  const others = peers.filter((p) => p !== 'nolog');
  const order = others.map((_, i) => others[(i + round) % others.length]);
  if (others.length === peers.length) return order;
  const at = order.indexOf('fulcrum' as T);
  order.splice(round % 2 === 0 ? at + 1 : at, 0, 'nolog' as T);
  return order;
}

/** bench/native/tcp-relay.c built into the temporary directory; null where there is no C compiler. */
function compileRelay(): string | null {
  if (!have('cc')) return null;
  const out = path.join(TMP, 'tcp-relay');
  execFileSync('cc', ['-O2', '-pthread', '-o', out, path.join(HERE, 'native', 'tcp-relay.c')], { stdio: 'inherit' });
  return out;
}

const removeTmp = () => fs.rmSync(TMP, { recursive: true, force: true });
procs.stopOnSignals(removeTmp);

main()
  .catch((err) => {
    if (procs.isStopping) return; // a signal stopped the run in flight
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await procs.stop(1500);
    removeTmp();
  });
