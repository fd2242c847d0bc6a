/**
 * The connect and http checkers reuse their closed socket from one run to the next (bench/health.ts: it saves a
 * socket per check): a verdict never leaks into the next run, through passes, refusals, wrong statuses, timeouts and
 * a server that goes away and comes back on the same port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import http from 'node:http';
import { HealthCheckSchema } from '../config/index.ts';
import { connectCheck } from './connect.ts';
import { httpCheck } from './http.ts';

const listen = (srv: net.Server, port = 0) => new Promise<number>((r) => srv.listen(port, '127.0.0.1', () => r((srv.address() as net.AddressInfo).port)));
const close = (srv: http.Server) =>
  new Promise((r) => {
    srv.close(r);
    srv.closeAllConnections();
  });

test('one check object run again and again: pass, refused, pass; http statuses; timeout then pass', async () => {
  let status = 200;
  let silent = false;
  const mk = () =>
    http.createServer((req, res) => {
      if (silent) return;
      res.writeHead(status, { connection: 'close' });
      res.end('x');
    });
  let srv = mk();
  const port = await listen(srv);
  const tcp = {
    address: '127.0.0.1',
    port,
    vip: '127.0.0.1',
    vipPort: 80,
    check: HealthCheckSchema.parse({ type: 'connect', timeoutMs: 300, intervalMs: 1000 }),
  };
  const h = {
    address: '127.0.0.1',
    port,
    vip: '127.0.0.1',
    vipPort: 80,
    check: HealthCheckSchema.parse({ type: 'http', timeoutMs: 300, intervalMs: 1000, http: { path: '/', expectStatus: '200' } }),
  };
  const wait = () => new Promise((r) => setTimeout(r, 20));
  const seq: string[] = [];
  for (let i = 0; i < 50; i++) {
    seq.push((await connectCheck(tcp)).code, (await httpCheck(h)).code);
    await wait();
  }
  status = 503;
  seq.push((await httpCheck(h)).code);
  await wait();
  status = 200;
  seq.push((await httpCheck(h)).code);
  await wait();
  silent = true;
  seq.push((await httpCheck(h)).code);
  await wait();
  silent = false;
  seq.push((await httpCheck(h)).code);
  await wait();
  await close(srv);
  await wait();
  seq.push((await connectCheck(tcp)).code, (await httpCheck(h)).code);
  await wait();
  srv = mk();
  await listen(srv, port);
  seq.push((await connectCheck(tcp)).code, (await httpCheck(h)).code);
  await wait();
  // back to back, no wait: the spare is not closed yet
  seq.push((await connectCheck(tcp)).code, (await connectCheck(tcp)).code, (await httpCheck(h)).code, (await httpCheck(h)).code);
  await close(srv);
  const tail = seq.slice(100);
  assert.deepEqual(new Set(seq.slice(0, 100)), new Set(['L4OK', 'L7OK']));
  assert.deepEqual(tail, ['L7STS', 'L7OK', 'L7TOUT', 'L7OK', 'L4CON', 'L4CON', 'L4OK', 'L7OK', 'L4OK', 'L4OK', 'L7OK', 'L7OK']);
});
