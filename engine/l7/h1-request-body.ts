/**
 * An HTTP/1.1 request body on its way to the real server: framed as RequestBody (framing.ts) decides, written as it
 * comes (never buffered whole), the client paused while the server cannot take more, and its minimum rate judged
 * (slow-client.ts) from the moment it may flow.
 */
import type net from 'node:net';
import type { Layer7Options } from '../config/index.ts';
import { RequestBody } from './framing.ts';
import type { RequestHead } from './http-codec.ts';
import { own, pauseReading, resumeReading, isReadingPaused } from './reader.ts';
import type { ServerState } from './service.ts';
import { bodyRateGuard, type BodyRateGuard } from './slow-client.ts';
import { writeDirect } from './writer.ts';

export class BodyPump extends RequestBody {
  /** Some of the body went to the server (a retry is then unsafe). */
  isSent = false;
  private rate: BodyRateGuard | null = null;

  /** From now on the body's rate is judged (not while the proxy holds the client back); `onSlow` when too slow. */
  startRate(l7: Pick<Layer7Options, 'limits' | 'timeouts'>, head: RequestHead, client: net.Socket, onSlow: () => void): void {
    this.rate = bodyRateGuard(l7, head, () => isReadingPaused(client), onSlow);
  }

  /**
   * Writes the body's part of `chunk` (borrowed) to `upstream` and returns its length (what follows belongs to the
   * next request). While the server's socket is full the client is not read; it is read again on 'drain' if
   * `owner` is still in its body phase. Throws HttpParseError (RequestBody.take).
   */
  forward(chunk: Buffer, client: net.Socket, upstream: net.Socket, server: ServerState, owner: { readonly phase: string }): number {
    const take = this.take(chunk);
    const rate = this.rate;
    rate?.add(take);
    if (take > 0) {
      this.isSent = true;
      server.counters.bytesIn += take;
      const isOk = writeDirect(upstream, own(take === chunk.length ? chunk : chunk.subarray(0, take)));
      if (!isOk && !this.isDone) {
        rate?.hold();
        pauseReading(client);
        upstream.once('drain', () => {
          if (owner.phase === 'body') resumeReading(client);
        });
      }
    }
    if (this.isDone) rate?.stop();
    return take;
  }

  stop(): void {
    this.rate?.stop();
  }
}
