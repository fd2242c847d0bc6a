/**
 * The HTTP/2 part of bench:l7 (bench/l7-proxy.ts runs it in the same session, against the same peers and backend):
 *
 *   l7-h2    h2load over TLS (ALPN h2) to each proxy's TLS port, HTTP/1.1 to the backend behind it: throughput and
 *            CPU per request, rounds rotated as l7-proxy.ts does; `bench l7-h2: fulcrum/haproxy rps R cpu-per-req C`
 *   l7-p99   a fixed rate (h2load --rps, below every proxy's capacity) for http (h2load --h1 to the plain port) and
 *            h2; the 99th percentile of request time from h2load's per-request log;
 *            `bench l7-p99: http fulcrum/haproxy p99 R` (R < 1: Fulcrum answered faster)
 *
 * h2load prints no percentiles; its --log-file has one line per request (start µs, status, µs to the response's end).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface H2Peer {
  name: string;
  pid: number;
  /** https://… with ALPN h2 */
  h2Url: string;
  /** http://… (HTTP/1.1) */
  httpUrl: string;
}

export interface H2BenchOptions {
  seconds: number;
  rounds: number;
  tmp: string;
  /** CPU ticks of a process tree (l7-proxy.ts). */
  treeTicks(pid: number): number;
  clkTck: number;
  median(xs: number[]): number;
  /** Runs a command to its end and resolves with its stdout (own-processes.ts: a signal meanwhile stops it). */
  run(cmd: string, args: string[]): Promise<string>;
}

/** h2load's connections and streams per connection for throughput (64 requests in flight, as wrk -c64 has). */
const CLIENTS = Number(process.env.BENCH_H2_CLIENTS ?? 16);
const STREAMS = Number(process.env.BENCH_H2_STREAMS ?? 4);
/** The fixed rate: FIXED_CLIENTS × FIXED_RPS requests a second in all. */
const FIXED_CLIENTS = 20;
const FIXED_RPS = Number(process.env.BENCH_FIXED_RPS ?? 100);

interface Load {
  requests: number;
  errors: number;
  seconds: number;
}

async function h2load(o: H2BenchOptions, args: string[]): Promise<Load> {
  const out = await o.run('h2load', args);
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const secs = Number(/finished in ([\d.]+)s/.exec(out)?.[1] ?? 0);
  if (!m || !codes) throw new Error(`h2load printed no summary:\n${out}`);
  const ok = Number(codes[1]);
  const done = Number(m[3]);
  return { requests: ok, errors: Number(m[5]) + Number(m[6]) + Number(m[7]) + (done - ok), seconds: secs };
}

function p99(logFile: string): number {
  const times = fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => Number(l.split('\t')[2]) / 1000);
  const s = times.sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))];
}

/** Runs both parts; returns the `bench …` lines (and sets process.exitCode when Fulcrum failed requests). */
export async function benchH2(peers: H2Peer[], o: H2BenchOptions, modes: string[]): Promise<string[]> {
  const lines: string[] = [];
  const fulcrum = peers.find((p) => p.name === 'fulcrum')!;
  const others = peers.filter((p) => p !== fulcrum);
  if (modes.includes('h2')) {
    for (const p of peers) await h2load(o, ['-D', '1', '-c', String(CLIENTS), '-m', String(STREAMS), '-t', '1', p.h2Url]); // warm
    const runs: Record<string, { rps: number; cpu: number; errors: number }[]> = {};
    for (let round = 0; round < o.rounds; round++) {
      for (const p of peers.map((_, i) => peers[(i + round) % peers.length])) {
        const before = o.treeTicks(p.pid);
        const r = await h2load(o, ['-D', String(o.seconds), '-c', String(CLIENTS), '-m', String(STREAMS), '-t', '1', p.h2Url]);
        const ticks = o.treeTicks(p.pid) - before;
        const run = { rps: r.requests / (r.seconds || o.seconds), cpu: r.requests > 0 ? ((ticks / o.clkTck) * 1e6) / r.requests : NaN, errors: r.errors };
        (runs[p.name] ??= []).push(run);
        console.log(
          `#   l7-h2 round ${round + 1} ${p.name.padEnd(8)} ${run.rps.toFixed(0).padStart(7)} rps  ${run.cpu.toFixed(1).padStart(6)} µs CPU/req${run.errors ? `  ${run.errors} errors` : ''}`,
        );
      }
    }
    const med = (n: string) => ({ rps: o.median(runs[n].map((r) => r.rps)), cpu: o.median(runs[n].map((r) => r.cpu)) });
    console.log(`#   l7-h2 medians: ${peers.map((p) => `${p.name} ${med(p.name).rps.toFixed(0)} rps ${med(p.name).cpu.toFixed(1)} µs`).join('; ')}`);
    for (const p of peers) {
      const errors = runs[p.name].reduce((a, r) => a + r.errors, 0);
      if (errors === 0) continue;
      lines.push(`bench l7-h2: ${p.name} had ${errors} failed requests (h2load failed, errored, timed out or non-2xx)`);
      if (p === fulcrum) process.exitCode = 1;
    }
    const f = med('fulcrum');
    for (const p of others)
      lines.push(`bench l7-h2: fulcrum/${p.name} rps ${(f.rps / med(p.name).rps).toFixed(2)} cpu-per-req ${(f.cpu / med(p.name).cpu).toFixed(2)}`);
  }
  if (modes.includes('p99')) {
    for (const proto of ['http', 'h2'] as const) {
      const lat: Record<string, number[]> = {};
      for (let round = 0; round < o.rounds; round++) {
        for (const p of peers.map((_, i) => peers[(i + round) % peers.length])) {
          const log = path.join(o.tmp, `p99-${proto}-${p.name}-${round}.tsv`);
          const args = ['-D', String(o.seconds), '-c', String(FIXED_CLIENTS), '--rps', String(FIXED_RPS), '-t', '1', `--log-file=${log}`];
          const r = await h2load(o, proto === 'http' ? [...args, '--h1', p.httpUrl] : [...args, p.h2Url]);
          const v = p99(log);
          (lat[p.name] ??= []).push(v);
          console.log(
            `#   l7-p99 ${proto} round ${round + 1} ${p.name.padEnd(8)} p99 ${v.toFixed(2)} ms over ${r.requests} requests at ${FIXED_CLIENTS * FIXED_RPS}/s${r.errors ? `  ${r.errors} errors` : ''}`,
          );
          if (r.errors > 0 && p === fulcrum) process.exitCode = 1;
        }
      }
      const f = o.median(lat.fulcrum);
      console.log(`#   l7-p99 ${proto} medians: ${peers.map((p) => `${p.name} ${o.median(lat[p.name]).toFixed(2)} ms`).join('; ')}`);
      for (const p of others)
        lines.push(`bench l7-p99: ${proto} fulcrum/${p.name} p99 ${(f / o.median(lat[p.name])).toFixed(2)} at ${FIXED_CLIENTS * FIXED_RPS} req/s`);
    }
  }
  return lines;
}
