/**
 * `connect` and `send-expect`: open TCP to the target; with `sendExpect`, write the text and wait for the expected
 * text (or regular expression) in what comes back (keepalived's TCP_CHECK, HAProxy's tcp-check send/expect).
 *
 * A passing connect is closed with a reset (SO_LINGER 0, as HAProxy does for checks): a clean close would leave a
 * TIME_WAIT entry on this side per check, and 1,000 checks a second would hold 60,000 of them.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Checker, CheckTarget } from './types.ts';
import { errnoText, result, targetText } from './status.ts';
import type { CheckResult } from './status.ts';

/** How much of the answer a send-expect check reads before it gives up looking. */
const MAX_READ = 64 * 1024;

export const connectCheck: Checker = (t) => runTcp(t);

/**
 * Shared by connect and send-expect: connects, then hands the socket to `onConnected` (the plain connect passes at
 * once). Settles exactly once; every path destroys the socket.
 */
function runTcp(t: CheckTarget): Promise<CheckResult> {
  const started = performance.now();
  const target = targetText(t.address, t.port);
  const se = t.check.sendExpect;
  return new Promise((resolve) => {
    let isDone = false;
    let isConnected = false;
    const socket = net.connect({ host: t.address, port: t.port!, noDelay: true });
    const finish = (r: CheckResult, isReset = true) => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      t.signal?.removeEventListener('abort', onAbort);
      if (isReset && isConnected) socket.resetAndDestroy();
      else socket.destroy();
      resolve(r);
    };
    const elapsed = () => performance.now() - started;
    const timer = setTimeout(() => {
      finish(isConnected
        ? result('L7TOUT', { target, timeoutMs: t.check.timeoutMs }, elapsed())
        : result('L4TOUT', { target, timeoutMs: t.check.timeoutMs }, elapsed()));
    }, t.check.timeoutMs);
    const onAbort = () => finish(result('L4CON', { target, reason: 'the check was stopped' }, elapsed()));
    t.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (isConnected && se) finish(result('L7RSP', { detail: `${target} ${errnoText(e)} before sending the expected text` }, elapsed()), false);
      else finish(result('L4CON', { target, reason: errnoText(e) }, elapsed()), false);
    });
    socket.once('connect', () => {
      isConnected = true;
      if (!se) return finish(result('L4OK', { target }, elapsed()));
      expectText(socket, se, target, (r) => finish(r(elapsed())));
    });
  });
}

function expectText(
  socket: net.Socket,
  se: NonNullable<CheckTarget['check']['sendExpect']>,
  target: string,
  done: (r: (ms: number) => CheckResult) => void,
): void {
  const matcher = se.isRegex ? new RegExp(se.expect) : undefined;
  let text = '';
  const quoted = JSON.stringify(se.expect.length > 60 ? `${se.expect.slice(0, 60)}…` : se.expect);
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
    if (matcher ? matcher.test(text) : text.includes(se.expect)) {
      return done((ms) => result('L7OK', { detail: `${target} answered with the expected ${se.isRegex ? 'pattern' : 'text'} ${quoted}` }, ms));
    }
    if (text.length >= MAX_READ) {
      done((ms) => result('L7RSP', { detail: `${target} sent ${MAX_READ} bytes without the expected ${se.isRegex ? 'pattern' : 'text'} ${quoted}` }, ms));
    }
  });
  socket.on('end', () => {
    const got = text.length === 0 ? 'nothing' : JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
    done((ms) => result('L7RSP', { detail: `${target} closed the connection after sending ${got}, without the expected ${se.isRegex ? 'pattern' : 'text'} ${quoted}` }, ms));
  });
  if (se.send) socket.write(se.send, 'latin1');
}
