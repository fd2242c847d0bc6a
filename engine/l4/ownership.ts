/**
 * What the engine created in the kernel, recorded in the data directory (l4-owned.json, mode 0600). The engine only
 * changes or removes what this record names, so an operator's own ipvsadm services and addresses are never touched,
 * and a restart knows what it may reconcile. Written before the kernel is changed (write-ahead): a crash between the
 * two leaves a record that names something absent, which the next reconcile simply re-creates or forgets.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface OwnedVip {
  address: string;
  prefix: number;
  interface: string;
}

export interface OwnershipRecord {
  version: 1;
  /** IPVS service keys (model.ts serviceKey). */
  services: string[];
  vips: OwnedVip[];
  /** Whether the nftables table inet fulcrum_l4 is ours (we created it). */
  hasNftTable: boolean;
  /** Service key → "virtual service" name, so `fulcrumctl show` can name what it shows. */
  labels?: Record<string, string>;
}

const OWNERSHIP_FILE = 'l4-owned.json';

/** A Set / Map that counts its changes, so save() knows without serialising 1,000 keys whether anything changed. */
class CountingSet<T> extends Set<T> {
  changes = 0;
  override add(v: T): this {
    if (!this.has(v)) this.changes++;
    return super.add(v);
  }
  override delete(v: T): boolean {
    const had = super.delete(v);
    if (had) this.changes++;
    return had;
  }
}
class CountingMap<K, V> extends Map<K, V> {
  changes = 0;
  override set(k: K, v: V): this {
    if (this.get(k) !== v) this.changes++;
    return super.set(k, v);
  }
}

export class Ownership {
  readonly file: string;
  readonly services = new CountingSet<string>();
  vips: OwnedVip[];
  hasNftTable: boolean;
  readonly labels = new CountingMap<string, string>();

  constructor(dataDir: string) {
    this.file = path.join(dataDir, OWNERSHIP_FILE);
    const rec = Ownership.read(this.file);
    for (const k of rec.services) this.services.add(k);
    this.vips = rec.vips;
    this.hasNftTable = rec.hasNftTable;
    for (const [k, v] of Object.entries(rec.labels ?? {})) this.labels.set(k, v);
    if (fs.existsSync(this.file)) {
      this.written = this.serialise();
      this.savedAt = this.fingerprint();
    }
  }

  static read(file: string): OwnershipRecord {
    try {
      const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as OwnershipRecord;
      if (rec.version !== 1 || !Array.isArray(rec.services)) throw new Error(`unknown format in ${file}`);
      return { version: 1, services: rec.services, vips: rec.vips ?? [], hasNftTable: !!rec.hasNftTable, labels: rec.labels ?? {} };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, services: [], vips: [], hasNftTable: false };
      throw e;
    }
  }

  private written: string | undefined;

  /** Atomic replace: write a temporary file, fsync, rename. Skipped when nothing changed since the last write. */
  private serialise(): string {
    const services = [...this.services].sort();
    const labels = Object.fromEntries(services.filter((k) => this.labels.has(k)).map((k) => [k, this.labels.get(k)!]));
    const rec: OwnershipRecord = { version: 1, services, vips: this.vips, hasNftTable: this.hasNftTable, labels };
    return JSON.stringify(rec, null, 1);
  }

  private savedAt: string | undefined;
  private fingerprint(): string {
    return `${this.services.changes}|${this.labels.changes}|${JSON.stringify(this.vips)}|${this.hasNftTable}`;
  }

  save(): void {
    const fp = this.fingerprint();
    if (fp === this.savedAt) return;
    this.savedAt = fp;
    const text = this.serialise();
    if (text === this.written) return;
    if (this.written === undefined && this.services.size === 0 && this.vips.length === 0 && !this.hasNftTable && !fs.existsSync(this.file)) {
      this.written = text;
      return;
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    this.written = text;
  }
}
