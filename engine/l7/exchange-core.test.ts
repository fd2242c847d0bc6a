/**
 * exchange-core.ts in-process: the steps both protocols share, driven through a subclass that records what it is
 * asked to do on its client side, with a real runtime (dispatch, retries, counters) and fake server connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestHead, type ResponseHead } from './http-codec.ts';
import { BodyFraming } from './framing.ts';
import { ExchangeCore, type ExchangeClient } from './exchange-core.ts';
import { choose } from './dispatch.ts';
import { planServices } from './plan.ts';
import { ServiceRuntime, ServiceState, type ServerState } from './service.ts';
import type { UpstreamConn } from './upstream.ts';
import { config, httpService } from './test-helpers.ts';

const b = (s: string) => Buffer.from(s, 'latin1');

function runtime(): ServiceRuntime {
  const vs = httpService('core', 1, [], {
    realServers: [
      { name: 'a', address: '127.0.0.1', port: 2 },
      { name: 'b', address: '127.0.0.1', port: 3 },
    ],
  } as never);
  const [plan] = planServices(config([vs]), new Map());
  return new ServiceRuntime(plan, new ServiceState('core'), Buffer.alloc(48), (_, s) => s);
}

/** A server connection that records whether it went back to its pool or was closed. */
interface FakeConn {
  conn: UpstreamConn;
  state: 'open' | 'released' | 'destroyed';
}

/** Every server hands out fake connections from its pool; `conns` lists them in the order they were taken. */
function fakePools(rt: ServiceRuntime, conns: (FakeConn & { server: string })[]): void {
  for (const server of rt.byName.values()) {
    server.pool.take = () => {
      const fake = { state: 'open', server: server.name } as FakeConn & { server: string };
      fake.conn = {
        socket: {},
        isReused: false,
        handler: null,
        pool: { release: () => void (fake.state = 'released') },
        destroy: () => void (fake.state = 'destroyed'),
      } as never;
      conns.push(fake);
      return fake.conn;
    };
  }
}

const client: ExchangeClient = { clientIp: '127.0.0.9', isTls: false, isDead: false, socket: {} as never, listener: { port: 1 } };

/** The client side as a list of what it was asked: sent to, interim, respond, data, answer, finished, aborted, logged. */
class Recorder extends ExchangeCore<ExchangeClient, BodyFraming> {
  readonly events: string[] = [];
  protected send(conn: UpstreamConn): void {
    this.conn = conn;
    conn.handler = this;
    this.phase = 'wait';
    this.events.push(`send ${this.server!.name}`);
  }
  protected interim(res: ResponseHead): void {
    this.events.push(`interim ${res.status}`);
  }
  protected framing(res: ResponseHead): BodyFraming {
    return new BodyFraming(res, this.head.method);
  }
  protected respond(res: ResponseHead, _body: BodyFraming, rest: Buffer, take: number): void {
    this.resStarted = true;
    this.phase = 'response';
    this.events.push(`respond ${res.status}`);
    if (take > 0) this.forwardData(rest, take);
    this.afterBody(take, rest.length);
  }
  protected forwardData(chunk: Buffer, take: number): void {
    this.events.push(`data ${chunk.toString('latin1', 0, take)}`);
  }
  protected answer(status: number, text: string, isClosing: boolean): void {
    this.events.push(`answer ${status}${isClosing ? ' closing' : ''}: ${text}`);
    this.logged(status, this.term);
  }
  protected finished(): void {
    this.events.push('finished');
  }
  protected aborted(): void {
    this.events.push('aborted');
  }
  protected abortCode(): string {
    return 'XD';
  }
  protected stopRequest(): void {}
  protected isRequestDone(): boolean {
    return true;
  }
  protected hasRequestBody(): boolean {
    return false;
  }
  protected isClientGone(): boolean {
    return false;
  }
  protected logged(status: number, code: string): void {
    this.events.push(`logged ${status} ${code}`);
  }
}

function exchange(method = 'GET') {
  const rt = runtime();
  const conns: (FakeConn & { server: string })[] = [];
  fakePools(rt, conns);
  const text = `${method} / HTTP/1.1\r\nHost: x\r\n\r\n`;
  const ex = new Recorder(client, rt, parseRequestHead(b(text), text.indexOf('\r\n\r\n')));
  choose(rt, ex);
  return { rt, ex, conns, active: () => [...rt.byName.values()].map((s: ServerState) => s.active) };
}

test('a response through the shared steps: a 1xx, the head and body across chunks, the connection back to its pool', () => {
  const { ex, conns, rt, active } = exchange();
  ex.onData(b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-'));
  ex.onData(b('Length: 5\r\n\r\nhel'));
  assert.equal(ex.phase, 'response');
  ex.onData(b('lo'));
  assert.deepEqual(ex.events, ['send a', 'interim 100', 'respond 200', 'data hel', 'data lo', 'logged 200 --', 'finished']);
  assert.equal(conns[0].state, 'released');
  assert.deepEqual(active(), [0, 0], 'the server was released');
  assert.equal(rt.state.counters.latencyCount, 1);
});

test('bytes after the end of a response are not forwarded, and that connection is not reused', () => {
  const { ex, conns } = exchange();
  ex.onData(b('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n'));
  assert.deepEqual(ex.events, ['send a', 'respond 200', 'data ok', 'logged 200 --', 'finished']);
  assert.equal(conns[0].state, 'destroyed');
});

test('a 101 nobody asked for is refused with a 502 before anything went out, its connection closed', () => {
  const { ex, conns } = exchange();
  ex.onData(b('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
  assert.equal(ex.events.length, 3, ex.events.join(' | '));
  assert.match(ex.events[1], /^answer 502 closing: The real server sent a response that cannot be forwarded safely: .*\n$/);
  assert.equal(ex.events[2], 'logged 502 PH');
  assert.equal(conns[0].state, 'destroyed');
  assert.equal(ex.phase, 'done');
});

test('a body the server frames wrongly after the response began: the exchange is aborted, never answered', () => {
  const { ex, conns } = exchange();
  ex.onData(b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
  ex.onData(b('zz\r\n'));
  assert.deepEqual(ex.events, ['send a', 'respond 200', 'logged 200 PD', 'aborted']);
  assert.equal(conns[0].state, 'destroyed');
});

test('a server that closes before answering: an idempotent request goes to the other; when both failed, 502', () => {
  const { ex, conns, active } = exchange();
  ex.onClose(undefined);
  assert.deepEqual(ex.events, ['send a', 'send b']);
  assert.equal(ex.retries, 1);
  ex.onClose(undefined);
  assert.equal(ex.events[2], 'answer 502 closing: The real server could not be reached (the server closed the connection).\n');
  assert.equal(ex.events[3], 'logged 502 SC');
  assert.deepEqual(
    conns.map((c) => `${c.server} ${c.state}`),
    ['a destroyed', 'b destroyed'],
  );
  assert.deepEqual(active(), [0, 0]);
});

test('a request that is not idempotent is not retried: the failure is the answer', () => {
  const { ex } = exchange('POST');
  ex.onTimeout();
  assert.deepEqual(ex.events, ['send a', 'answer 504 closing: The real server did not answer in time.\n', 'logged 504 sH']);
});

test('a failure once the response began cuts the exchange (SD), and a choice that comes after the end is released', () => {
  const { ex, rt, active } = exchange();
  ex.onData(b('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart'));
  ex.onClose(new Error('reset'));
  assert.deepEqual(ex.events, ['send a', 'respond 200', 'data part', 'logged 200 SD', 'aborted']);
  const late = rt.byName.get('b')!;
  late.active++;
  ex.done({ server: late, isPersistent: false });
  assert.deepEqual(active(), [0, 0]);
  assert.equal(ex.events.length, 5, 'nothing more happened');
});

test('abort() with no code takes the subclass one', () => {
  const { ex } = exchange();
  ex.abort();
  assert.deepEqual(ex.events, ['send a', 'logged -1 XD', 'aborted']);
});
