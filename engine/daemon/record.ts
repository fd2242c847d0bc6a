/**
 * The engine's record of what it runs (the data directory, owner-only), read at start so a restarted engine
 * reconciles to what the console was told runs. Two files:
 *
 *   engine-running.json      a whole record: the configuration (canonical JSON, private keys sealed), its version,
 *                            hash and time, and `seq`, the last journal entry it already holds. Written to a
 *                            temporary file and renamed over the old one: a kill leaves one or the other, whole.
 *   engine-running.journal   one line per change since: the services that changed (by name, their canonical text),
 *                            the ones removed, the order when it changed, the other fields, the version. Appended.
 *
 * An apply that changes one service of 1,000 appends about a kilobyte instead of rewriting 600 KB (and ext4's
 * rename over an existing file allocates and starts writing the whole new file there and then: most of the 3 ms
 * that rewrite still took). A line counts only whole (ending in a newline, parsing, the next seq); a torn or failed
 * one ends the replay there, which is the state recorded before it, and the next write is a whole record again.
 * The journal is folded into a new whole record once it outgrows half of one (and 256 KB).
 */
import fs from 'node:fs';
import { canonicalJson, canonicalParts } from '../canonical.ts';
import type { Config, VirtualService } from '../config/index.ts';

const JOURNAL_MIN_BYTES = 256 * 1024;

/** What the record holds: the configuration as written (JSON not parsed yet, private keys sealed), and its apply. */
export interface Recorded {
  version: number;
  hash: string;
  appliedAt: string;
  config: Config;
}

interface Entry {
  seq: number;
  version: number;
  hash: string;
  appliedAt: string;
  /** The configuration's fields other than its services, when they changed. */
  fields?: Record<string, unknown>;
  services: Record<string, unknown>;
  removed: string[];
  /** Every service's name in order, when the order or the set changed. */
  order?: string[];
}

/** What was last written, to tell the next write what changed (by object: parsed services are shared and frozen). */
interface Written {
  seq: number;
  names: string[];
  byName: Map<string, VirtualService>;
  /** The canonical text of the other fields, private keys as they run (sealing gives another text every time). */
  fieldsText: string;
  journalBytes: number;
  wholeBytes: number;
}

export class RunningRecord {
  private readonly journalPath: string;
  /** null: the next write is a whole record (the first one after a start, or after a failed write). */
  private written: Written | null = null;
  /**
   * The highest seq read or tried: a whole record gets a higher one, so entries an earlier engine left in a journal it
   * did not get to remove (or a failed write left) are never replayed over it.
   */
  private seq = 0;

  constructor(private readonly path: string) {
    this.journalPath = path.replace(/\.json$/, '.journal');
  }

  /**
   * The recorded configuration and apply, or null if there is no record. Throws if the whole record is unreadable.
   * The journal's seqs are read first, whatever the whole record's state: a whole record written after this (when
   * there was none, or it could not be read) must still get a seq above every entry left in the journal, or a kill
   * before that journal's removal would have them replayed over a record they never belonged to.
   */
  read(): Recorded | null {
    const entries = this.journalEntries();
    for (const e of entries) this.seq = Math.max(this.seq, e.seq);
    if (!fs.existsSync(this.path)) return null;
    const whole = JSON.parse(fs.readFileSync(this.path, 'utf8')) as Recorded & { seq?: number };
    let seq = whole.seq ?? 0;
    this.seq = Math.max(this.seq, seq);
    const { virtualServices, ...fields } = whole.config;
    let rest: object = fields;
    const byName = new Map((virtualServices as { name: string }[]).map((vs) => [vs.name, vs as unknown]));
    let order = [...byName.keys()];
    let last: Omit<Recorded, 'config'> = whole;
    for (const e of entries) {
      if (e.seq <= seq) continue; // already in the whole record (written before this journal was removed)
      if (e.seq !== seq + 1) break; // not the next one: the replay ends here
      seq = e.seq;
      if (e.fields) rest = e.fields;
      for (const name of e.removed) byName.delete(name);
      for (const [name, vs] of Object.entries(e.services)) byName.set(name, vs);
      if (e.order) order = e.order;
      last = { version: e.version, hash: e.hash, appliedAt: e.appliedAt };
    }
    const config = { ...rest, virtualServices: order.map((n) => byName.get(n)) } as Config;
    return { version: last.version, hash: last.hash, appliedAt: last.appliedAt, config };
  }

  /** The journal's whole entries, up to the first that is torn or failed (what follows the last newline never counts). */
  private journalEntries(): Entry[] {
    let text = '';
    try {
      text = fs.readFileSync(this.journalPath, 'utf8');
    } catch {
      return []; // no journal: the whole record is all there is
    }
    const entries: Entry[] = [];
    for (const line of text.split('\n').slice(0, -1)) {
      try {
        entries.push(JSON.parse(line) as Entry);
      } catch {
        break;
      }
    }
    return entries;
  }

  /**
   * Records `running` (its configuration `sealed`: private keys sealed, the same services otherwise), as a journal
   * entry of what changed since the last write or as a whole record. `parts`: canonicalParts of `sealed` when the
   * caller has them. Throws if it could not be written; the record then still says what it said before.
   */
  write(running: { version: number; hash: string; appliedAt: string; config: Config }, sealed: Config, parts?: readonly string[]): void {
    const w = this.written;
    this.written = null; // until this write is known to have landed
    const names = running.config.virtualServices.map((vs) => vs.name);
    const byName = new Map(running.config.virtualServices.map((vs) => [vs.name, vs]));
    const { virtualServices: _, ...fields } = running.config;
    const fieldsText = canonicalJson(fields)!;
    if (w === null || w.journalBytes > Math.max(JOURNAL_MIN_BYTES, w.wholeBytes / 2)) {
      const seq = ++this.seq;
      const wholeBytes = this.writeWhole(running, parts ?? canonicalParts(sealed), seq);
      let journalBytes = 0;
      try {
        fs.rmSync(this.journalPath, { force: true });
      } catch {
        // Recorded all the same: every entry left in it has a lower seq than this record, so none is replayed. The
        // next write is a whole record again, which tries again.
        journalBytes = Number.MAX_SAFE_INTEGER;
      }
      this.written = { seq, names, byName, fieldsText, journalBytes, wholeBytes };
      return;
    }
    this.seq = w.seq + 1;
    const line = `${this.entryText(w, running, w.fieldsText === fieldsText ? null : sealed, names, byName)}\n`;
    const bytes = Buffer.from(line);
    const fd = fs.openSync(this.journalPath, 'a', 0o600);
    try {
      for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at);
    } catch (e) {
      // A part of the line may be there (a disk filling up): cut it off; if that fails too, the replay stops at it
      // and this.written stays null, so the next write is a whole record.
      try {
        fs.ftruncateSync(fd, w.journalBytes);
      } catch {
        // as above
      }
      throw e;
    } finally {
      fs.closeSync(fd);
    }
    this.written = { seq: w.seq + 1, names, byName, fieldsText, journalBytes: w.journalBytes + bytes.length, wholeBytes: w.wholeBytes };
  }

  /**
   * The journal entry from what `w` wrote to `running`: the services that are other objects, the order if it moved,
   * the other fields (from `sealed`) if they changed (`sealed` null: they did not).
   */
  private entryText(
    w: Written,
    running: { version: number; hash: string; appliedAt: string },
    sealed: Config | null,
    names: string[],
    byName: Map<string, VirtualService>,
  ): string {
    const services: string[] = [];
    for (const [name, vs] of byName) if (w.byName.get(name) !== vs) services.push(`${JSON.stringify(name)}:${canonicalJson(vs)}`);
    const removed = w.names.filter((n) => !byName.has(n));
    const isSameOrder = names.length === w.names.length && names.every((n, i) => n === w.names[i]);
    const head = JSON.stringify({ seq: w.seq + 1, version: running.version, hash: running.hash, appliedAt: running.appliedAt, removed });
    const order = isSameOrder ? '' : `,"order":${JSON.stringify(names)}`;
    let fields = '';
    if (sealed) {
      const { virtualServices: _, ...rest } = sealed;
      fields = `,"fields":${canonicalJson(rest)}`;
    }
    return `${head.slice(0, -1)}${fields},"services":{${services.join(',')}}${order}}`;
  }

  /** The whole record, through a temporary file renamed over the old one; its size in bytes. */
  private writeWhole(running: { version: number; hash: string; appliedAt: string }, parts: readonly string[], seq: number): number {
    const tmp = `${this.path}.tmp`;
    const head = JSON.stringify({ version: running.version, hash: running.hash, appliedAt: running.appliedAt, seq });
    const fd = fs.openSync(tmp, 'w', 0o600);
    let size = 0;
    try {
      size = writePieces(fd, ['{"config":', ...parts, ',', head.slice(1)]);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.path);
    return size;
  }
}

/**
 * Writes `pieces` in order, about 64 KB at a time: not one string joined of them all (at 1,000 services that took
 * about twice the time of the write itself), nor a system call per piece. All of it or an error: a short write (a
 * disk filling up) must not be renamed into place as the record. Returns the bytes written.
 */
function writePieces(fd: number, pieces: readonly string[]): number {
  let batch: string[] = [];
  let size = 0;
  let total = 0;
  const flush = () => {
    const bytes = Buffer.from(batch.join(''));
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at);
    total += bytes.length;
    batch = [];
    size = 0;
  };
  for (const p of pieces) {
    batch.push(p);
    size += p.length;
    if (size >= 64 * 1024) flush();
  }
  flush();
  return total;
}
