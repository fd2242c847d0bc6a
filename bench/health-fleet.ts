/**
 * The fleet bench/health.ts checks, written once for both checkers: 20 virtual services × 100 real servers on
 * 127.0.0.1, ports base … base+1999. Services 0–9 check HTTP (GET /health, 200 expected), services 10–19 a TCP
 * connect; the first 1,000 ports are the HTTP servers (bench/health-servers.ts serves them that way).
 *
 *   setting          Fulcrum (engine/config)         keepalived 2.2.7 (checker)
 *   every            intervalMs 2000                 delay_loop 2
 *   timeout          timeoutMs 1000                  connect_timeout 1 (keepalived's covers the whole check)
 *   down after       fall 2: two failures in a row   retry 1 + delay_before_retry 2: a failure, one retry 2 s
 *                                                    later, down when that fails too
 *   up after         rise 2 passes                   first pass (keepalived has no rise for checkers)
 *   first check      random offset in one interval   warmup (default: random within delay_loop)
 *   start state      unknown, counted as up          up (no alpha)
 *   down means       weight 0 (quiesce)              inhibit_on_failure: weight 0
 *   HTTP request     GET /health HTTP/1.1,           http_protocol 1.1 (Connection: close)
 *                    Connection: close
 */
import { ConfigSchema, type Config } from '../engine/config/index.ts';

export const SERVICES = 20;
export const PER_SERVICE = 100;
export const SERVERS = SERVICES * PER_SERVICE;
/** Services below this index check HTTP; their servers are the first HTTP_SERVERS ports. */
export const HTTP_SERVICES = SERVICES / 2;
export const HTTP_SERVERS = HTTP_SERVICES * PER_SERVICE;
export const INTERVAL_MS = 2000;
export const TIMEOUT_MS = 1000;
export const FALL = 2;
export const RISE = 2;
/** The address keepalived's virtual services listen on (IPVS needs one; nothing sends traffic to it). */
export const VIP = '127.0.0.100';
export const VIP_PORT = 8000;

export const isHttpPort = (base: number, port: number) => port - base < HTTP_SERVERS;

export function fulcrumConfig(base: number): Config {
  return ConfigSchema.parse({
    virtualServices: Array.from({ length: SERVICES }, (_, v) => ({
      name: `vs-${v}`,
      layer: 4,
      mode: 'nat',
      address: VIP,
      ports: [VIP_PORT + v],
      scheduler: 'wlc',
      healthCheck:
        v < HTTP_SERVICES
          ? { type: 'http', intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, fall: FALL, rise: RISE, http: { path: '/health', expectStatus: '200' } }
          : { type: 'connect', intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, fall: FALL, rise: RISE },
      realServers: Array.from({ length: PER_SERVICE }, (_, r) => {
        const port = base + v * PER_SERVICE + r;
        return { name: `rs-${port}`, address: '127.0.0.1', port };
      }),
    })),
  });
}

export function keepalivedConf(base: number): string {
  const out = ['global_defs {', '  router_id fulcrum-bench', '}', ''];
  for (let v = 0; v < SERVICES; v++) {
    out.push(
      `virtual_server ${VIP} ${VIP_PORT + v} {`,
      '  lvs_sched wlc',
      '  lvs_method NAT',
      '  protocol TCP',
      `  delay_loop ${INTERVAL_MS / 1000}`,
      '  inhibit_on_failure',
    );
    for (let r = 0; r < PER_SERVICE; r++) {
      const port = base + v * PER_SERVICE + r;
      out.push(`  real_server 127.0.0.1 ${port} {`, '    weight 100');
      const common = [`      connect_timeout ${TIMEOUT_MS / 1000}`, `      retry ${FALL - 1}`, `      delay_before_retry ${INTERVAL_MS / 1000}`];
      if (v < HTTP_SERVICES)
        out.push('    HTTP_GET {', '      url {', '        path /health', '        status_code 200', '      }', '      http_protocol 1.1', ...common, '    }');
      else out.push('    TCP_CHECK {', ...common, '    }');
      out.push('  }');
    }
    out.push('}');
  }
  return out.join('\n') + '\n';
}

/**
 * nginx serving the fleet, except `skip` (the servers that die during the run, served by health-servers.ts so they
 * can be killed one by one): one worker, 200 on /health and 404 elsewhere on the HTTP half, accept-and-close on the
 * TCP half, every connection closed after its answer. nginx rather than Node: inside the one-CPU test kernel the
 * servers share the CPU with the checker measured, and Node's servers took 20–70 % of it, enough to leave checks
 * unanswered within their timeout.
 */
export function nginxFleetConf(base: number, skip: Set<number>, dir: string): string {
  const listen = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => from + i)
      .filter((p) => !skip.has(p))
      .map((p) => `    listen 127.0.0.1:${p};`)
      .join('\n');
  return `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log stderr error; worker_rlimit_nofile 8192;
events { worker_connections 6000; }
http {
  access_log off; keepalive_timeout 0;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
${listen(base, base + HTTP_SERVERS)}
    location = /health { return 200 "ok\\n"; }
    location / { return 404; }
  }
}
stream {
  server {
${listen(base + HTTP_SERVERS, base + SERVERS)}
    return "";
  }
}
`;
}
