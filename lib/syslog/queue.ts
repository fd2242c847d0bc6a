/**
 * The syslog forwarder's queue on disk, in the data directory: it keeps what is not yet handed to the syslog server
 * across an outage of that server and across a console restart, in order.
 *
 *   syslog-queue.jsonl   one record a line: {"seq":N,"src":"audit:17","msg":"<133>1 ..."}; seq grows by one
 *   syslog-queue.ack     the highest seq handed to the transport (everything up to it is done)
 *
 * Appends go to the end of the file; an ack rewrites the small ack file (write, then rename, so it is whole or the
 * old one). When the acknowledged part is most of the file, the file is rewritten with only what is pending (again
 * by rename); a crash between the two renames leaves records that the ack already covers, which load skips, so no
 * record is sent twice. A last line cut by a crash mid-append is dropped on load (it was never acknowledged to the
 * producer: `append` had not returned).
 *
 * Bounded: at most `maxMessages` pending. Appending beyond that drops the oldest pending records (counted in
 * `dropped`, and the forwarder logs it): a syslog server gone for weeks must not fill the appliance's disk.
 *
 * `src` names the row a record came from; the forwarder takes its cursors from the newest record's sources on load,
 * so a crash between appending and saving its cursor does not enqueue a row twice.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface QueueRecord {
  seq: number;
  src: string;
  msg: string;
}

export interface QueueOptions {
  dir: string;
  maxMessages: number;
}

export class DiskQueue {
  readonly file: string;
  readonly ackFile: string;
  private pending: QueueRecord[] = [];
  private acked = 0;
  private lastSeq = 0;
  private linesInFile = 0;
  dropped = 0;
  maxMessages: number;

  constructor(opts: QueueOptions) {
    this.file = path.join(opts.dir, 'syslog-queue.jsonl');
    this.ackFile = path.join(opts.dir, 'syslog-queue.ack');
    this.maxMessages = opts.maxMessages;
    this.load();
  }

  private load(): void {
    this.acked = fs.existsSync(this.ackFile) ? Number(fs.readFileSync(this.ackFile, 'utf8').trim()) || 0 : 0;
    this.lastSeq = this.acked;
    if (!fs.existsSync(this.file)) return;
    const text = fs.readFileSync(this.file, 'utf8');
    const lines = text.split('\n');
    // The last element is '' after a whole final line, or a cut line after a crash mid-append: either way not a record.
    lines.pop();
    for (const line of lines) {
      let r: QueueRecord;
      try {
        r = JSON.parse(line) as QueueRecord;
      } catch {
        continue;
      }
      this.linesInFile++;
      if (r.seq > this.lastSeq) this.lastSeq = r.seq;
      if (r.seq > this.acked) this.pending.push(r);
    }
    if (!text.endsWith('\n') && text.length) this.compact();
  }

  get size(): number {
    return this.pending.length;
  }

  /** The sources of every record in the file, acknowledged or not, newest last (for the forwarder's cursors). */
  sources(): string[] {
    if (!fs.existsSync(this.file)) return [];
    return fs
      .readFileSync(this.file, 'utf8')
      .split('\n')
      .flatMap((l) => {
        try {
          return [(JSON.parse(l) as QueueRecord).src];
        } catch {
          return [];
        }
      });
  }

  /** Appends records in order; returns once they are in the file. */
  append(items: readonly { src: string; msg: string }[]): void {
    if (!items.length) return;
    const records = items.map((i) => ({ seq: ++this.lastSeq, src: i.src, msg: i.msg }));
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    fs.appendFileSync(this.file, records.map((r) => JSON.stringify(r) + '\n').join(''), { mode: 0o600 });
    this.linesInFile += records.length;
    this.pending.push(...records);
    const over = this.pending.length - this.maxMessages;
    if (over > 0) {
      this.dropped += over;
      this.ack(this.pending[over - 1].seq);
    }
  }

  /** The oldest pending records, at most `n`. */
  peek(n: number): QueueRecord[] {
    return this.pending.slice(0, n);
  }

  /** Everything up to and including `seq` is done. */
  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = seq;
    let i = 0;
    while (i < this.pending.length && this.pending[i].seq <= seq) i++;
    this.pending.splice(0, i);
    const tmp = `${this.ackFile}.tmp`;
    fs.writeFileSync(tmp, String(seq), { mode: 0o600 });
    fs.renameSync(tmp, this.ackFile);
    if (this.linesInFile > 1000 && this.pending.length * 2 < this.linesInFile) this.compact();
    else if (this.pending.length === 0 && this.linesInFile > 0) this.compact();
  }

  /** Rewrites the file with only the pending records, keeping the newest record (so `sources` still names it). */
  private compact(): void {
    const keep = this.pending.length ? this.pending : this.newestRecord();
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, keep.map((r) => JSON.stringify(r) + '\n').join(''), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.linesInFile = keep.length;
  }

  private newestRecord(): QueueRecord[] {
    if (!fs.existsSync(this.file)) return [];
    const lines = fs.readFileSync(this.file, 'utf8').split('\n').filter(Boolean);
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        return [JSON.parse(lines[i]) as QueueRecord];
      } catch {
        /* a cut line */
      }
    }
    return [];
  }
}
