/**
 * HAProxy and nginx as HTTP/2 peers for the differential tests (h2-fields.test.ts, h2-trailers.test.ts): each with
 * an h2c listener (prior knowledge) in front of one real server, spoken to in HTTP/1.1, started in the foreground and
 * stopped by its pid. Loopback only.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './test-helpers.ts';

export interface Peer {
  version: string;
  stop(): Promise<void>;
}

/** HAProxy with an h2c frontend (bind … proto h2, prior knowledge); otherwise the harness's plain defaults. */
export async function startHaproxyH2(port: number, serverPort: number): Promise<Peer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-h2-fields-haproxy-'));
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    cfg,
    'global\n  maxconn 200\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n' +
      `frontend f\n  bind 127.0.0.1:${port} proto h2\n  default_backend b\nbackend b\n  server s 127.0.0.1:${serverPort}\n`,
  );
  return startPeer('haproxy', ['-db', '-f', cfg], port, dir);
}

export async function startNginxH2(port: number, serverPort: number): Promise<Peer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-h2-fields-nginx-'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join(' ');
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `daemon off; master_process off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;\n` +
      `events { worker_connections 64; }\n` +
      `http { access_log off; ${temp}\n  server { listen 127.0.0.1:${port} http2;\n` +
      `    location / { proxy_pass http://127.0.0.1:${serverPort}; proxy_http_version 1.1; } } }\n`,
  );
  return startPeer('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], port, dir);
}

/** A peer in the foreground, stopped by its pid; ready when its port accepts. */
async function startPeer(bin: string, args: string[], port: number, dir: string): Promise<Peer> {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const onExit = () => child.exitCode === null && child.signalCode === null && process.kill(child.pid!, 'SIGKILL');
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${bin} exited: ${stderr}`);
      return new Promise<boolean>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' }, () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
    },
    `${bin} listening on ${port}`,
    10_000,
  );
  return { version: execFileSync(bin, ['-v'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() || bin, stop };
}
