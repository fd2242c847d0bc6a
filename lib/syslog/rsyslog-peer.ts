/**
 * Tests' syslog server: Debian's rsyslogd run in the foreground as our own child (started and stopped by pid), with
 * its own config file, work directory and pid file in a temp dir, listening on a loopback port, writing what it
 * receives to a file there (never the system's rsyslog). Used by rsyslog.test.ts and access-forward.test.ts.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export const RSYSLOGD = '/usr/sbin/rsyslogd';

/** A throwaway CA ("ca"), a second one ("other-ca"), and a server certificate for localhost signed by the first. */
export function makeCerts(dir: string): void {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  for (const ca of ['ca', 'other-ca']) {
    ossl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=Fulcrum test ${ca}`,
    );
  }
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
}

export async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

export interface Rsyslog {
  port: number;
  out: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One rsyslogd config under `tmp`/`name` (TLS uses `tmp`'s certificates from makeCerts); start and stop it as often
 * as the test likes. Each line it writes: "%hostname% %app-name% %msgid% %structured-data% %msg%".
 */
export function rsyslog(tmp: string, name: string, transport: 'udp' | 'tcp' | 'tls', port: number): Rsyslog {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'work'), { recursive: true });
  const out = path.join(dir, 'received.log');
  const tlsGlobal =
    transport === 'tls'
      ? ` DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="${tmp}/ca.pem" DefaultNetstreamDriverCertFile="${tmp}/server.pem" DefaultNetstreamDriverKeyFile="${tmp}/server.key"`
      : '';
  const input =
    transport === 'udp'
      ? `module(load="imudp")\ninput(type="imudp" address="127.0.0.1" port="${port}")`
      : `module(load="imtcp"${transport === 'tls' ? ' StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"' : ''})\ninput(type="imtcp" address="127.0.0.1" port="${port}")`;
  fs.writeFileSync(
    path.join(dir, 'rsyslog.conf'),
    [
      `global(workDirectory="${dir}/work" maxMessageSize="64k"${tlsGlobal})`,
      input,
      'template(name="seen" type="string" string="%hostname% %app-name% %msgid% %structured-data% %msg%\\n")',
      `action(type="omfile" file="${out}" template="seen")`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let stderr = '';
  return {
    port,
    out,
    async start() {
      child = spawn(RSYSLOGD, ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (c) => (stderr += c));
      if (transport === 'udp') return; // nothing to connect to; the UDP test waits for its messages instead
      for (let i = 0; ; i++) {
        if (child.exitCode !== null) throw new Error(`rsyslogd exited: ${stderr}`);
        const isUp = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
        if (isUp) return;
        if (i > 200) throw new Error(`rsyslogd not listening on ${port}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export const received = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/** Waits for rsyslog to have written `n` lines (it writes asynchronously); gives what it has after 10 s. */
export async function waitForLines(file: string, n: number, onPoll?: () => void | Promise<void>): Promise<string[]> {
  for (let i = 0; i < 400; i++) {
    const lines = received(file);
    if (lines.length >= n) return lines;
    await onPoll?.();
    await new Promise((r) => setTimeout(r, 25));
  }
  return received(file);
}
